"""A bounded load run against two `custos serve` processes on one PostgreSQL and one Redis.

    .venv/bin/python -m bench.load --postgres postgres://postgres@127.0.0.1:5432/postgres \
        [--redis redis://127.0.0.1:6379/0] [--phones 40] [--console 6] [--seconds 60] [--rate 3]

Everything stays on this machine: the database server and Redis must be on loopback, the two
web processes listen on 127.0.0.1, and the run is bounded (at most 500 phones, 50 console users,
600 seconds). A scratch database `custos_bench_load` is created and dropped.

--phones simulated work phones (custos.archive.simulate's traffic: Chinese chat, calls, red
packets, recalls, deletions, resent batches, disguised violations) each post a signed batch every
--interval seconds at --rate events per second, to the two processes in turn, as a load balancer
would. --console users sign in and read the alert inbox, the conversation list, the customer list
and the badge, and acknowledge alerts through the API, with a second's thought between pages.

Printed: per endpoint the requests, their rate, p50 / p95 / p99 under load and the p50 of the same
request on the idle system measured at the start of the same run (the baseline, and the ratio);
ingest in events per second; and the database's growth per million messages.
"""

import argparse
import itertools
import json
import os
import random
import secrets
import shutil
import statistics
import tempfile
import threading
import time
from collections import defaultdict
from urllib.parse import urlsplit

from bench.common import admin

BENCH_DB = "custos_bench_load"
PASSWORD = "bench-load-pass-2026"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
STORES = ["天河店", "祖庙店", "徐汇店", "春熙路店", "解放碑店", "西湖店", "五一广场店", "光谷店"]


class Timings:
    def __init__(self):
        self.lock = threading.Lock()
        self.samples: dict[str, list[float]] = defaultdict(list)
        self.errors: dict[str, int] = defaultdict(int)

    def add(self, name: str, seconds: float, ok: bool) -> None:
        with self.lock:
            self.samples[name].append(seconds)
            if not ok:
                self.errors[name] += 1


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def loopback_only(url: str, what: str) -> None:
    host = urlsplit(url).hostname or ""
    if host not in LOOPBACK:
        raise SystemExit(f"{what} must be on this machine (127.0.0.1), not {host!r}: the load run stays on loopback")


def seed(phones: int, console: int):
    """Units, staff with a work phone each, managers and an admin for the console."""
    from django.contrib.auth.hashers import make_password
    from django.test.utils import override_settings

    from custos.access import tokens
    from custos.access.models import ApiToken
    from custos.archive import credentials
    from custos.org import services
    from custos.org.models import Role, Unit

    hq = services.create_unit(actor=None, name="总部", kind=Unit.Kind.HQ, parent=None)
    region = services.create_unit(actor=None, name="华南区", kind=Unit.Kind.REGION, parent=hq)
    stores = [services.create_unit(actor=None, name=n, kind=Unit.Kind.STORE, parent=region) for n in STORES]
    boss = services.create_employee(actor=None, name="管理员", username="admin", password=PASSWORD, unit=hq, role=Role.ADMIN)
    hashed = make_password(PASSWORD)  # one argon2 hash for every console user: seeding stays quick
    viewers = []
    for i in range(console):
        role, unit = (Role.MANAGER, stores[i % len(stores)]) if i % 3 else (Role.EXECUTIVE, hq)
        person = services.create_employee(actor=None, name=f"经理{i}", username=f"viewer{i}", password=PASSWORD, unit=unit, role=role)
        person.user.password = hashed
        person.user.save(update_fields=["password"])
        _t, token = tokens.issue(actor=person, kind=ApiToken.Kind.PERSONAL, name="load")
        viewers.append((person.user.username, token))
    devices = []
    # The phones' owners never sign in during the run: a fast hash keeps seeding hundreds of them quick.
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        for i in range(phones):
            staff = services.create_employee(actor=None, name=f"导购{i}", username=f"sales{i}", password=PASSWORD,
                                             unit=stores[i % len(stores)], role=Role.SALES)  # fmt: skip
            _row, token, secret = credentials.issue(actor=boss, kind=ApiToken.Kind.DEVICE, name=f"工作手机{i}", employee=staff)
            devices.append((token, secret))
    return devices, viewers


def phone(servers, token, secret, seed_, rate, interval, until, timings, totals):
    import http.client

    from custos.archive import signing, simulate

    traffic = simulate.Traffic(seed_, None, contacts=15)  # a salesperson chats with a handful at a time
    rng = random.Random(seed_)
    turn = itertools.cycle(servers)
    time.sleep(rng.uniform(0, interval))  # phones do not all wake at the same moment
    while time.monotonic() < until:
        started = time.monotonic()
        events = [traffic.next()[0] for _ in range(max(1, round(rate * interval * rng.uniform(0.5, 1.5))))]
        body = json.dumps({"events": events}, ensure_ascii=False).encode()
        host, port = next(turn)
        path = simulate.PATH
        headers = {**signing.signed_headers(token, secret, "POST", path, body), "Content-Type": "application/json"}
        ok = False
        try:
            conn = http.client.HTTPConnection(host, port, timeout=60)
            conn.request("POST", path, body, headers)
            response = conn.getresponse()
            answer = response.read()
            ok = response.status == 200
            if ok:
                data = json.loads(answer)
                with timings.lock:
                    totals["accepted"] += data["accepted"]
                    totals["duplicates"] += data["duplicates"]
                    totals["rejected"] += data["rejected"]
                    totals["messages"] += sum(
                        1 for e, r in zip(events, data["results"], strict=False)
                        if r["status"] == "accepted" and e["kind"].startswith("message.")
                    )  # fmt: skip
            conn.close()
        except OSError:
            pass
        timings.add("POST /api/v1/ingest/events", time.monotonic() - started, ok)
        time.sleep(max(0.0, interval - (time.monotonic() - started)))


PAGES = ["/alerts/", "/conversations/", "/customers/", "/alerts/badge/"]


def viewer(servers, username, token, until, timings, think, seed_):
    import requests

    rng = random.Random(seed_)
    turn = itertools.cycle(f"http://{h}:{p}" for h, p in servers)
    session = requests.Session()
    base = next(turn)
    started = time.monotonic()
    session.get(f"{base}/login/", timeout=60)
    r = session.post(f"{base}/login/", data={"username": username, "password": PASSWORD,
                     "csrfmiddlewaretoken": session.cookies.get("csrftoken", "")}, allow_redirects=False, timeout=60)  # fmt: skip
    timings.add("POST /login/", time.monotonic() - started, r.status_code == 302)
    bearer = {"Authorization": f"Bearer {token}"}
    while time.monotonic() < until:
        base = next(turn)  # the balancer sends each request to either process: the session is in the database
        page = rng.choice(PAGES)
        started = time.monotonic()
        try:
            r = session.get(base + page, timeout=60, allow_redirects=False)
            ok = r.status_code == 200
        except requests.RequestException:
            ok = False
        timings.add(f"GET {page}", time.monotonic() - started, ok)
        if rng.random() < 0.3:
            started = time.monotonic()
            try:
                r = requests.get(f"{base}/api/v1/alerts", params={"state": "open", "limit": 20}, headers=bearer, timeout=60)
                ok, open_alerts = r.status_code == 200, (r.json().get("items", []) if r.status_code == 200 else [])
            except (requests.RequestException, ValueError):
                ok, open_alerts = False, []
            timings.add("GET /api/v1/alerts", time.monotonic() - started, ok)
            if open_alerts:
                alert = rng.choice(open_alerts)
                started = time.monotonic()
                r = requests.post(f"{base}/api/v1/alerts/{alert['id']}/acknowledge", json={"note": "已联系"},
                                  headers=bearer, timeout=60)  # fmt: skip
                # 409: another viewer acknowledged it first, which is an answer, not an error
                timings.add("POST /api/v1/alerts/{id}/acknowledge", time.monotonic() - started, r.status_code in (200, 409))
        time.sleep(think * rng.uniform(0.5, 1.5))


def baseline(servers, username, token, device) -> dict[str, float]:
    """p50 of each request on the idle system (both processes, ten each; ingest: batches of 6)."""
    import requests

    out = {}
    base = f"http://{servers[0][0]}:{servers[0][1]}"
    session = requests.Session()
    session.get(f"{base}/login/", timeout=60)
    session.post(f"{base}/login/", data={"username": username, "password": PASSWORD,
                 "csrfmiddlewaretoken": session.cookies.get("csrftoken", "")}, allow_redirects=False, timeout=60)  # fmt: skip
    for page in PAGES:
        samples = []
        for i in range(10):
            host, port = servers[i % 2]
            started = time.monotonic()
            session.get(f"http://{host}:{port}{page}", timeout=60)
            samples.append(time.monotonic() - started)
        out[f"GET {page}"] = statistics.median(samples)
    samples = []
    for i in range(10):
        host, port = servers[i % 2]
        started = time.monotonic()
        requests.get(f"http://{host}:{port}/api/v1/alerts", headers={"Authorization": f"Bearer {token}"}, timeout=60)
        samples.append(time.monotonic() - started)
    out["GET /api/v1/alerts"] = statistics.median(samples)
    from custos.archive import signing, simulate

    token, secret = device
    traffic, samples = simulate.Traffic(-1, None, contacts=15), []
    for i in range(10):
        host, port = servers[i % 2]
        body = json.dumps({"events": [traffic.next()[0] for _ in range(6)]}, ensure_ascii=False).encode()
        headers = {**signing.signed_headers(token, secret, "POST", simulate.PATH, body), "Content-Type": "application/json"}
        started = time.monotonic()
        requests.post(f"http://{host}:{port}{simulate.PATH}", data=body, headers=headers, timeout=60)
        samples.append(time.monotonic() - started)
    out["POST /api/v1/ingest/events"] = statistics.median(samples)
    return out


def sizes(cursor) -> dict[str, int]:
    cursor.execute("SELECT pg_database_size(current_database())")
    total = cursor.fetchone()[0]
    cursor.execute(
        "SELECT c.relname, pg_total_relation_size(c.oid) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p') ORDER BY 2 DESC"
    )
    return {"(database)": total, **dict(cursor.fetchall())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", required=True, help="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--phones", type=int, default=40)
    parser.add_argument("--console", type=int, default=6)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--rate", type=float, default=3.0, help="events per second per phone")
    parser.add_argument("--interval", type=float, default=2.0, help="seconds between a phone's batches")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn processes per custos serve")
    parser.add_argument("--think", type=float, default=1.0, help="seconds between a console user's pages")
    args = parser.parse_args()
    if not (1 <= args.phones <= 500 and 0 <= args.console <= 50 and 5 <= args.seconds <= 600):
        raise SystemExit("bounded run: --phones 1..500, --console 0..50, --seconds 5..600")
    loopback_only(args.postgres, "--postgres")
    loopback_only(args.redis, "--redis")

    from tests.scale.servers import Serve, environment

    tmp = tempfile.mkdtemp(prefix="custos-bench-load-")
    url = args.postgres.rsplit("/", 1)[0] + "/" + BENCH_DB
    admin(args.postgres, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    admin(args.postgres, f"CREATE DATABASE {BENCH_DB}")
    os.environ.update({"DJANGO_SETTINGS_MODULE": "custos.settings", "CUSTOS_DATA_DIR": tmp, "DATABASE_URL": url,
                       "CUSTOS_LOG_LEVEL": "WARNING"})  # fmt: skip
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, connections

    queue = f"custos-bench-{secrets.token_hex(4)}"
    servers: list = []
    try:
        call_command("migrate", verbosity=0)
        devices, viewers = seed(args.phones, max(args.console, 1))
        with connection.cursor() as c:
            before = sizes(c)
        connections.close_all()
        env = environment(url, tmp, args.redis, queue)
        for name in ("a", "b"):
            servers.append(Serve(env, os.path.join(tmp, f"serve-{name}.log"), workers=args.workers).wait_ready())
        hosts = [(urlsplit(s.url).hostname, urlsplit(s.url).port) for s in servers]
        idle = baseline(hosts, *viewers[0], devices[0])

        timings, totals = Timings(), defaultdict(int)
        until = time.monotonic() + args.seconds
        threads = [
            threading.Thread(target=phone, args=(hosts, token, secret, i, args.rate, args.interval, until, timings, totals))
            for i, (token, secret) in enumerate(devices)
        ] + [
            threading.Thread(target=viewer, args=(hosts, username, token, until, timings, args.think, 1000 + i))
            for i, (username, token) in enumerate(viewers[: args.console])
        ]  # fmt: skip
        started = time.monotonic()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.monotonic() - started
        with connection.cursor() as c:
            c.execute("ANALYZE")
            after = sizes(c)
            c.execute("SELECT count(*) FROM ledger_entry")
            entries = c.fetchone()[0]
    finally:
        for s in servers:
            s.stop()
        connections.close_all()
        admin(args.postgres, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
        try:
            import redis

            r = redis.Redis.from_url(args.redis)
            for key in r.scan_iter(f"*{queue}*"):
                r.delete(key)
        except Exception:  # noqa: BLE001, S110 - a scratch queue left behind is harmless
            pass
        shutil.rmtree(tmp, ignore_errors=True)

    print(f"two custos serve processes x {args.workers} gunicorn workers, PostgreSQL + Redis on loopback, "
          f"{os.cpu_count()} CPUs; {args.phones} phones at {args.rate:g} events/s, {args.console} console users, "
          f"{elapsed:.0f} s")  # fmt: skip
    print(f"{'endpoint':<42} {'requests':>8} {'req/s':>7} {'errors':>6} {'p50 ms':>7} {'p95 ms':>7} {'p99 ms':>7} {'idle p50':>8} {'p95/idle':>8}")
    for name in sorted(timings.samples):
        values = timings.samples[name]
        base = idle.get(name)
        p95 = percentile(values, 95)
        print(f"{name:<42} {len(values):>8} {len(values) / elapsed:>7.1f} {timings.errors[name]:>6} "
              f"{percentile(values, 50) * 1000:>7.0f} {p95 * 1000:>7.0f} {percentile(values, 99) * 1000:>7.0f} "
              f"{base * 1000 if base else float('nan'):>8.0f} {p95 / base if base else float('nan'):>8.1f}")  # fmt: skip
    print(f"ingest: {totals['accepted']:,} events accepted ({totals['messages']:,} messages), "
          f"{totals['duplicates']:,} duplicates, {totals['rejected']:,} rejected: {totals['accepted'] / elapsed:,.0f} events/s")
    grown = after["(database)"] - before["(database)"]
    if totals["messages"]:
        per_million = grown / totals["messages"] * 1e6
        print(f"database grew {grown / 2**20:,.1f} MiB for {totals['messages']:,} messages ({entries:,} ledger entries "
              f"in all): {per_million / 2**30:,.2f} GiB per million messages")  # fmt: skip
        top = sorted(((after.get(k, 0) - before.get(k, 0), k) for k in after if k != "(database)"), reverse=True)[:6]
        print("  largest growth: " + ", ".join(f"{k} {v / grown:.0%}" for v, k in top if v > 0))
    if any(timings.errors.values()):
        raise SystemExit(f"errors: {dict(timings.errors)}")


if __name__ == "__main__":
    main()
