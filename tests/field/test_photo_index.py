"""The near-identical photo check finds its candidates by index (the pHash cut into four 16-bit bands),
not by reading every earlier photo, and finds exactly what a full comparison finds."""

import random
from datetime import timedelta

from django.utils import timezone

from custos.field import photos, rules
from custos.field.models import Visit


def _flip(phash: str, n: int, rng: random.Random) -> str:
    value = int(phash, 16)
    for bit in rng.sample(range(64), n):
        value ^= 1 << bit
    return f"{value:016x}"


def test_any_hash_within_the_threshold_shares_a_looked_up_band():
    rng = random.Random(7)
    for bits in (0, 3, 4, 10, 15, 19):
        for _ in range(300):
            a = f"{rng.getrandbits(64):016x}"
            b = _flip(a, rng.randint(0, bits), rng)
            near = photos.band_neighbours(a, bits)
            assert any(band in near[i] for i, band in enumerate(photos.bands(b))), (bits, a, b)
    assert photos.band_neighbours("0" * 16, 20) is None  # too wide: the caller compares all
    assert photos.bands("0123456789abcdef") == [0x0123, 0x4567, 0x89AB, 0xCDEF]
    assert len(photos.band_neighbours("0" * 16, 10)[0]) == 1 + 16 + 120


def _visits(field, n, rng, at):
    sales, shop = field.company.sales_a, field.shops[0]
    rows = []
    for i in range(n):
        phash = f"{rng.getrandbits(64):016x}"
        rows.append(
            Visit(
                employee=sales, unit_id=sales.unit_id, customer=shop.customer, site=shop.site,
                checked_in_at=at - timedelta(minutes=i + 1), lat=shop.site.lat, lon=shop.site.lon,
                accuracy_m=10, photo_sha256=f"{rng.getrandbits(256):064x}", photo_phash=phash,
                **{f"photo_band{b}": v for b, v in enumerate(photos.bands(phash))},
            )
        )  # fmt: skip
    return Visit.objects.bulk_create(rows, batch_size=1000)


def _brute_force(visit, bits):
    best = None
    for other in Visit.objects.exclude(pk=visit.pk):
        d = photos.distance(visit.photo_phash, other.photo_phash)
        if d <= bits and (best is None or (d, other.pk) < (best[1], best[0])):
            best = (other.pk, d)
    return best


def test_a_near_identical_photo_is_found_among_thousands_by_index(field):
    rng = random.Random(2026)
    now = timezone.now()
    earlier = _visits(field, 4000, rng, now)
    twin = earlier[1234]
    probe = _visits(field, 1, rng, now + timedelta(hours=1))[0]
    near = _flip(twin.photo_phash, 9, rng)  # the same picture cropped and re-encoded: 9 bits apart
    Visit.objects.filter(pk=probe.pk).update(
        photo_phash=near, **{f"photo_band{b}": v for b, v in enumerate(photos.bands(near))}
    )
    probe.refresh_from_db()

    candidates = rules.photo_candidates(probe, 10)
    assert twin.pk in candidates
    # A handful of 4,000 are read, not all of them (random 16-bit bands within 2 bits: ~0.8 %).
    assert len(candidates) < 100, len(candidates)
    found, bits = rules.reused_photo(probe, 10)
    assert (found.pk, bits) == (twin.pk, 9) == _brute_force(probe, 10)

    # Same answer as comparing everything, for random probes and thresholds (none found included).
    for threshold in (4, 10, 16, 24):
        for _ in range(5):
            other = earlier[rng.randrange(len(earlier))]
            flipped = _flip(other.photo_phash, rng.randint(0, threshold + 3), rng)
            Visit.objects.filter(pk=probe.pk).update(
                photo_phash=flipped, **{f"photo_band{b}": v for b, v in enumerate(photos.bands(flipped))}
            )
            probe.refresh_from_db()
            got = rules.reused_photo(probe, threshold)
            assert (None if got is None else (got[0].pk, got[1])) == _brute_force(probe, threshold)


def test_the_same_file_is_found_by_its_sha256_and_old_visits_are_not_read(field):
    rng = random.Random(5)
    now = timezone.now()
    [old] = _visits(field, 1, rng, now - timedelta(days=400))
    [recent] = _visits(field, 1, rng, now - timedelta(days=3))
    [probe] = _visits(field, 1, rng, now)
    Visit.objects.filter(pk=probe.pk).update(photo_sha256=recent.photo_sha256)
    probe.refresh_from_db()
    got = rules.reused_photo(probe, 0)
    assert got is not None and got[0].pk == recent.pk and got[1] == 0
    Visit.objects.filter(pk=probe.pk).update(photo_sha256=old.photo_sha256)
    probe.refresh_from_db()
    assert rules.reused_photo(probe, 0) is None  # more than a year ago
