"""Evidence packages: how long building and verifying one takes, beside appending the same entries.

    .venv/bin/python -m bench.evidence [--postgres URL] [--entries 20000]

append    ledger.append_batch of N chat messages of one customer (the baseline: what it cost to
          record them in the first place)
build     package.build of those N entries, by stage (collect, prove, attachments, transcript
          HTML + PDF, write), with the stage times from its progress callback
verify    offline.verify_package of the ZIP (no database), in this process

SQLite runs on a temporary file database; PostgreSQL on `custos_bench_evidence`, created at the
URL's server and dropped afterwards.
"""

import argparse
import tempfile
import time
from datetime import timedelta

from bench import common
from bench.common import admin

BENCH_DB = "custos_bench_evidence"
TEXTS = [
    "张总您好，上次说的那批货已经到店了，您什么时候方便过来看看？",
    "这周六下午可以吗？价格还能再优惠一点吗",
    "可以的，我给您申请一下会员价，周六见",
    "好的，谢谢",
]


def setup_django(tmp: str, postgres_url: str | None) -> str:
    return common.setup_django(tmp, postgres_url, BENCH_DB)


def run(n: int) -> None:
    from django.utils import timezone

    from custos.evidence import offline, package
    from custos.evidence.selectors import Selection, selected_entries
    from custos.ledger.services import Event, append_batch
    from custos.org import services as org
    from custos.org.models import Role, Unit

    # The archive's projection reads these messages too, so they come from a real employee.
    store = org.create_unit(actor=None, name="基准门店", kind=Unit.Kind.STORE, parent=None)
    sales = org.create_employee(
        actor=None, name="基准导购", username="bench_sales", password="bench-password-1", unit=store, role=Role.SALES
    )
    start = timezone.now() - timedelta(days=30)
    events = [
        Event(
            "message.received" if i % 2 else "message.sent",
            {
                "msgtype": "text",
                "text": TEXTS[i % len(TEXTS)],
                "conversation": "c1",
                "contact": "wx_1",
                "group": None,
                "attachment": None,
                "sender_role": "customer" if i % 2 else "staff",
            },
            actor_id=sales.pk,
            unit_id=store.pk,
            customer_id=42,
            source="bench",
            source_id=str(i),
            occurred_at=start + timedelta(seconds=30 * i),
        )
        for i in range(n)
    ]
    t0 = time.perf_counter()
    for i in range(0, n, 1000):
        append_batch(events[i : i + 1000])
    append_s = time.perf_counter() - t0

    stages: list[tuple[str, float]] = []

    def progress(stage, done, total):
        if not stages or stages[-1][0] != stage:
            stages.append((stage, time.perf_counter()))

    t0 = time.perf_counter()
    built = package.build(
        selected_entries(None, Selection(customer_id=42)),
        selection={"customer_id": 42},
        requester=None,
        progress=progress,
    )
    build_s = time.perf_counter() - t0
    stages.append(("end", time.perf_counter()))

    t0 = time.perf_counter()
    report = offline.verify_package(built.path)
    verify_s = time.perf_counter() - t0
    assert report.ok, report.problems[:3]

    print(f"entries {n}, package {built.size / 1e6:.1f} MB")
    print(f"append (baseline)  {append_s:7.2f} s  {n / append_s:9.0f} entries/s")
    print(f"build              {build_s:7.2f} s  {n / build_s:9.0f} entries/s  ({build_s / append_s:.1f}x append)")
    for (stage, at), (_next, until) in zip(stages, stages[1:], strict=False):
        print(f"  {stage:<16} {until - at:7.2f} s")
    print(f"verify (offline)   {verify_s:7.2f} s  {n / verify_s:9.0f} entries/s  ({verify_s / append_s:.1f}x append)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--postgres", metavar="URL", help="e.g. postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--entries", type=int, default=20_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="custos-bench-") as tmp:
        vendor = setup_django(tmp, args.postgres)
        print(f"bench.evidence on {vendor}")
        try:
            run(args.entries)
        finally:
            if args.postgres:
                from django.db import connections

                connections.close_all()
                admin(args.postgres, f"DROP DATABASE IF EXISTS {BENCH_DB}")


if __name__ == "__main__":
    main()
