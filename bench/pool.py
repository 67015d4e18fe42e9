"""`python -m bench.pool --postgres URL [--customers 1000000]`: the pool's recycle job at scale.

Loads N customers (bare bulk inserts: the services would write a ledger entry per customer and
take hours), about half of them not followed up for longer than the rule's 30 days, some of
those exempt (an open deal: a follow-up planned ahead). Then, on the same rows in the same run:

bare      one UPDATE ... WHERE <the rule's condition> moving every stale customer to the pool,
          rolled back: the least any database could do for the same change
recycle   custos.pool.recycle.run: in batches, each one transaction that evaluates the rules and
          exemptions, locks the rows, moves them, writes one `customer.owner_changed` ledger
          entry per customer (canonical JSON, SHA-256 leaf, Merkle nodes), the pool's history
          rows and the run's cursor; reminders are evaluated as well

Prints time and rows per second of each and their ratio (aim: recycle ≥ 0.25 of bare). Works in
a scratch database (CUSTOS_BENCH_DB, default custos_bench_pool) dropped afterwards unless --keep.
Without --postgres it runs on SQLite in a temporary directory (try --customers 20000).
"""

import argparse
import os
import random
import tempfile
import time
from datetime import timedelta

from bench import common

BENCH_DB = os.environ.get("CUSTOS_BENCH_DB", "custos_bench_pool")
CHUNK = 20_000
DAYS = 30


def load(n: int, rng: random.Random) -> dict:
    from django.db import connection
    from django.utils import timezone

    from custos.customers.models import Customer
    from custos.pool import services as pool_services

    hq, stores, staff = common.chain()
    pool = pool_services.create_pool(actor=None, unit=hq, name="公司公海")
    pool_services.add_rule(actor=None, pool=pool, kind="no_follow_up", days=DAYS, remind_days=3)
    now = timezone.now()
    started = time.perf_counter()
    for base in range(0, n, CHUNK):
        rows = []
        for _ in range(min(CHUNK, n - base)):
            store = rng.choice(stores)
            stale = rng.random() < 0.5
            contacted = now - timedelta(
                days=rng.uniform(DAYS + 1, 400) if stale else rng.uniform(0, DAYS - 1)
            )
            rows.append(
                Customer(
                    name=f"客户{base}",
                    owner_id=rng.choice(staff[store.pk]),
                    unit_id=store.pk,
                    grade=rng.choices("ABCD", (1, 3, 4, 2))[0],
                    status="active",
                    created_at=now - timedelta(days=500),
                    last_contact_at=contacted,
                    # an open deal on some stale ones: exempt from the rule
                    next_follow_up_on=(now + timedelta(days=5)).date()
                    if stale and rng.random() < 0.05
                    else None,
                )
            )
        Customer.objects.bulk_create(rows, batch_size=5000)
        done = base + len(rows)
        if done % 200_000 == 0 or done == n:
            print(f"  loaded {done:,} customers in {time.perf_counter() - started:,.0f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return {"cutoff": now - timedelta(days=DAYS), "today": timezone.localdate(now)}


def bare_update(cutoff, today) -> tuple[int, float]:
    """The same rows moved by one statement, then rolled back so the job finds them as they were."""
    from django.db import connection, transaction

    sql = (
        "UPDATE customers_customer SET owner_id = NULL, status = 'in_pool', updated_at = %s "
        "WHERE status = 'active' AND owner_id IS NOT NULL AND created_at < %s "
        "AND (last_contact_at < %s OR last_contact_at IS NULL) "
        "AND (next_follow_up_on IS NULL OR next_follow_up_on < %s)"
    )
    from django.utils import timezone

    class Rollback(Exception):
        pass

    rows, seconds = 0, 0.0
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            t = time.perf_counter()
            cursor.execute(sql, [timezone.now(), cutoff, cutoff, today])
            seconds = time.perf_counter() - t
            rows = cursor.rowcount
            raise Rollback
    except Rollback:
        pass
    return rows, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL instead of SQLite")
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--batch", type=int, default=5000, help="customers per batch of the job")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database afterwards")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        vendor = common.setup_django(tmp, args.postgres, BENCH_DB)
        try:
            from django.db import connection

            from custos.customers.models import Customer
            from custos.ledger.models import Entry
            from custos.pool import recycle

            print(f"bench/pool on {vendor}: {args.customers:,} customers, rule: no follow-up for {DAYS} days")
            marks = load(args.customers, random.Random(16))
            rows, bare_s = bare_update(marks["cutoff"], marks["today"])
            if vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("VACUUM ANALYZE customers_customer")
            t = time.perf_counter()
            report = recycle.run(batch=args.batch)
            job_s = time.perf_counter() - t
            moved = len(report.moved)
            in_pool = Customer.objects.filter(status="in_pool").count()
            entries = Entry.objects.filter(kind="customer.owner_changed").count()
            assert moved == rows == in_pool == entries, (moved, rows, in_pool, entries)
            again = recycle.run(batch=args.batch)
            bare_rate, job_rate = rows / bare_s, moved / job_s
            print(f"  bare UPDATE   {rows:>9,} rows in {bare_s:8.2f} s  {bare_rate:>10,.0f} rows/s")
            print(
                f"  recycle job   {moved:>9,} rows in {job_s:8.2f} s  {job_rate:>10,.0f} rows/s"
                f"  ({report.batches} batches of {args.batch}, {report.reminded:,} reminders, one ledger entry per move)"
            )
            print(
                f"  ratio job/bare: {job_rate / bare_rate:.2f} (aim ≥ 0.25); run again: {len(again.moved)} moved"
            )
        finally:
            connection.close()
            if args.postgres and not args.keep:
                common.admin(args.postgres, f"DROP DATABASE IF EXISTS {BENCH_DB}")


if __name__ == "__main__":
    main()
