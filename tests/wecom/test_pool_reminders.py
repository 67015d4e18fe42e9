"""A recycle run's reminders leave Custos: a digest per pool to the unit's robots, and each owner
told in WeCom itself (through the stub's /cgi-bin/message/send), once per run."""

from datetime import timedelta

from django.utils import timezone

from custos.alerts import services as alert_services
from custos.alerts.models import Delivery, Webhook
from custos.customers import activity
from custos.pool import recycle
from custos.pool import services as pool_services
from custos.wecom.models import AppMessage
from tests.alerts.test_webhooks import Receiver
from tests.pool.conftest import days_ago
from tests.pool.conftest import make_customer as _make_customer

make_customer = _make_customer  # the pool tests' fixture, here too


def test_reminders_reach_the_robot_and_each_owner_in_wecom(
    company, synced, make_customer, django_capture_on_commit_callbacks  # noqa: F811
):
    robot = Receiver(fail=0)
    try:
        alert_services.create_webhook(actor=company.manager_a, unit=company.store_a, name="天河店群",
                                      kind=Webhook.Kind.WECOM, url=robot.url + "?key=k")  # fmt: skip
        pool = pool_services.create_pool(actor=company.manager_a, unit=company.store_a, name="天河店公海")
        pool_services.add_rule(actor=company.manager_a, pool=pool, kind="no_follow_up", days=30, remind_days=7)
        mine = [make_customer(company.sales_a, name=f"快到期{i}") for i in range(3)]
        peer = make_customer(company.sales_a_peer, name="同事的客户")
        fresh = make_customer(company.sales_a, name="刚跟进")
        for c in [*mine, peer]:
            activity.add_follow_up(actor=c.owner, customer=c, kind="call", content="回访", occurred_at=days_ago(26))
        activity.add_follow_up(actor=company.sales_a, customer=fresh, kind="call", content="回访", occurred_at=days_ago(1))
        before = len(synced.messages)
        with django_capture_on_commit_callbacks(execute=True):
            report = recycle.run()
        assert report.reminded == 4 and not report.moved

        digests = [d for d in Delivery.objects.filter(alert__isnull=True)]
        assert len(digests) == 1 and digests[0].event == "pool.reminders"
        text = robot.requests[-1]["body"].decode()
        assert "天河店公海" in text and "4" in text
        assert all(c.name in text for c in mine) and "刚跟进" not in text
        assert "138" not in text and "137" not in text  # names and counts, never a phone number

        told = synced.messages[before:]
        by_user = {m["touser"][0]: m["content"] for m in told}
        assert set(by_user) == {company.sales_a.user.username, company.sales_a_peer.user.username}
        assert "3 位客户即将收回公海" in by_user[company.sales_a.user.username]
        assert all(c.name in by_user[company.sales_a.user.username] for c in mine)
        assert "同事的客户" not in by_user[company.sales_a.user.username]
        assert AppMessage.objects.filter(reason__startswith="pool-remind:").count() == 2

        # the next night: the same reminders are not sent again, to the robot or in WeCom
        sent = len(robot.requests), len(synced.messages)
        with django_capture_on_commit_callbacks(execute=True):
            recycle.run(now=timezone.now() + timedelta(hours=20))
        assert (len(robot.requests), len(synced.messages)) == sent
    finally:
        robot.close()
