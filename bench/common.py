"""What every benchmark needs: a scratch database on the server it is pointed at, and Django on it."""

import os
import sys
import time
from datetime import datetime


def admin(postgres_url: str, sql: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE) on the server of postgres_url."""
    import psycopg

    with psycopg.connect(postgres_url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(sql)


def drop(postgres_url: str, bench_db: str) -> None:
    """The scratch database gone, after Django's connections to it are closed."""
    from django.db import connections

    connections.close_all()
    admin(postgres_url, f"DROP DATABASE IF EXISTS {bench_db}")


def setup_django(tmp: str, postgres_url: str | None, bench_db: str) -> str:
    """Django on a fresh database (bench_db on that PostgreSQL server, else SQLite in tmp), migrated.

    Returns the database vendor.
    """
    os.environ["DJANGO_SETTINGS_MODULE"] = "custos.settings"
    os.environ["CUSTOS_DATA_DIR"] = tmp
    os.environ.setdefault("CUSTOS_LOG_LEVEL", "WARNING")
    if postgres_url:
        admin(postgres_url, f"DROP DATABASE IF EXISTS {bench_db}")
        admin(postgres_url, f"CREATE DATABASE {bench_db}")
        os.environ["DATABASE_URL"] = postgres_url.rsplit("/", 1)[0] + "/" + bench_db
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connection

    return connection.vendor


def chain():
    """A head office, two regions of three stores, four salespeople a store (through the org
    services): (hq, stores, {store id: [employee ids]}), what the scale benches load customers onto."""
    from custos.org import services as org
    from custos.org.models import Role, Unit

    hq = org.create_unit(actor=None, name="总部", kind=Unit.Kind.HQ, parent=None)
    stores = []
    for r in range(2):
        region = org.create_unit(actor=None, name=f"区域{r}", kind=Unit.Kind.REGION, parent=hq)
        for s in range(3):
            stores.append(
                org.create_unit(actor=None, name=f"门店{r}-{s}", kind=Unit.Kind.STORE, parent=region)
            )
    staff = {}
    for i, store in enumerate(stores):
        staff[store.pk] = [
            org.create_employee(
                actor=None,
                name=f"导购{i}-{k}",
                username=f"s{i}_{k}",
                password="bench-password-2026",
                unit=store,
                role=Role.SALES,
            ).pk
            for k in range(4)
        ]
    return hq, stores, staff


def month_partitions(cur, first: datetime, now: datetime) -> None:
    """The message table's partition for each month of the load (PostgreSQL partitions it by month,
    archive migration 0012), as the daily job would have made them while the messages came in."""
    from custos.core import partitioning

    if not partitioning.is_partitioned(cur, "archive_message"):
        return
    for y, m in partitioning._months(first, now, 0):
        partitioning._create(cur, "archive_message", "archive_message", y, m)


def rebuild(cur, indexes) -> None:
    """The indexes dropped for the load, from their own definitions. A partitioned table's read
    "ON ONLY" (the parent alone, left invalid): without it, every partition's index is built too."""
    for name, definition in indexes:
        began = time.perf_counter()
        cur.execute(definition.replace(" ON ONLY ", " ON "))
        print(f"  index {name}: {time.perf_counter() - began:.1f} s", file=sys.stderr, flush=True)
