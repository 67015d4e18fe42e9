"""`python -m bench.ledger_keys --postgres URL [--months 36 --entries 3600000 --batch 10000]`: the
ledger's duplicate check (ledger.services._existing, run on every append_batch) on a ledger
partitioned by month, read from the key table the partitioning keeps beside the same query on the
partitioned ledger_entry (every month's partition probed), in the same run.

Loads ENTRIES entries spread evenly over MONTHS monthly partitions with one INSERT ... SELECT
generate_series (the entries' hashes are placeholders: only (source, source_id, seq) is read here;
the partitioning's trigger fills ledger_entry_key as in production), then checks batches of BATCH
keys, half of them present, each way. PostgreSQL only: SQLite is not partitioned.
Works in a scratch database (CUSTOS_BENCH_DB, default custos_bench_ledger_keys), dropped unless --keep.
"""

import argparse
import os
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime

from bench import common

BENCH_DB = os.environ.get("CUSTOS_BENCH_DB", "custos_bench_ledger_keys")
SOURCE = "bench"


def load(months: int, entries: int) -> None:
    from django.db import connection

    from custos.core import partitioning

    now = datetime.now(UTC)
    y, m = now.year, now.month
    for _ in range(months - 1):
        y, m = (y - 1, 12) if m == 1 else (y, m - 1)
    first = datetime(y, m, 1, tzinfo=UTC)
    span = (now - first).total_seconds()
    with connection.cursor() as cur:
        for yy, mm in partitioning._months(first, now, 0):
            partitioning._create(cur, "ledger_entry", "ledger_entry", yy, mm)
        began = time.perf_counter()
        cur.execute(
            """INSERT INTO ledger_entry (seq, kind, occurred_at, recorded_at, actor_id, unit_id, customer_id,
                   source, source_id, payload, payload_hash, leaf_hash)
               SELECT g, 'bench.item', t, t, NULL, NULL, NULL, %s, 'k' || g, NULL, '', '\\x00'::bytea
               FROM (SELECT g, %s::timestamptz + make_interval(secs => %s * g / %s) AS t
                     FROM generate_series(0, %s - 1) g) x""",
            [SOURCE, first, span, entries, entries],
        )
        cur.execute("VACUUM ANALYZE ledger_entry_key")
        cur.execute("ANALYZE ledger_entry")
        cur.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = 'ledger_entry'::regclass")
        (parts,) = cur.fetchone()
    print(f"loaded {entries:,} entries into {parts} partitions in {time.perf_counter() - began:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", required=True, help="postgres://user@host:port/db (a scratch db is made beside it)")
    parser.add_argument("--months", type=int, default=36)
    parser.add_argument("--entries", type=int, default=3_600_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    if args.months < 1 or args.entries < args.batch or args.batch < 2:
        parser.error("--months at least 1, --batch at least 2, --entries at least --batch")
    tmp = tempfile.mkdtemp(prefix="custos-bench-ledger-keys-")
    common.setup_django(tmp, args.postgres, BENCH_DB)
    try:
        from django.db import connection

        from custos.ledger import services

        load(args.months, args.entries)
        sql = services._sql(connection)
        assert "ledger_entry_key" in sql["any"], "the duplicate check reads the key table"
        baseline = dict(sql, any=sql["any"].replace("FROM ledger_entry_key", "FROM ledger_entry"))
        rng = random.Random(2026)
        ours, bare = [], []
        for _ in range(args.runs):
            present = {(SOURCE, f"k{rng.randrange(args.entries)}") for _ in range(args.batch // 2)}
            absent = {(SOURCE, f"new{rng.randrange(10**12)}") for _ in range(args.batch - len(present))}
            keys = present | absent
            with connection.cursor() as cur:
                for way, into in ((sql, ours), (baseline, bare)):
                    began = time.perf_counter()
                    found = services._existing(cur, way, keys)
                    into.append((time.perf_counter() - began) * 1000)
                    assert set(found) == present, "every present key found, no other"
        p50, p50b = statistics.median(ours), statistics.median(bare)
        print(f"duplicate check, batches of {args.batch:,} keys (half present), {args.runs} runs:")
        print(f"  key table (ours)          p50 {p50:8.1f} ms   max {max(ours):8.1f} ms")
        print(f"  partitioned ledger_entry  p50 {p50b:8.1f} ms   max {max(bare):8.1f} ms")
        print(f"  ratio ours/ledger_entry   {p50 / p50b:.2f}")
    finally:
        if not args.keep:
            common.drop(args.postgres, BENCH_DB)


if __name__ == "__main__":
    main()
