"""Webhook deliveries against a real local receiver that fails first, then recovers."""

import base64
import hashlib
import hmac
import json
import threading
import urllib.parse
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.utils import timezone

from custos.alerts import delivery, services
from custos.alerts.models import Alert, Delivery, Webhook

from .conftest import message_event


class Receiver:
    """An HTTP server in a thread: answers 500 `fail` times, then 200 with `answer`."""

    def __init__(self, fail=1, answer=b'{"errcode":0,"errmsg":"ok"}'):
        self.fail, self.answer, self.requests = fail, answer, []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
                ok = len(receiver.requests) > receiver.fail
                self.send_response(200 if ok else 500)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(receiver.answer if ok else b"down")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def _raise(company, send, capture):
    with capture(execute=True):
        send(message_event(company.sales_a, "这单咱们私下交易"))
    return Alert.objects.get(rule="sensitive_words", category="private_deal")


def _retry(times=1):
    later = timezone.now()
    for _ in range(times):
        later += timedelta(hours=2)
        delivery.send_due(now=later)


def test_generic_webhook_retried_until_delivered_once(
    company, send, receiver, django_capture_on_commit_callbacks
):
    r = receiver(fail=2)
    hook = services.create_webhook(actor=company.admin, unit=company.hq, name="SIEM", kind=Webhook.Kind.GENERIC,
                                   url=r.url, secret="s3cret-key")  # fmt: skip
    alert = _raise(company, send, django_capture_on_commit_callbacks)
    rows = list(Delivery.objects.filter(webhook=hook))
    assert len(rows) >= 1 and all(d.alert_id for d in rows)
    d = Delivery.objects.get(webhook=hook, alert=alert)
    assert (
        d.state == "pending" and d.attempts == 1 and "500" in d.last_error
    )  # sent at once after commit, failed
    delivery.send_due()  # not due yet: backoff
    assert len(r.requests) == len(rows)
    _retry(2)
    d.refresh_from_db()
    assert d.state == "delivered" and d.attempts == 3
    _retry(2)  # nothing more is sent once delivered
    ok = [q for q in r.requests if json.loads(q["body"])["alert"]["id"] == alert.pk]
    assert len(ok) == 3  # two failures, one success
    last = ok[-1]
    body = json.loads(last["body"])
    assert body["event"] == "alert.raised" and body["alert"]["rule"] == "sensitive_words"
    stamp = last["headers"]["X-Custos-Timestamp"]
    expected = (
        "sha256=" + hmac.new(b"s3cret-key", stamp.encode() + b"." + last["body"], hashlib.sha256).hexdigest()
    )
    assert last["headers"]["X-Custos-Signature"] == expected


def test_wecom_and_dingtalk_formats(company, send, receiver, django_capture_on_commit_callbacks):
    wecom, ding = receiver(fail=0), receiver(fail=1)
    services.create_webhook(actor=company.region_manager, unit=company.south, name="企业微信群",
                            kind=Webhook.Kind.WECOM, url=wecom.url + "?key=abc")  # fmt: skip
    services.create_webhook(actor=company.admin, unit=company.hq, name="钉钉群", kind=Webhook.Kind.DINGTALK,
                            url=ding.url + "?access_token=t0k", secret="SECabc", min_severity="high")  # fmt: skip
    _raise(company, send, django_capture_on_commit_callbacks)
    n = Alert.objects.filter(severity="high").count()
    assert len(wecom.requests) == Alert.objects.count()
    body = json.loads(wecom.requests[0]["body"])
    assert body["msgtype"] == "markdown" and "content" in body["markdown"]
    assert company.sales_a.name in body["markdown"]["content"]
    _retry()
    assert Delivery.objects.filter(webhook__kind="dingtalk", state="delivered").count() == n
    last = ding.requests[-1]
    body = json.loads(last["body"])
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] and body["markdown"]["text"]
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(last["path"]).query)
    stamp = query["timestamp"][0]
    expected = base64.b64encode(
        hmac.new(b"SECabc", f"{stamp}\nSECabc".encode(), hashlib.sha256).digest()
    ).decode()
    assert query["sign"] == [expected] and query["access_token"] == ["t0k"]


def test_a_robot_error_code_is_a_failure(company, send, receiver, django_capture_on_commit_callbacks):
    r = receiver(fail=0, answer=b'{"errcode":93000,"errmsg":"invalid webhook url"}')
    services.create_webhook(
        actor=company.admin, unit=company.hq, name="bad", kind=Webhook.Kind.WECOM, url=r.url
    )
    _raise(company, send, django_capture_on_commit_callbacks)
    d = Delivery.objects.first()
    assert d.state == "pending" and "93000" in d.last_error


def test_nothing_sent_when_the_alert_rolls_back(company, send, receiver, django_capture_on_commit_callbacks):
    r = receiver(fail=0)
    services.create_webhook(
        actor=company.admin, unit=company.hq, name="x", kind=Webhook.Kind.GENERIC, url=r.url, secret="k"
    )
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        send(message_event(company.sales_a, "这单咱们私下交易"))
    assert callbacks and not r.requests  # queued for after commit, nothing sent inside the transaction


def test_secrets_encrypted_at_rest_and_masked(company, api):
    client = api(company.admin)
    r = client.post("webhooks", {"unit_id": company.hq.pk, "name": "SIEM", "kind": "generic",
                                 "url": "https://hooks.example.com/custos/abcdef123456", "secret": "top-secret"})  # fmt: skip
    assert r.status_code == 201
    assert "abcdef123456" not in r.content.decode() and "top-secret" not in r.content.decode()
    hook = Webhook.objects.get()
    assert "abcdef123456" not in hook.url_encrypted and "top-secret" not in hook.secret_encrypted
    assert services.open_secret(hook) == "top-secret"
    assert api(company.manager_b).get("webhooks").json() == []
    bad = client.post(
        "webhooks",
        {"unit_id": company.hq.pk, "name": "x", "kind": "generic", "url": "ftp://x/y", "secret": "k"},
    )
    assert bad.status_code == 400


def test_a_notice_reaches_each_kind_of_webhook_alone_and_is_retried(
    company, send, receiver, django_capture_on_commit_callbacks
):
    wecom, ding, generic = receiver(fail=0), receiver(fail=1), receiver(fail=0)
    services.create_webhook(actor=company.region_manager, unit=company.south, name="企业微信群",
                            kind=Webhook.Kind.WECOM, url=wecom.url + "?key=abc")  # fmt: skip
    services.create_webhook(actor=company.admin, unit=company.hq, name="SIEM", kind=Webhook.Kind.GENERIC,
                            url=generic.url, secret="s3cret-key", min_severity="high")  # fmt: skip
    services.create_webhook(actor=company.manager_b, unit=company.store_b, name="B店群",
                            kind=Webhook.Kind.WECOM, url=wecom.url + "?key=store-b")  # fmt: skip
    _raise(company, send, django_capture_on_commit_callbacks)  # alerts sent to the robot before the notice
    services.create_webhook(actor=company.admin, unit=company.hq, name="钉钉群", kind=Webhook.Kind.DINGTALK,
                            url=ding.url + "?access_token=t0k", secret="SECabc")  # fmt: skip
    before = len(wecom.requests)
    with django_capture_on_commit_callbacks(execute=True):
        rows = services.notify(
            unit_id=company.store_a.pk, title="公海回收提醒", text="> 3 位客户将在 7 天后收回公海",
            link="http://custos.example/pool/",
        )  # fmt: skip
    # store A's chain: the region's robot and HQ's DingTalk; not store B's, not the high-only SIEM
    assert {r.webhook.name for r in rows} == {"企业微信群", "钉钉群"}
    assert len(wecom.requests) == before + 1
    content = json.loads(wecom.requests[-1]["body"])["markdown"]["content"]
    assert content.startswith("### 公海回收提醒") and "3 位客户" in content and "http://custos.example/pool/" in content
    assert not any("key=store-b" in r["path"] for r in wecom.requests)
    ding_row = Delivery.objects.get(webhook__kind="dingtalk", alert__isnull=True)
    assert ding_row.state == "pending" and ding_row.attempts == 1  # the receiver failed once
    _retry()
    ding_row.refresh_from_db()
    assert ding_row.state == "delivered"
    body = json.loads(ding.requests[-1]["body"])
    assert body["markdown"]["title"] == "公海回收提醒" and "3 位客户" in body["markdown"]["text"]
    # a high notice reaches the signed JSON receiver with the notice's fields
    with django_capture_on_commit_callbacks(execute=True):
        services.notify(unit_id=company.store_a.pk, title="周报", text="本周", severity="high", event="insights.weekly")
    sent = json.loads(generic.requests[-1]["body"])
    assert sent["event"] == "insights.weekly" and sent["notice"]["title"] == "周报" and "alert" not in sent
