"""The near-identical check-in photo look-up at a year of visits, beside the full scan it replaced.

    .venv/bin/python -m bench.field_photos [--postgres URL] [--visits 500000] [--probes 50]

indexed   custos.field.rules.reused_photo: the same SHA-256 and the four 16-bit pHash bands within
          bits // 4 (index look-ups), then Hamming distance on those candidates
scan      the previous way, every earlier visit's pHash of the year read and compared in Python

Each probe is a new check-in whose photo is an earlier one with 9 bits flipped (a crop and a
re-encode), so both find it; the figures are per check-in (median of the probes) and the
candidates the indexed way read. SQLite runs on a temporary file database in WAL mode, as the
product does; PostgreSQL on a database `custos_bench_field` created and dropped afterwards.
"""

import argparse
import random
import statistics
import tempfile
import time

from bench import common

BENCH_DB = "custos_bench_field"


def load(n: int, rng: random.Random):
    from datetime import timedelta

    from django.db import connection
    from django.utils import timezone

    from custos.customers.models import Customer
    from custos.field import photos
    from custos.field.models import Visit
    from custos.org import demo as org_demo
    from custos.org.models import Employee

    org_demo.build(2026)
    sales = Employee.objects.get(user__username="sales1")
    customer = Customer.objects.create(name="基准客户", owner=sales, unit=sales.unit)
    now = timezone.now()
    batch = []
    for i in range(n):
        phash = f"{rng.getrandbits(64):016x}"
        batch.append(
            Visit(
                employee=sales, unit_id=sales.unit_id, customer=customer,
                checked_in_at=now - timedelta(seconds=int(i * 60)), lat=23.13, lon=113.36, accuracy_m=10,
                photo_sha256=f"{rng.getrandbits(256):064x}", photo_phash=phash,
                **{f"photo_band{b}": v for b, v in enumerate(photos.bands(phash))},
            )
        )  # fmt: skip
        if len(batch) == 10_000:
            Visit.objects.bulk_create(batch)
            batch = []
    Visit.objects.bulk_create(batch)
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE field_visit")
    return sales, customer, now


def scan(visit, bits: int):
    """The previous reused_photo: every visit of the year, compared in Python."""
    from custos.field.models import Visit
    from custos.field.rules import PHOTO_LOOKBACK

    mine, best = int(visit.photo_phash, 16), None
    rows = (
        Visit.objects.filter(checked_in_at__gte=visit.checked_in_at - PHOTO_LOOKBACK)
        .exclude(pk=visit.pk)
        .values_list("pk", "photo_phash", "photo_sha256")
        .iterator(chunk_size=5000)
    )
    for pk, phash, sha in rows:
        d = 0 if sha == visit.photo_sha256 else (mine ^ int(phash, 16)).bit_count()
        if d <= bits and (best is None or d < best[1]):
            best = (pk, d)
    return best


def run(n: int, probes: int, bits: int, explain: bool = False) -> None:
    from datetime import timedelta

    from custos.field import photos, rules
    from custos.field.models import Visit

    rng = random.Random(2026)
    started = time.perf_counter()
    sales, customer, now = load(n, rng)
    print(f"  loaded {n:,} visits in {time.perf_counter() - started:,.1f} s")
    earlier = list(Visit.objects.order_by("?").values_list("pk", "photo_phash")[:probes])
    indexed, scanned, candidates = [], [], []
    for i, (_twin, phash) in enumerate(earlier):
        value = int(phash, 16)
        for bit in rng.sample(range(64), 9):
            value ^= 1 << bit
        near = f"{value:016x}"
        probe = Visit.objects.create(
            employee=sales, unit_id=sales.unit_id, customer=customer, checked_in_at=now + timedelta(seconds=i + 1),
            lat=23.13, lon=113.36, accuracy_m=10, photo_sha256=f"{rng.getrandbits(256):064x}", photo_phash=near,
            **{f"photo_band{b}": v for b, v in enumerate(photos.bands(near))},
        )  # fmt: skip
        if explain and i == 0:
            since = probe.checked_in_at - rules.PHOTO_LOOKBACK
            qs = Visit.objects.filter(
                checked_in_at__gte=since, photo_band0__in=photos.band_neighbours(near, bits)[0]
            )
            print(
                qs.exclude(pk=probe.pk).values_list("pk", "photo_phash", "photo_sha256").explain(analyze=True)
            )
        t = time.perf_counter()
        found = rules.reused_photo(probe, bits)
        indexed.append((time.perf_counter() - t) * 1000)
        candidates.append(len(rules.photo_candidates(probe, bits)))
        t = time.perf_counter()
        old = scan(probe, bits)
        scanned.append((time.perf_counter() - t) * 1000)
        assert found is not None and old is not None and found[1] == old[1], (found, old)
        probe.delete()
    print(f"  {'':<9} {'median':>10} {'max':>10}")
    print(f"  {'indexed':<9} {statistics.median(indexed):>7,.1f} ms {max(indexed):>7,.1f} ms"
          f"   candidates read: median {statistics.median(candidates):,.0f}, max {max(candidates):,}")  # fmt: skip
    print(f"  {'scan':<9} {statistics.median(scanned):>7,.1f} ms {max(scanned):>7,.1f} ms   rows read: {n:,}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--postgres", metavar="URL")
    parser.add_argument("--visits", type=int, default=500_000)
    parser.add_argument("--probes", type=int, default=30)
    parser.add_argument("--bits", type=int, default=10, help="field_photo_bits (default 10)")
    parser.add_argument("--explain", action="store_true", help="print the plan of one band look-up")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="custos-bench-field-") as tmp:
        vendor = common.setup_django(tmp, args.postgres, BENCH_DB)
        print(f"{vendor}: {args.visits:,} visits, {args.probes} check-ins, threshold {args.bits} bits")
        try:
            run(args.visits, args.probes, args.bits, args.explain)
        finally:
            if args.postgres:
                from django.db import connections

                connections.close_all()
                common.admin(args.postgres, f"DROP DATABASE IF EXISTS {BENCH_DB}")


if __name__ == "__main__":
    main()
