"""Two `custos serve` processes on one PostgreSQL database and one Redis queue, as behind a load
balancer: signed ingest, logins and alert acknowledgements go to both alternately. Nothing is lost
or duplicated, a session made by one process works on the other, and the signed heads made while
both append stay one chain (`custos ledger verify`)."""

import itertools
import json
import secrets
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest
import requests
from django.contrib.auth.hashers import make_password
from django.db import connection

from custos.access import tokens
from custos.access.models import ApiToken
from custos.alerts.models import Alert
from custos.archive import credentials, signing
from custos.archive.models import Message
from custos.ledger.models import Entry, SignedHead
from tests.conftest import PASSWORD
from tests.scale.conftest import wait_for
from tests.scale.servers import Serve, custos, environment

pytestmark = pytest.mark.postgres_only

INGEST = "/api/v1/ingest/events"


def _database_url() -> str:
    s = connection.settings_dict
    who = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{who}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def servers(company, needs_redis, transactional_db, tmp_path):
    from django.conf import settings

    from custos.core.datadir import data_dir

    env = environment(
        _database_url(),
        str(data_dir()),  # the test's own: the same field keys, secret key and ledger signing key
        needs_redis,
        f"custos-test-{secrets.token_hex(4)}",
        CUSTOS_SECRET_KEY=settings.SECRET_KEY,
        CUSTOS_WORKERS="1",
    )
    started = []
    try:
        for name in ("a", "b"):  # one after the other: each collects the static files first
            started.append(Serve(env, tmp_path / f"serve-{name}.log").wait_ready())
        yield type("Servers", (), {"a": started[0], "b": started[1], "env": env})
    finally:
        for serve in started:
            serve.stop()
        import redis

        r = redis.Redis.from_url(needs_redis)
        for key in r.scan_iter(f"huey.*{env['CUSTOS_HUEY_NAME']}*"):
            r.delete(key)


def _events(run: str, batch: int, size: int = 10) -> list[dict]:
    at = datetime.now(UTC) - timedelta(minutes=5)
    events = []
    for i in range(size):
        text = "这单咱们私下交易，别走公司" if i == 0 else f"您好，第{batch}批第{i}条，新款到了"
        events.append({
            "kind": "message.sent" if i % 2 == 0 else "message.received",
            "source_id": f"{run}-{batch}-{i}",
            "occurred_at": (at + timedelta(seconds=batch * size + i)).isoformat(),
            "payload": {"msgtype": "text", "conversation": f"wm_{run}_{batch}", "contact": f"wm_{run}_{batch}", "text": text},
        })  # fmt: skip
    return events


def _post(base: str, token: str, secret: str, events: list[dict]) -> dict:
    body = json.dumps({"events": events}, ensure_ascii=False).encode()
    headers = {
        **signing.signed_headers(token, secret, "POST", INGEST, body),
        "Content-Type": "application/json",
    }
    r = requests.post(base + INGEST, data=body, headers=headers, timeout=60)
    assert r.status_code == 200, r.text[:300]
    return r.json()


def _login(base: str, username: str) -> requests.Session:
    session = requests.Session()
    session.get(f"{base}/login/", timeout=30)
    r = session.post(f"{base}/login/", timeout=30, allow_redirects=False, data={
        "username": username, "password": PASSWORD, "csrfmiddlewaretoken": session.cookies["csrftoken"],
    })  # fmt: skip
    assert r.status_code == 302 and "sessionid" in session.cookies, r.text[:300]
    return session


def _moved(session: requests.Session) -> requests.Session:
    """The same browser cookies, sent to whichever process the balancer picks."""
    other = requests.Session()
    other.cookies.update(session.cookies)
    return other


def test_two_processes_lose_nothing_duplicate_nothing_share_sessions_and_one_chain(company, servers):
    a, b = servers.a, servers.b
    for person in (company.manager_a, company.admin):
        person.user.password = make_password(PASSWORD, hasher="argon2")  # what production hashes with
        person.user.save(update_fields=["password"])
    _row, device_token, device_secret = credentials.issue(
        actor=company.admin, kind=ApiToken.Kind.DEVICE, name="工作手机", employee=company.sales_a
    )
    _t, api_token = tokens.issue(actor=company.manager_a, kind=ApiToken.Kind.PERSONAL, name="scale")
    run = secrets.token_hex(3)

    # Signed ingest from three phones' worth of threads, each batch to one process and then, as a
    # phone that lost the answer would, again to the other: every event once, every resend a duplicate.
    batches, answers, errors = 24, [], []
    lock = threading.Lock()
    numbers = iter(range(batches))

    def phone():
        try:
            for n in iter(lambda: next(numbers, None), None):
                first, second = (a, b) if n % 2 == 0 else (b, a)
                events = _events(run, n)
                once = _post(first.url, device_token, device_secret, events)
                again = _post(second.url, device_token, device_secret, events)
                with lock:
                    answers.append((once, again))
        except Exception as exc:  # reported below, in the test's thread
            errors.append(repr(exc))

    heads_made = []
    threads = [threading.Thread(target=phone) for _ in range(3)]
    for t in threads:
        t.start()
    for _ in range(3):  # heads signed while both processes append (a cron on any machine)
        made = custos(servers.env, "ledger", "head")
        assert made.returncode == 0, made.stderr
        heads_made.append(json.loads(made.stdout)["size"])
    for t in threads:
        t.join()
    assert not errors, errors[:3]
    assert len(answers) == batches
    assert all(once["accepted"] == 10 and again["duplicates"] == 10 for once, again in answers)
    mine = Entry.objects.filter(source_id__startswith=f"{run}-")
    assert mine.count() == batches * 10
    assert mine.values("source_id").distinct().count() == batches * 10
    assert Message.objects.filter(source_id__startswith=f"{run}-").count() == batches * 10

    # A session made by one process is honoured by the other, and ended there for both
    console_a = _login(a.url, "manager_a")
    assert console_a.get(f"{a.url}/alerts/", timeout=30, allow_redirects=False).status_code == 200
    console_b = _moved(console_a)
    page = console_b.get(f"{b.url}/alerts/", timeout=30, allow_redirects=False)
    assert page.status_code == 200 and company.manager_a.name in page.text

    # Alert acknowledgements, alternately through the API and the console, on both processes;
    # each sent twice (to the other process as well): one acknowledgement each, one refusal.
    alerts = wait_for(lambda: list(Alert.objects.filter(state="open", unit=company.store_a).order_by("pk")))
    assert len(alerts) >= 2
    bearer = {"Authorization": f"Bearer {api_token}"}
    for alert, (first, second), console_turn in zip(
        alerts, itertools.cycle([(a, b), (b, a)]), itertools.cycle([False, True]), strict=False
    ):
        if console_turn:
            sent = [
                _moved(console_a).post(
                    f"{host.url}/alerts/{alert.pk}/acknowledge/",
                    timeout=30,
                    allow_redirects=False,
                    data={"csrfmiddlewaretoken": console_a.cookies["csrftoken"], "reason": "已联系"},
                )  # fmt: skip
                for host in (first, second)
            ]
            assert [r.status_code for r in sent] == [302, 302]  # the second is told it is no longer open
        else:
            # both at the same moment: the row lock lets one through, the other is told 409
            with ThreadPoolExecutor(2) as pool:
                sent = list(pool.map(lambda host, alert=alert: requests.post(
                    f"{host.url}/api/v1/alerts/{alert.pk}/acknowledge", json={"note": "已处理"}, headers=bearer, timeout=30
                ), (first, second)))  # fmt: skip
            assert sorted(r.status_code for r in sent) == [200, 409], [r.text[:200] for r in sent]
    acknowledged = Entry.objects.filter(kind="alert.acknowledged")
    assert acknowledged.count() == len(alerts)
    assert all(a_.state == "acknowledged" for a_ in Alert.objects.filter(pk__in=[x.pk for x in alerts]))

    # Signing out on one process ends the session on the other
    console_b.post(
        f"{b.url}/logout/", timeout=30, data={"csrfmiddlewaretoken": console_a.cookies["csrftoken"]}
    )
    assert console_a.get(f"{a.url}/alerts/", timeout=30, allow_redirects=False).status_code == 302

    # One chain: the heads made meanwhile, and one more now, extend each other; verify re-checks all
    final = custos(servers.env, "ledger", "head")
    assert final.returncode == 0, final.stderr
    sizes = list(SignedHead.objects.order_by("pk").values_list("size", flat=True))
    assert sizes == sorted(sizes) and sizes[-1] == Entry.objects.count()
    assert set(heads_made) <= set(sizes)
    verified = custos(servers.env, "ledger", "verify")
    assert verified.returncode == 0, verified.stdout + verified.stderr
