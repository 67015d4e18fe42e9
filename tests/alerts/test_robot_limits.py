"""The WeCom group robot's limits, against a real receiver on loopback: at most 20 messages a
minute per robot, markdown of at most 4096 bytes; bursts merged, long text cut with its link,
nothing lost."""

import json
import re
from datetime import timedelta

import pytest
from django.utils import timezone

from custos.alerts import delivery, services
from custos.alerts.models import Alert, Delivery, RobotPost, Webhook

from .conftest import message_event


@pytest.fixture
def robot(company, receiver):
    r = receiver(fail=0)
    services.create_webhook(actor=company.admin, unit=company.hq, name="店长群", kind=Webhook.Kind.WECOM,
                            url=r.url + "?key=robot-key")  # fmt: skip
    return r


def contents(r) -> list[str]:
    out = []
    for request in r.requests:
        body = json.loads(request["body"])
        assert body["msgtype"] == "markdown" and set(body) == {"msgtype", "markdown"}
        out.append(body["markdown"]["content"])
    return out


def linked(text: str) -> list[int]:
    return [int(n) for n in re.findall(r"/alerts/(\d+)/\)", text)]


def burst(company, send, capture, n: int, *, start: int = 0) -> list[Alert]:
    """n alerts in one transaction: n customers told the same thing at once."""
    with capture(execute=True):
        send(*(message_event(company.sales_a, "这单咱们私下交易", contact=f"wm_burst_{start + i}") for i in range(n)))
    return list(Alert.objects.filter(contact__startswith="wm_burst_").order_by("pk"))


def every_alert_told_once(r):
    told = [a for text in contents(r) for a in linked(text)]
    assert sorted(told) == sorted(Alert.objects.values_list("pk", flat=True)), "every alert once, none lost"
    assert all(len(text.encode()) <= delivery.ROBOT_MAX_BYTES for text in contents(r))
    assert not Delivery.objects.exclude(state="delivered").exists()


def test_a_burst_is_merged_into_summaries_within_4096_bytes(company, send, robot, django_capture_on_commit_callbacks):
    alerts = burst(company, send, django_capture_on_commit_callbacks, 70)
    assert len(alerts) == 70
    texts = contents(robot)
    assert 2 <= len(texts) <= 4, "seventy alerts in a few messages, not seventy"
    assert len(texts[0].encode()) > 3000, "the first summary is filled before a second is sent"
    assert "more alerts follow" in texts[0] or "条告警稍后发送" in texts[0]
    every_alert_told_once(robot)
    assert RobotPost.objects.count() == len(texts)


def test_over_20_a_minute_waits_and_goes_in_the_next_summary(company, send, robot, django_capture_on_commit_callbacks):
    for i in range(25):  # one at a time: each its own transaction, its own message while the minute allows
        burst(company, send, django_capture_on_commit_callbacks, 1, start=i)
    assert len(robot.requests) == 20, "the robot's minute is full after 20"
    held = Delivery.objects.filter(state="pending")
    assert held.count() == 5
    first = RobotPost.objects.order_by("sent_at").first().sent_at
    assert all(d.next_attempt_at >= first + timedelta(seconds=60) for d in held), "held until the minute frees"
    assert delivery.send_due() == {"delivered": 0, "pending": 0, "failed": 0}  # not due yet
    assert len(robot.requests) == 20
    delivery.send_due(now=timezone.now() + timedelta(seconds=61))
    assert len(robot.requests) == 21
    summary = contents(robot)[-1]
    assert len(linked(summary)) == 5 and "5" in summary.splitlines()[0]
    every_alert_told_once(robot)


def test_a_robot_that_failed_gets_everything_in_its_next_message(company, send, receiver, django_capture_on_commit_callbacks):
    r = receiver(fail=1)
    services.create_webhook(actor=company.admin, unit=company.hq, name="群", kind=Webhook.Kind.WECOM, url=r.url)
    burst(company, send, django_capture_on_commit_callbacks, 3)
    assert len(r.requests) == 1 and Delivery.objects.filter(state="pending", attempts=1).count() == 3
    burst(company, send, django_capture_on_commit_callbacks, 1, start=3)  # the next alert: one message, all four
    assert len(r.requests) == 2
    assert sorted(linked(contents(r)[1])) == sorted(Alert.objects.values_list("pk", flat=True))
    assert Delivery.objects.filter(state="delivered").count() == 4


def test_a_long_text_is_cut_at_a_character_and_keeps_its_link(company, send, robot, settings, monkeypatch,
                                                               django_capture_on_commit_callbacks):  # fmt: skip
    settings.CUSTOS_BASE_URL = "https://custos.example.com"
    monkeypatch.setattr(delivery, "ROBOT_MAX_BYTES", 200)  # the real limit, smaller: a Chinese text passes it
    [alert] = burst(company, send, django_capture_on_commit_callbacks, 1)
    Alert.objects.filter(pk=alert.pk).update(summary="私下交易" * 70)  # seen by the next message
    [text] = contents(robot)
    assert len(text.encode()) <= 200
    assert text.endswith(f"(https://custos.example.com/alerts/{alert.pk}/)")
    text.encode().decode("utf-8")  # whole characters only


def test_fit_cuts_at_a_utf8_boundary():
    link = "[查看](https://custos.example.com/alerts/7/)"
    for size in range(60, 400, 7):
        text = "这是一段很长的告警内容，包含中文、emoji 🧧 和 English。\n" * 50
        cut = delivery.fit(text, size, link)
        assert len(cut.encode()) <= size and cut.endswith(link), size
        assert "\ufffd" not in cut
    assert delivery.fit("短", 4096, link) == "短"


def test_a_summary_fits_the_limit_whatever_the_alerts(company):
    from custos.alerts.models import Alert as A

    now = timezone.now()
    alerts = [
        A(pk=i, rule="sensitive_words", category="private_deal", severity="high", unit=company.store_a,
          employee=company.sales_a, summary="字" * 300, dedupe_key=str(i), raised_at=now, last_seen_at=now)
        for i in range(1, 120)
    ]  # fmt: skip
    for n in (2, 20, 30, 41, 60, 119):
        for name in ("员工7", "员工458", "一个名字很长很长很长的员工" * 3):
            company.sales_a.name = name
            text, shown = delivery.robot_message(alerts[:n])
            assert len(text.encode()) <= 4096 and 1 <= shown <= n
            assert linked(text) == list(range(1, shown + 1))
            assert "\n…\n" not in text, "a summary ends with its own footer, never cut"
            said = text.splitlines()[-2]
            assert ("follow" in said or "稍后发送" in said) == (shown < n), "the rest are said to follow"
    text, shown = delivery.robot_message(alerts[:2], limit=90)
    assert len(text.encode()) <= 90 and shown == 1
