"""Handover at the size of a busy salesperson's book, beside baselines measured in the same run.

    .venv/bin/python -m bench.handover [--postgres URL] [--customers 500]

preview    services.preview (scope, loads, caps, move-limit look-up, allocation, plan rows)
           beside allocation.allocate alone over the same candidates and receivers
commit     services.commit of that plan (row locks, stale check, change_owner and a contact task
           per customer, one transaction) beside bare change_owner calls for the same customers
           in one transaction: the work every commit must do anyway
checklist  checklist.refresh of the leaver's case after the handover beside a bare count of
           the customers they own

SQLite runs on a temporary file database in WAL mode, as the product does; PostgreSQL on a
database `custos_bench_handover` created at the URL's server and dropped afterwards.
"""

import argparse
import tempfile
import time

from bench import common
from bench.common import admin

EPILOG = "PostgreSQL: pass e.g. --postgres postgres://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "custos_bench_handover"


def setup_django(tmp: str, postgres_url: str | None) -> str:
    return common.setup_django(tmp, postgres_url, BENCH_DB)


def clock(fn):
    started = time.perf_counter()
    result = fn()
    return result, (time.perf_counter() - started) * 1000


def row(name: str, ours: float, bare: float, n: int) -> None:
    print(f"  {name:<10} {ours:>10,.1f} ms {bare:>10,.1f} ms {ours / max(bare, 1e-9):>7.1f}x   {n / ours * 1000:>9,.0f}/s")


def book(owner, n: int, tag: str):
    from custos.customers.models import Customer

    Customer.objects.bulk_create(
        [Customer(name=f"{tag}{i}", owner=owner, unit=owner.unit, grade="ABCD"[i % 4]) for i in range(n)]
    )
    return list(Customer.objects.filter(owner=owner).order_by("pk"))


def run(n: int) -> None:
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from custos.customers import services as customer_services
    from custos.handover import allocation, checklist, services
    from custos.org import demo as org_demo
    from custos.org.models import Employee, Role

    with transaction.atomic():
        org_demo.build(2026)
    manager = Employee.objects.get(user__username="store1")
    sales = list(Employee.objects.filter(unit=manager.unit, role=Role.SALES).order_by("pk"))
    leaver, other, receivers = sales[0], sales[1], sales[2:]
    book(leaver, n, "离职客户")
    base = book(other, n, "基线客户")
    case = services.open_case(actor=manager, employee=leaver, last_day=timezone.localdate() + timedelta(days=7))
    ids = [r.pk for r in receivers]

    plan, t_preview = clock(
        lambda: services.preview(actor=manager, kind="handover", case=case, strategy="least_loaded", receiver_ids=ids, daily_cap=0)
    )
    candidates = [allocation.Candidate(c.pk, c.grade, frozenset({leaver.pk})) for c in base]
    _r, t_alloc = clock(lambda: allocation.allocate("least_loaded", candidates, [allocation.Receiver(i) for i in ids]))
    row("preview", t_preview, t_alloc, n)

    _p, t_commit = clock(lambda: services.commit(actor=manager, plan=plan))

    def bare():
        with transaction.atomic():
            for i, c in enumerate(base):
                customer_services.change_owner(actor=manager, customer=c, kind="handover", to=receivers[i % len(receivers)])

    _b, t_bare = clock(bare)
    row("commit", t_commit, t_bare, n)

    from custos.customers.models import Customer

    _c, t_check = clock(lambda: checklist.refresh(case))
    _n, t_count = clock(lambda: Customer.objects.filter(owner=leaver).count())
    row("checklist", t_check, t_count, n)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=EPILOG)
    parser.add_argument("--postgres", metavar="URL")
    parser.add_argument("--customers", type=int, default=500)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="custos-bench-") as tmp:
        vendor = setup_django(tmp, args.postgres)
        print(f"handover on {vendor}, {args.customers} customers: ours, baseline, ratio, customers per second")
        try:
            run(args.customers)
        finally:
            if args.postgres:
                from django.db import connections

                connections.close_all()
                admin(args.postgres, f"DROP DATABASE IF EXISTS {BENCH_DB}")


if __name__ == "__main__":
    main()
