"""Ledger throughput beside bare baselines measured in the same run.

    .venv/bin/python -m bench.ledger [--postgres URL] [--entries 20000] [--verify-entries 1000000]

Append: `append_batch` of realistic chat events in batches of 1, 100 and 1000 (one transaction
per batch), beside a bare executemany INSERT of the very rows the ledger wrote, in the same
batches and transactions, into plain tables with the same columns: one with the same indexes
(the database does the same work per row), one with only the primary key.

Verify: `custos.ledger.verify` over a log of --verify-entries entries, beside bare
hashlib.sha256 over the same bytes it hashes (every payload, every 0x00||leaf data, every
0x01||left||right interior node), held in memory, one call per item as verify makes them.

SQLite runs on a temporary file database in WAL mode, as the product does; PostgreSQL on a
database `custos_bench` created at the URL's server and dropped afterwards.
"""

import argparse
import hashlib
import os
import random
import sys
import tempfile
import time
from datetime import UTC

from bench.common import admin

EPILOG = "PostgreSQL: pass e.g. --postgres postgres://postgres@127.0.0.1:5432/postgres"
BENCH_DB = "custos_bench"


def setup_django(tmp: str, postgres_url: str | None) -> list[str]:
    os.environ["DJANGO_SETTINGS_MODULE"] = "custos.settings"
    os.environ["CUSTOS_DATA_DIR"] = tmp
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    os.environ.setdefault("CUSTOS_LOG_LEVEL", "WARNING")
    from django.conf import settings

    from custos.settings import database_config

    aliases = ["default"]
    if postgres_url:
        settings.DATABASES["pg"] = database_config(postgres_url.rsplit("/", 1)[0] + "/" + BENCH_DB)
        aliases.append("pg")
    import django

    django.setup()
    from django.core.management import call_command

    for alias in aliases:
        call_command("migrate", database=alias, verbosity=0)
    return aliases


# ---- realistic events ---------------------------------------------------------------------------

WORDS = ["您好", "这款", "沙发", "现在", "活动价", "元", "明天", "下午", "方便", "来店里", "看看", "吗", "已经", "安排", "顺丰", "发货", "单号", "谢谢", "支持", "好的"]  # fmt: skip


def events(n: int, start: int, rng: random.Random) -> list:
    from custos.ledger.services import Event

    out = []
    for i in range(start, start + n):
        text = "".join(rng.choice(WORDS) for _ in range(rng.randint(4, 24)))
        payload = {
            "msgid": f"{i:016x}_{rng.getrandbits(40):010x}",
            "from": f"wm{rng.getrandbits(48):012x}",
            "tolist": [f"wo{rng.getrandbits(48):012x}"],
            "msgtype": "text",
            "text": {"content": text},
            "msgtime": 1_790_000_000_000 + i * 997,
        }
        out.append(
            Event(
                "chat.message",
                payload,
                actor_id=rng.randint(1, 400),
                unit_id=rng.randint(1, 40),
                customer_id=rng.randint(1, 50_000),
                source="wecom",
                source_id=payload["msgid"],
            )
        )
    return out


# ---- append ---------------------------------------------------------------------------------------


def plain_tables(alias: str) -> None:
    """bench_same: same columns and indexes as ledger_entry, no triggers; bench_pk: primary key only."""
    from django.db import connections

    connection = connections[alias]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("DROP TABLE IF EXISTS bench_same, bench_pk")
            cursor.execute("CREATE TABLE bench_same (LIKE ledger_entry INCLUDING ALL)")
            cursor.execute("CREATE TABLE bench_pk (LIKE ledger_entry INCLUDING DEFAULTS)")
            cursor.execute("ALTER TABLE bench_pk ADD PRIMARY KEY (seq)")
            return
        cursor.execute(
            "SELECT type, sql FROM sqlite_master WHERE tbl_name = 'ledger_entry' AND sql IS NOT NULL"
        )
        ddl = [(kind, sql) for kind, sql in cursor.fetchall() if kind in ("table", "index")]
        for table in ("bench_same", "bench_pk"):
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
        for kind, sql in ddl:
            cursor.execute(sql.replace("ledger_entry", "bench_same"))
            if kind == "table":
                cursor.execute(sql.replace("ledger_entry", "bench_pk").split(", CONSTRAINT")[0] + ")")


def written_rows(alias: str, first: int, last: int) -> list[tuple]:
    """The rows the ledger wrote for seqs first..last-1, as the database holds them."""
    from django.db import connections

    connection = connections[alias]
    # On SQLite, CAST keeps the stored text instead of Django's datetime converter.
    times = (
        "occurred_at, recorded_at"
        if connection.vendor == "postgresql"
        else "CAST(occurred_at AS TEXT), CAST(recorded_at AS TEXT)"
    )
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT seq, kind, {times}, actor_id, unit_id, customer_id, source, source_id,"
            " payload, payload_hash, leaf_hash FROM ledger_entry WHERE seq >= %s AND seq < %s ORDER BY seq",
            [first, last],
        )
        return [tuple(r) for r in cursor.fetchall()]


def bare_insert(alias: str, table: str, rows: list[tuple], batch: int) -> float:
    from django.db import connections, transaction

    sql = f"INSERT INTO {table} VALUES ({', '.join(['%s'] * 12)})"
    started = time.perf_counter()
    for i in range(0, len(rows), batch):
        with transaction.atomic(using=alias), connections[alias].cursor() as cursor:
            cursor.executemany(sql, rows[i : i + batch])
    return time.perf_counter() - started


def ledger_size(alias: str) -> int:
    from custos.ledger import tree

    return tree.log_size(alias)


def bench_append(alias: str, n: int, rng: random.Random) -> None:
    from custos.ledger.services import append_batch

    plain_tables(alias)
    print(f"\nappend on {label(alias)}: entries/s (one transaction per batch)")
    print(
        f"  {'batch':>5} {'entries':>8} {'ledger':>10} {'same indexes':>13} {'ratio':>6} {'pk only':>10} {'ratio':>6}"
    )
    for batch in (1, 100, 1000):
        count = max(batch * 5, min(n, 2000)) if batch == 1 else n
        count -= count % batch
        todo = events(count, ledger_size(alias) + 10_000_000 * batch, rng)
        first = ledger_size(alias)
        started = time.perf_counter()
        for i in range(0, count, batch):
            append_batch(todo[i : i + batch], using=alias)
        ledger = count / (time.perf_counter() - started)
        rows = written_rows(alias, first, first + count)
        same = count / bare_insert(alias, "bench_same", rows, batch)
        pk = count / bare_insert(alias, "bench_pk", rows, batch)
        print(
            f"  {batch:>5} {count:>8} {ledger:>10,.0f} {same:>13,.0f} {ledger / same:>6.0%} {pk:>10,.0f} {ledger / pk:>6.0%}"
        )


# ---- verify ---------------------------------------------------------------------------------------


def grow(alias: str, size: int, rng: random.Random) -> None:
    from custos.ledger import heads
    from custos.ledger.services import append_batch

    have = ledger_size(alias)
    while have < size:
        n = min(1000, size - have)
        append_batch(events(n, 50_000_000 + have, rng), using=alias)
        have += n
        if have % (size // 4 or 1) < 1000:
            heads.sign_head(using=alias)  # a few heads along the way, as the worker would sign them
        if sys.stderr.isatty():
            print(f"\r  building the log: {have:,}/{size:,}", end="", file=sys.stderr)
    if sys.stderr.isatty():
        print("\r" + " " * 60 + "\r", end="", file=sys.stderr)
    heads.sign_head(using=alias)


def settle(alias: str) -> None:
    """The log as a running server holds it: vacuumed and analyzed, as autovacuum would leave it,
    rather than verified while autovacuum works through a million fresh rows beside it."""
    from django.db import connections

    statements = ["VACUUM ANALYZE ledger_entry, ledger_node"] if connections[alias].vendor == "postgresql" else ["ANALYZE"]
    with connections[alias].cursor() as cursor:
        for sql in statements:
            cursor.execute(sql)


def bare_hashing(alias: str, size: int) -> tuple[float, int]:
    """Seconds hashlib.sha256 takes over the bytes verify hashes, prepared chunk by chunk (untimed)."""
    from django.db import connections

    from custos.ledger import hashing

    sha256 = hashlib.sha256
    chunk, spent, total_bytes = 65536, 0.0, 0
    with connections[alias].cursor() as cursor:
        for lo in range(0, size, chunk):
            cursor.execute(
                "SELECT seq, kind, occurred_at, recorded_at, actor_id, unit_id, customer_id, source, source_id,"
                " payload, payload_hash FROM ledger_entry WHERE seq >= %s AND seq < %s ORDER BY seq",
                [lo, lo + chunk],
            )
            items, leaves = [], []
            for (
                seq,
                kind,
                occ,
                rec,
                actor,
                unit,
                customer,
                source,
                source_id,
                payload,
                digest,
            ) in cursor.fetchall():
                if occ.tzinfo is None:  # SQLite's converter hands back naive UTC
                    occ, rec = occ.replace(tzinfo=UTC), rec.replace(tzinfo=UTC)
                data = b"\x00" + hashing.leaf_data(
                    seq,
                    kind,
                    hashing.micros(occ),
                    hashing.micros(rec),
                    actor,
                    unit,
                    customer,
                    source,
                    source_id,
                    digest,
                )
                items.append(payload.encode())
                items.append(data)
                leaves.append(sha256(data).digest())
            level = leaves
            while len(level) > 1:  # the interior nodes' inputs, as the tree has them
                inputs = [b"\x01" + level[i] + level[i + 1] for i in range(0, len(level) - 1, 2)]
                items.extend(inputs)
                level = [sha256(x).digest() for x in inputs] + ([level[-1]] if len(level) % 2 else [])
            total_bytes += sum(map(len, items))
            started = time.perf_counter()
            for x in items:
                sha256(x).digest()
            spent += time.perf_counter() - started
    return spent, total_bytes


def bench_verify(alias: str, size: int, rng: random.Random) -> None:
    from custos.ledger.verify import verify

    print(f"\nverify on {label(alias)}: {size:,} entries")
    grow(alias, size, rng)
    size = ledger_size(alias)
    settle(alias)
    bare, nbytes = bare_hashing(alias, size)
    print(
        f"  bare sha256        {bare:7.2f} s  {size / bare:>10,.0f} entries/s  ({nbytes / 1e6:,.0f} MB, {size * 3 - 1:,} calls)"
    )
    for jobs in sorted({1, os.cpu_count() or 1}):
        started = time.perf_counter()
        report = verify(using=alias, jobs=jobs)
        took = time.perf_counter() - started
        print(
            f"  verify, {jobs} process{'es' if jobs > 1 else '  '} {took:7.2f} s  {size / took:>10,.0f} entries/s"
            f"  {bare / took:4.0%} of bare  ({report.nodes:,} nodes, {report.heads} heads checked)"
        )


def label(alias: str) -> str:
    from django.db import connections

    connection = connections[alias]
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode")
            return f"SQLite {connection.Database.sqlite_version} ({cursor.fetchone()[0]})"
    return f"PostgreSQL {connection.pg_version // 10000} ({BENCH_DB})"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ledger", description=__doc__.split("\n\n")[0], epilog=EPILOG
    )
    parser.add_argument("--postgres", metavar="URL", help="also run on PostgreSQL at this server")
    parser.add_argument("--entries", type=int, default=20_000, help="entries per append run (default 20000)")
    parser.add_argument(
        "--verify-entries", type=int, default=1_000_000, help="log size for verify (default 1000000)"
    )
    parser.add_argument("--only", choices=["append", "verify"], help="run one half")
    parser.add_argument("--no-sqlite", action="store_true", help="PostgreSQL only (with --postgres)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)

    if args.postgres:
        admin(args.postgres, f"DROP DATABASE IF EXISTS {BENCH_DB}")
        admin(args.postgres, f"CREATE DATABASE {BENCH_DB}")
    try:
        with tempfile.TemporaryDirectory(prefix="custos-bench-") as tmp:
            aliases = setup_django(tmp, args.postgres)
            print(f"python {sys.version.split()[0]}, {os.cpu_count()} cpus")
            for alias in aliases:
                if alias == "default" and args.no_sqlite and args.postgres:
                    continue
                rng = random.Random(args.seed)
                if args.only != "verify":
                    bench_append(alias, args.entries, rng)
                if args.only != "append":
                    bench_verify(alias, args.verify_entries, rng)
            from django.db import connections

            connections.close_all()
    finally:
        if args.postgres:
            admin(args.postgres, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
