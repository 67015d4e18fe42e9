"""Fake-visit rules: what in a check-in or a batch of track points should raise an alert.

Each rule returns custos.alerts Signals; custos.alerts.services.raise_signals opens the alert (or
joins the open one of the same incident) with its `alert.raised` entry, in the transaction of the
check-in or track batch that caused it. The limits are per-unit alert thresholds (the alerts'
settings page), registered by FieldConfig.ready().
"""

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.alerts import rules as alert_rules
from custos.alerts import thresholds
from custos.alerts.rules import Signal
from custos.field import geo, photos
from custos.field.models import KIND_LABELS, Area, TrackPoint, Visit
from custos.org.models import Employee

CATEGORY = "fake_visit"
CATEGORY_LABEL = _("Fake visit")
# Position fixes worse than this say too little to accuse anyone of anything.
TRUSTED_ACCURACY_M = 200
# A jump shorter than this is GPS noise whatever the clock says.
SPEED_MIN_JUMP_M = 1000
PHOTO_LOOKBACK = timedelta(days=365)

THRESHOLDS = {
    "field_far_m": (
        300,
        (20, 100_000),
        _("Metres outside a customer's geofence that make a check-in far from the site"),
    ),
    "field_speed_kmh": (200, (20, 2000), _("Speed between two positions that is impossible (km/h)")),
    "field_photo_bits": (
        10,
        (0, 32),
        _("Perceptual-hash bits within which two check-in photos are the same picture"),
    ),
    "field_area_grace_m": (100, (0, 50_000), _("Metres outside the assigned area tolerated during a shift")),
}


def register() -> None:
    """Make the fake-visit rules known to the alerts app: labels, category and thresholds."""
    alert_rules.RULES.update(KIND_LABELS)
    alert_rules.CATEGORIES[CATEGORY] = CATEGORY_LABEL
    for key, (default, bounds, label) in THRESHOLDS.items():
        thresholds.DEFAULTS.setdefault(key, default)
        thresholds.BOUNDS.setdefault(key, bounds)
        thresholds.LABELS.setdefault(key, label)


def limits(employee: Employee) -> dict[str, int]:
    return thresholds.values(employee.unit.path)


def _signal(
    rule: str, severity: str, employee: Employee, seqs: list[int], at: datetime, detail: str, **extra
):
    return Signal(
        rule=rule,
        category=CATEGORY,
        severity=severity,
        seqs=[s for s in seqs if s],
        at=at,
        employee_id=employee.pk,
        unit_id=employee.unit_id,
        detail=detail,
        **extra,
    )


def _day(at: datetime) -> str:
    return timezone.localdate(at).isoformat()


def check_in_signals(visit: Visit, employee: Employee) -> list[Signal]:
    """Far from the site, a reused photo, a mock location: judged the moment the phone checks in."""
    values = limits(employee)
    found = []
    seq = visit.entry_seq
    if visit.distance_m is not None and visit.distance_m > values["field_far_m"]:
        found.append(
            _signal(
                "far_check_in", "high", employee, [seq], visit.checked_in_at,
                f"{visit.customer.name}: {visit.distance_m:,.0f} m",
                customer_id=visit.customer_id, key=f"far_check_in:{visit.pk}",
            )
        )  # fmt: skip
    twin = reused_photo(visit, values["field_photo_bits"])
    if twin is not None:
        other, bits = twin
        found.append(
            _signal(
                "photo_reused", "high", employee, [other.entry_seq, seq], visit.checked_in_at,
                f"#{visit.pk} ≈ #{other.pk} ({bits} bit)",
                customer_id=visit.customer_id, key=f"photo_reused:{visit.pk}",
            )
        )  # fmt: skip
    if visit.mock_location:
        found.append(
            _signal(
                "mock_location", "high", employee, [seq], visit.checked_in_at, str(visit.customer.name),
                customer_id=visit.customer_id, key=f"mock_location:{employee.pk}:{_day(visit.checked_in_at)}",
            )
        )  # fmt: skip
    return found


def reused_photo(visit: Visit, bits: int) -> tuple[Visit, int] | None:
    """An earlier visit (anyone's, within a year) whose photo is the same picture, and how many
    bits their hashes differ by; the closest one."""
    mine = int(visit.photo_phash, 16)
    best = None
    for pk, (phash, sha) in photo_candidates(visit, bits).items():
        d = 0 if sha == visit.photo_sha256 else (mine ^ int(phash, 16)).bit_count()
        if d <= bits and (best is None or (d, pk) < (best[1], best[0])):
            best = (pk, d)
    if best is None:
        return None
    return Visit.objects.get(pk=best[0]), best[1]


def photo_candidates(visit: Visit, bits: int) -> dict[int, tuple[str, str]]:
    """{visit id: (pHash, SHA-256)} of the earlier visits that may hold the same picture, found by
    index look-ups rather than a scan: the same file by its SHA-256, and the hashes sharing a band
    within bits // 4 of this one's (custos.field.photos.band_neighbours). Every visit within
    `bits` is among them; the few others are ruled out bit by bit by the caller."""
    since = visit.checked_in_at - PHOTO_LOOKBACK
    # Unordered: the model's newest-first ordering would tempt PostgreSQL into walking the date
    # index of the whole year and filtering, instead of the band indexes.
    earlier = (
        Visit.objects.filter(checked_in_at__gte=since)
        .exclude(pk=visit.pk)
        .order_by()
        .values_list("pk", "photo_phash", "photo_sha256")
    )
    neighbours = photos.band_neighbours(visit.photo_phash, bits)
    if neighbours is None:  # a threshold too wide for the bands: compare every hash of the year
        return {pk: (phash, sha) for pk, phash, sha in earlier.iterator(chunk_size=5000)}
    rows = {}
    lookups = [earlier.filter(photo_sha256=visit.photo_sha256)] + [
        earlier.filter(**{f"photo_band{i}__in": values}) for i, values in enumerate(neighbours)
    ]
    for qs in lookups:
        for pk, phash, sha in qs:
            rows[pk] = (phash, sha)
    return rows


def track_signals(employee: Employee, fresh: list[TrackPoint], seq: int | None) -> list[Signal]:
    """Impossible speed, mock locations, and leaving the assigned area during a shift."""
    if not fresh:
        return []
    values = limits(employee)
    found = []
    mocked = [p for p in fresh if p.mock_location]
    if mocked:
        found.append(
            _signal(
                "mock_location", "high", employee, [seq], mocked[0].at, f"{len(mocked)}",
                key=f"mock_location:{employee.pk}:{_day(mocked[0].at)}",
            )
        )  # fmt: skip
    found += _speed(employee, fresh, seq, values["field_speed_kmh"])
    found += _left_area(employee, fresh, seq, values["field_area_grace_m"])
    return found


def _speed(employee: Employee, fresh: list[TrackPoint], seq, limit_kmh: int) -> list[Signal]:
    first, last = min(p.at for p in fresh), max(p.at for p in fresh)
    # The neighbours of the new points, old ones included: a batch may land between two others.
    window = list(
        TrackPoint.objects.filter(
            employee=employee, at__gte=first - timedelta(hours=2), at__lte=last + timedelta(hours=2)
        ).order_by("at")
    )
    new = {p.at for p in fresh}
    trusted = [p for p in window if p.accuracy_m <= TRUSTED_ACCURACY_M]
    for a, b in zip(trusted, trusted[1:], strict=False):
        if a.at not in new and b.at not in new:
            continue
        metres = geo.distance_m(a.lat, a.lon, b.lat, b.lon)
        seconds = max((b.at - a.at).total_seconds(), 1.0)
        kmh = metres / seconds * 3.6
        if metres >= SPEED_MIN_JUMP_M and kmh > limit_kmh:
            detail = f"{metres / 1000:.1f} km / {seconds / 60:.0f} min = {kmh:,.0f} km/h"
            return [
                _signal(
                    "impossible_speed", "high", employee, [a.entry_seq, b.entry_seq, seq], b.at, detail,
                    key=f"impossible_speed:{employee.pk}:{_day(b.at)}",
                )
            ]  # fmt: skip
    return []


def _on_shift(area: Area, at: datetime) -> bool:
    local = timezone.localtime(at)
    moment = local.time()
    return any(s.weekday == local.weekday() and s.starts <= moment < s.ends for s in area.shifts.all())


def _left_area(employee: Employee, fresh: list[TrackPoint], seq, grace_m: int) -> list[Signal]:
    areas = list(Area.objects.filter(employee=employee, removed_at__isnull=True).prefetch_related("shifts"))
    if not areas:
        return []
    for point in sorted(fresh, key=lambda p: p.at):
        if point.accuracy_m > TRUSTED_ACCURACY_M:
            continue
        working = [a for a in areas if _on_shift(a, point.at)]
        if not working:
            continue
        outside = min(
            geo.outside_by_m(
                point.lat, point.lon, center=(a.lat, a.lon) if a.lat is not None else None,
                radius_m=a.radius_m, polygon=a.polygon,
            )
            for a in working
        )  # fmt: skip
        if outside > grace_m:
            return [
                _signal(
                    "left_area", "medium", employee, [seq], point.at,
                    f"{working[0].name}: {outside:,.0f} m",
                    key=f"left_area:{employee.pk}:{_day(point.at)}",
                )
            ]  # fmt: skip
    return []
