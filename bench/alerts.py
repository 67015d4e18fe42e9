"""Alert latency: from appending a chat message to the ledger to the alert visible through the API.

    .venv/bin/python -m bench.alerts [--messages 500] [--postgres URL]

Each round appends one staff message with a disguised violation (as the archive would, one
`append_batch` committed), then asks the REST API (GET /api/v1/alerts, a manager's personal token,
through Django's whole request stack in process, no network) until the alert naming that entry
shows. Detection runs inside the append, so the alert is there when the append returns; what is
measured is ingest + detection + alert + the API read. Beside it, in the same run: appending a
clean message (no hit) and the API read alone, the floors this latency is made of.

SQLite runs on a temporary file database in WAL mode, as the product does; PostgreSQL on a database
`custos_bench_alerts` created at the URL's server and dropped afterwards.
"""

import argparse
import os
import random
import statistics
import sys
import tempfile
import time

BENCH_DB = "custos_bench_alerts"
VIOLATIONS = [
    "加#我#薇#信，这个号要交回公司了", "si xia jiao yi 比较划算", "回回扣扣照老规矩给你", "钱直接转到我个人账户上就行",
    "我下个月离职，以后去我新店买", "飛單的事你知我知", "加我ｗｘ，方便点", "好处费少不了你的",
]  # fmt: skip
CLEAN = [
    "您好，之前您看的沙发到货了",
    "好的，明天下午给您安排发货",
    "这款有白色和墨绿两种颜色",
    "加我们门店企业微信，有专人服务",
]


def setup(tmp: str, postgres_url: str | None) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "custos.settings"
    os.environ["CUSTOS_DATA_DIR"] = tmp
    os.environ["CUSTOS_LOG_LEVEL"] = "WARNING"
    os.environ["CUSTOS_HUEY_IMMEDIATE"] = "false"
    if postgres_url:
        from bench.common import admin

        admin(postgres_url, f"DROP DATABASE IF EXISTS {BENCH_DB}")
        admin(postgres_url, f"CREATE DATABASE {BENCH_DB}")
        os.environ["DATABASE_URL"] = postgres_url.rsplit("/", 1)[0] + "/" + BENCH_DB
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["testserver", *settings.ALLOWED_HOSTS]
    call_command("migrate", verbosity=0)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.alerts", description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=500)
    parser.add_argument("--postgres", help="e.g. postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="custos-bench-alerts-") as tmp:
        setup(tmp, args.postgres)
        try:
            return run(args)
        finally:
            if args.postgres:
                from django.db import connections

                connections.close_all()
                from bench.common import admin

                admin(args.postgres, f"DROP DATABASE IF EXISTS {BENCH_DB}")


def run(args) -> int:
    from django.db import connection
    from django.test import Client

    from custos.access import tokens
    from custos.access.models import ApiToken
    from custos.ledger.services import Event, append_batch
    from custos.org import demo as org_demo
    from custos.org.models import Employee, Role

    rng = random.Random(args.seed)
    org_demo.build(args.seed)
    sales = list(Employee.objects.filter(role=Role.SALES).select_related("unit"))
    boss = Employee.objects.get(user__username="boss")
    _token, clear = tokens.issue(actor=boss, kind=ApiToken.Kind.PERSONAL, name="bench")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {clear}")
    counter = [0]

    def message(text: str) -> Event:
        counter[0] += 1
        employee = rng.choice(sales)
        contact = f"wm_bench_{counter[0]}"  # a new customer each time: every violation is a new alert
        return Event(
            kind="message.sent",
            payload={
                "msgtype": "text",
                "conversation": f"single:{employee.pk}:{contact}",
                "contact": contact,
                "group": None,
                "text": text,
                "attachment": None,
                "amount": None,
                "sender_role": "staff",
                "raw": {},
            },  # fmt: skip
            actor_id=employee.pk,
            unit_id=employee.unit_id,
            source="bench",
            source_id=f"bench-{counter[0]}",
        )

    def visible(seq: int) -> bool:
        response = client.get("/api/v1/alerts", {"state": "open", "limit": 5})
        assert response.status_code == 200, response.content[:300]
        return any(seq in item["evidence"] for item in response.json()["items"])

    # Warm up: engines built, connections open, code paths loaded.
    for text in VIOLATIONS + CLEAN:
        append_batch([message(text)])
    visible(-1)

    latency, clean, reads, misses = [], [], [], 0
    for i in range(args.messages):
        event = message(VIOLATIONS[i % len(VIOLATIONS)])
        start = time.perf_counter()
        [appended] = append_batch([event])
        polls = 0
        while not visible(appended.seq):
            polls += 1
            if polls > 1000:
                raise SystemExit(f"alert for entry {appended.seq} never showed")
        latency.append(time.perf_counter() - start)
        misses += polls

        event = message(CLEAN[i % len(CLEAN)])
        start = time.perf_counter()
        append_batch([event])
        clean.append(time.perf_counter() - start)

        start = time.perf_counter()
        visible(-1)
        reads.append(time.perf_counter() - start)

    def row(name, values):
        ms = [v * 1000 for v in values]
        return (
            f"{name:<44} p50 {percentile(ms, 50):7.1f} ms  p99 {percentile(ms, 99):7.1f} ms"
            f"  max {max(ms):7.1f} ms  mean {statistics.fmean(ms):7.1f} ms"
        )

    print(f"database: {connection.vendor}; {args.messages} violating messages, each a new alert; "
          f"{len(sales)} sales staff in {len({e.unit_id for e in sales})} stores")  # fmt: skip
    print(row("append violating message → alert in API", latency))
    print(row("  floor: append a clean message (no hit)", clean))
    print(row("  floor: GET /api/v1/alerts alone", reads))
    print(f"extra API polls needed: {misses} (0: the alert is there the moment the append commits)")
    p99 = percentile(latency, 99)
    print(f"p99 latency {p99 * 1000:.1f} ms: {'within' if p99 < 1 else 'OVER'} the 1 s aim")
    return 0


if __name__ == "__main__":
    sys.exit(main())
