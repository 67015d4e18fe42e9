"""Customer records: the demo build, writes and the reads a console page makes, beside bare baselines.

    .venv/bin/python -m bench.customers [--postgres URL] [--customers 2000]

demo      customers.demo.build (rows, one encryption per contact, the ledger) beside a bare
          bulk_create of the same customer rows
create    services.create_customer with a phone (scope checks, duplicate look-up, encryption,
          tags, completeness, ledger entry) beside a bare Customer + CustomerContact insert
list      a manager's first page of customers (scoped, tags and contacts prefetched) beside a
          bare query of the same 50 rows by unit
phone     an exact phone look-up through the blind index beside a bare indexed name look-up
timeline  the busiest customer's timeline beside a bare query of their follow-ups
reveal    reveal_contact (role, scope, cap count, decrypt, ledger entry) beside a bare decrypt

    .venv/bin/python -m bench.customers --postgres URL --scale 1000000 [--keep]

scale     loads N customers (bare bulk inserts: one encrypted phone each, tags, pool and
          archived ones, changes spread over two years) and prints p50/p95 of the API's list
          calls (first pages, filters, a deep page) and search calls (name, full phone number)
          for a salesperson, a store manager, a region manager and an admin, beside a bare
          primary-key fetch of 50 rows. The aim is p95 under 50 ms. --keep leaves the database
          for EXPLAIN ANALYZE.

SQLite runs on a temporary file database in WAL mode, as the product does; PostgreSQL on a
database `custos_bench_customers` created at the URL's server and dropped afterwards.
"""

import argparse
import os
import statistics
import tempfile
import time

from bench import common
from bench.common import admin

EPILOG = "PostgreSQL: pass e.g. --postgres postgres://postgres@127.0.0.1:5432/postgres"
# CUSTOS_BENCH_DB: a name of your own when several people bench on one server.
BENCH_DB = os.environ.get("CUSTOS_BENCH_DB", "custos_bench_customers")


def setup_django(tmp: str, postgres_url: str | None) -> str:
    return common.setup_django(tmp, postgres_url, BENCH_DB)


def timed(fn, repeat: int) -> float:
    """Median milliseconds of `repeat` calls."""
    samples = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def row(name: str, ours: float, bare: float, unit: str) -> None:
    print(f"  {name:<10} {ours:>12,.2f} {bare:>12,.2f} {unit:<8} {ours / bare:>7.1f}x")


def bench_demo(n: int) -> tuple[float, float]:
    from django.db import transaction

    from custos.customers import demo
    from custos.customers.models import Customer
    from custos.org import demo as org_demo

    with transaction.atomic():
        org_demo.build(2026)
    started = time.perf_counter()
    counts = demo.build(2026, total=n)
    ours = time.perf_counter() - started
    rows = [
        Customer(name=c.name, kind=c.kind, unit_id=c.unit_id, grade=c.grade, profile=c.profile)
        for c in Customer.objects.all()
    ]
    with transaction.atomic():
        started = time.perf_counter()
        Customer.objects.bulk_create(rows, batch_size=500)
        bare = time.perf_counter() - started
        transaction.set_rollback(True)
    print(
        f"  demo: {counts['customers']:,} customers, {counts['contacts']:,} contacts, {counts['entries']:,} ledger entries"
    )
    return ours, bare


def bench_create(count: int) -> tuple[float, float]:
    from django.db import transaction

    from custos.customers import contacts, services
    from custos.customers.models import Customer, CustomerContact
    from custos.customers.services import NewContact
    from custos.org.models import Employee, Role

    sales = Employee.objects.filter(role=Role.SALES).select_related("unit").first()
    started = time.perf_counter()
    for i in range(count):
        services.create_customer(
            actor=sales, name=f"压测{i}", contacts_in=[NewContact("phone", f"1760000{i:04d}")]
        )
    ours = (time.perf_counter() - started) / count * 1000
    started = time.perf_counter()
    for i in range(count):
        with transaction.atomic():
            c = Customer.objects.create(name=f"基线{i}", owner=sales, unit=sales.unit)
            sealed = contacts.seal(c.pk, "phone", f"+86177000{i:05d}")
            CustomerContact.objects.create(
                customer=c,
                kind="phone",
                value_encrypted=sealed.value_encrypted,
                blind_index=sealed.blind_index,
                masked=sealed.masked,
            )
    bare = (time.perf_counter() - started) / count * 1000
    return ours, bare


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=EPILOG)
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL instead of SQLite")
    parser.add_argument("--customers", type=int, default=2000)
    parser.add_argument("--scale", type=int, metavar="N", help="load N customers and time the API's list and search")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database afterwards")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="custos-bench-") as tmp:
        vendor = setup_django(tmp, args.postgres)
        try:
            if args.scale:
                from bench.customers_scale import run_scale

                run_scale(vendor, args.scale)
            else:
                run(vendor, args.customers)
        finally:
            from django.db import connections

            connections.close_all()
            if args.postgres and not args.keep:
                admin(args.postgres, f"DROP DATABASE IF EXISTS {BENCH_DB}")


def run(vendor: str, n: int) -> None:
    from django.db.models import Count

    from custos.core import crypto
    from custos.customers import selectors, timeline
    from custos.customers.contacts import aad
    from custos.customers.models import Customer, CustomerContact, FollowUp
    from custos.customers.reveal import reveal_contact
    from custos.org.models import Employee, Role

    print(f"customers on {vendor}\n  {'':<10} {'custos':>12} {'bare':>12} {'':<8} {'ratio':>8}")
    ours, bare = bench_demo(n)
    row("demo", ours, bare, "s")
    ours, bare = bench_create(200)
    row("create", ours, bare, "ms each")

    manager = Employee.objects.filter(role=Role.MANAGER, unit__kind="store").select_related("unit").first()
    admin_ = Employee.objects.get(user__username="admin")
    ours = timed(lambda: list(selectors.list_customers(manager)[:50]), 50)
    units = [manager.unit_id]
    bare = timed(
        lambda: list(
            Customer.objects.filter(unit_id__in=units).exclude(status="archived").order_by("-updated_at")[:50]
        ),
        50,
    )
    row("list", ours, bare, "ms")

    contact = CustomerContact.objects.filter(kind="phone").order_by("pk")[n // 2]
    phone = crypto.decrypt(contact.value_encrypted, aad=aad(contact.customer_id, "phone"))
    name = contact.customer.name
    ours = timed(lambda: list(selectors.list_customers(admin_, selectors.Filters(phone=phone))), 50)
    bare = timed(lambda: list(Customer.objects.filter(name=name)), 50)
    row("phone", ours, bare, "ms")

    busiest = Customer.objects.annotate(n=Count("follow_ups")).order_by("-n").first()
    ours = timed(lambda: timeline.timeline(admin_, busiest.pk), 50)
    bare = timed(lambda: list(FollowUp.objects.filter(customer=busiest)[:50]), 50)
    row("timeline", ours, bare, "ms")

    targets = list(
        CustomerContact.objects.filter(kind="phone", customer__unit=manager.unit).select_related("customer")[
            :20
        ]
    )
    samples = []
    for c in targets:
        started = time.perf_counter()
        reveal_contact(viewer=manager, contact=c, reason="压测")
        samples.append((time.perf_counter() - started) * 1000)
    ours = statistics.median(samples)
    bare = timed(lambda: crypto.decrypt(contact.value_encrypted, aad=aad(contact.customer_id, "phone")), 200)
    row("reveal", ours, bare, "ms")


if __name__ == "__main__":
    main()
