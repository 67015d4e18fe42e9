"""`python -m bench.care --postgres URL [--customers 200000]`: the service desk's nightly job at scale.

Loads N customers (bare bulk inserts, grades A/B/C/D in the demo's proportions, on the record for
500 days, so each one's first return visit falls on a day of its own within its grade's cadence)
and a purchase in the last 30 days for one customer in --buyers. Then, on the same rows in the
same run:

bare      two INSERT ... SELECT making the same contact tasks the job makes (return visits due
          within the week by the cadence's spread, a call-back per recent purchase), rolled back:
          the least any database could do for the same tasks, with no ledger
nightly   custos.care.services.generate_due_tasks: per grade, the customers without an open
          return visit, their due day, the tasks whose key is new, a batch of 1,000 per
          transaction, one `care.task_created` ledger entry per task (canonical JSON, SHA-256
          leaf, Merkle nodes)
again     the same job run again the same night: it makes nothing (a task's key names its fact)
next day  the job a day later: only the customers whose day has come into the week

Prints time and tasks per second of each and the job's ratio to the bare inserts. Works in a
scratch database (CUSTOS_BENCH_DB, default custos_bench_care) dropped afterwards unless --keep.
Without --postgres it runs on SQLite in a temporary directory (try --customers 20000).
"""

import argparse
import os
import random
import tempfile
import time
from datetime import timedelta

from bench import common

BENCH_DB = os.environ.get("CUSTOS_BENCH_DB", "custos_bench_care")
CHUNK = 20_000


def load(n: int, buyers: int, rng: random.Random) -> dict:
    from django.db import connection
    from django.utils import timezone

    from custos.customers.models import Customer, Purchase
    from custos.org import services as org
    from custos.org.models import Role

    hq, stores, staff = common.chain()
    org.create_employee(
        actor=None, name="客服", username="desk", password="bench-password-2026", unit=hq, role=Role.SERVICE
    )
    now = timezone.now()
    today = timezone.localdate(now)
    started = time.perf_counter()
    purchases = 0
    for base in range(0, n, CHUNK):
        rows = []
        for _ in range(min(CHUNK, n - base)):
            store = rng.choice(stores)
            rows.append(
                Customer(
                    name=f"客户{base}",
                    owner_id=rng.choice(staff[store.pk]),
                    unit_id=store.pk,
                    grade=rng.choices("ABCD", (1, 3, 4, 2))[0],
                    status="active",
                    created_at=now - timedelta(days=500),
                )
            )
        made = Customer.objects.bulk_create(rows, batch_size=5000)
        bought = [
            Purchase(
                customer_id=c.pk,
                product="羊毛大衣",
                amount=rng.choice((899, 1299, 2599)),
                purchased_on=today - timedelta(days=rng.randint(0, 29)),
            )
            for c in made
            if rng.randrange(buyers) == 0
        ]
        Purchase.objects.bulk_create(bought, batch_size=5000)
        purchases += len(bought)
        done = base + len(rows)
        if done % 100_000 == 0 or done == n:
            print(f"  loaded {done:,} customers in {time.perf_counter() - started:,.0f} s", flush=True)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE" if connection.vendor == "postgresql" else "ANALYZE")
    return {"today": today, "purchases": purchases}


def bare_insert(today) -> tuple[int, float]:
    """The job's tasks made by two statements, then rolled back so the job finds none made."""
    from django.db import connection, transaction
    from django.utils import timezone

    from custos.care import services

    horizon, ordinal = services.HORIZON_DAYS, today.toordinal()
    if connection.vendor == "postgresql":
        offset = "((c.id - %(ord)s) %% %(every)s + %(every)s) %% %(every)s"
        due = f"(%(today)s::date + ({offset})::int)"
        key = f"'return:' || c.id || ':' || to_char({due}, 'YYYY-MM-DD')"
        p_due = "greatest(p.purchased_on + %(after)s::int, %(today)s::date)"
    else:
        offset = "((c.id - %(ord)s) %% %(every)s + %(every)s) %% %(every)s"
        due = f"date(%(today)s, '+' || ({offset}) || ' days')"
        key = f"'return:' || c.id || ':' || {due}"
        p_due = "max(date(p.purchased_on, '+' || %(after)s || ' days'), %(today)s)"
    columns = (
        "customer_id, kind, queue, due_on, key, status, note, created_at, complaint, "
        "wants_other_contact, outcome_note"
    )
    returns = (
        f"INSERT INTO care_contacttask ({columns}) "
        f"SELECT c.id, 'return_visit', 'desk', {due}, {key}, 'open', '', %(now)s, '', false, '' "
        "FROM customers_customer c WHERE c.grade = %(grade)s AND c.status = 'active' "
        f"AND {offset} <= %(horizon)s"
    )
    after = (
        f"INSERT INTO care_contacttask ({columns}) "
        f"SELECT p.customer_id, 'after_purchase', 'desk', {p_due}, 'purchase:' || p.id, 'open', "
        "p.product, %(now)s, '', false, '' "
        "FROM customers_purchase p JOIN customers_customer c ON c.id = p.customer_id "
        "WHERE p.purchased_on >= %(since)s AND c.status = 'active'"
    )
    params = {
        "today": today.isoformat() if connection.vendor != "postgresql" else today,
        "ord": ordinal,
        "horizon": horizon,
        "now": timezone.now(),
        "after": services.AFTER_PURCHASE_DAYS,
        "since": today - timedelta(days=services.PURCHASE_LOOKBACK_DAYS),
    }

    class Rollback(Exception):
        pass

    rows, seconds = 0, 0.0
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            t = time.perf_counter()
            for grade, every in services.cadence().items():
                if every:
                    cursor.execute(returns, {**params, "grade": grade, "every": every})
                    rows += cursor.rowcount
            cursor.execute(after, params)
            rows += cursor.rowcount
            seconds = time.perf_counter() - t
            raise Rollback
    except Rollback:
        pass
    return rows, seconds


def _timed(today):
    from custos.care import services

    t = time.perf_counter()
    made = services.generate_due_tasks(today=today)
    return sum(made.values()), time.perf_counter() - t, made


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL instead of SQLite")
    parser.add_argument("--customers", type=int, default=200_000)
    parser.add_argument("--buyers", type=int, default=20, help="one customer in this many bought this month")
    parser.add_argument("--keep", action="store_true", help="keep the PostgreSQL database afterwards")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        vendor = common.setup_django(tmp, args.postgres, BENCH_DB)
        try:
            from django.db import connection

            from custos.care import services
            from custos.care.models import ContactTask
            from custos.ledger.models import Entry

            print(
                f"bench/care on {vendor}: {args.customers:,} customers, cadence {services.cadence()} days, "
                f"a purchase this month for 1 in {args.buyers}"
            )
            marks = load(args.customers, args.buyers, random.Random(18))
            today = marks["today"]
            print(f"  {marks['purchases']:,} purchases in the last 30 days")
            rows, bare_s = bare_insert(today)
            if vendor == "postgresql":
                with connection.cursor() as cursor:
                    cursor.execute("VACUUM ANALYZE care_contacttask")
            made, job_s, kinds = _timed(today)
            tasks = ContactTask.objects.count()
            entries = Entry.objects.filter(kind="care.task_created").count()
            assert made == rows == tasks == entries, (made, rows, tasks, entries)
            again, again_s, _ = _timed(today)
            assert again == 0, again
            tomorrow, tomorrow_s, _ = _timed(today + timedelta(days=1))
            bare_rate, job_rate = rows / bare_s, made / job_s
            print(f"  bare INSERT    {rows:>9,} tasks in {bare_s:8.2f} s  {bare_rate:>10,.0f} tasks/s")
            print(
                f"  nightly job    {made:>9,} tasks in {job_s:8.2f} s  {job_rate:>10,.0f} tasks/s"
                f"  ({kinds['return_visit']:,} return visits, {kinds['after_purchase']:,} after purchases;"
                " one ledger entry per task)"
            )
            print(f"  ratio job/bare: {job_rate / bare_rate:.2f}")
            print(f"  again, same night:   {again:>7,} tasks in {again_s:8.2f} s")
            print(f"  the next night:      {tomorrow:>7,} tasks in {tomorrow_s:8.2f} s")
        finally:
            connection.close()
            if args.postgres and not args.keep:
                common.admin(args.postgres, f"DROP DATABASE IF EXISTS {BENCH_DB}")


if __name__ == "__main__":
    main()
