"""Every write of field work, each in one transaction with its ledger entry.

From the phone (device token, signed): check-in, check-out with the visit report, track points.
From people (managers and up): customer sites with their geofence, areas with shifts.
The fake-visit rules run in the same transaction as the check-in or track batch they judge.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, time, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access import policy
from custos.access.models import ApiToken
from custos.alerts.models import Alert
from custos.alerts.services import raise_signals
from custos.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from custos.customers import activity
from custos.customers import selectors as customer_selectors
from custos.customers.models import Customer, FollowUp
from custos.field import geo, photos, rules
from custos.field.models import Area, Shift, Site, TrackPoint, Visit
from custos.ledger.services import Event, append, append_batch
from custos.org import selectors as org_selectors
from custos.org.models import Employee

SOURCE = "field"
# A phone out of coverage sends later; a week late is still the day it happened.
MAX_AGE = timedelta(days=7)
CLOCK_SKEW = timedelta(minutes=5)
MAX_POINTS = 1000


@dataclass
class Position:
    lat: float
    lon: float
    accuracy_m: float
    at: datetime
    mock_location: bool = False


def check_position(p: Position, *, now: datetime | None = None) -> Position:
    if not (-90 <= p.lat <= 90 and -180 <= p.lon <= 180):
        raise InvalidInput(_("The position is outside [-90, 90] x [-180, 180]."))
    if not (0 <= p.accuracy_m <= 100_000):
        raise InvalidInput(_("The accuracy must be between 0 and 100,000 metres."))
    at = p.at if timezone.is_aware(p.at) else timezone.make_aware(p.at)
    now = now or timezone.now()
    if at > now + CLOCK_SKEW:
        raise InvalidInput(
            _("The time %(at)s is in the future; check the phone's clock.") % {"at": at.isoformat()}
        )
    if at < now - MAX_AGE:
        raise InvalidInput(_("The time %(at)s is more than 7 days ago.") % {"at": at.isoformat()})
    p.at = at
    return p


def device_employee(token: ApiToken) -> Employee:
    """The employee whose work phone signed the request: field work is per phone, not per connector."""
    if token.kind != ApiToken.Kind.DEVICE or token.employee_id is None:
        raise Forbidden(_("Field work is reported by an employee's work phone (a device token)."))
    return token.employee


def _customer_for(employee: Employee, customer_id: int) -> Customer:
    customer = customer_selectors.customers_visible(employee).filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("Customer not found."))
    return customer


def _nearest_site(customer: Customer, lat: float, lon: float) -> tuple[Site | None, float | None]:
    best: tuple[Site | None, float | None] = (None, None)
    for site in Site.objects.filter(customer=customer, removed_at__isnull=True):
        d = geo.outside_by_m(
            lat, lon, center=(site.lat, site.lon), radius_m=site.radius_m, polygon=site.polygon
        )
        if best[1] is None or d < best[1]:
            best = (site, d)
    return best


def _add_point(employee: Employee, p: Position, seq: int | None) -> None:
    TrackPoint.objects.bulk_create(
        [TrackPoint(employee=employee, at=p.at, lat=p.lat, lon=p.lon, accuracy_m=p.accuracy_m,
                    mock_location=p.mock_location, entry_seq=seq)],
        ignore_conflicts=True,
    )  # fmt: skip


@transaction.atomic
def check_in(
    token: ApiToken, *, customer_id: int, position: Position, photo_sha256: str, address: str = ""
) -> tuple[Visit, list[Alert] | None]:
    """A check-in at a customer's: the position, the photo (already in the blob store) and its
    watermark. The same check-in sent twice (a phone that lost the answer) is the one visit, and
    its alerts None (not raised again)."""
    employee = device_employee(token)
    position = check_position(position)
    customer = _customer_for(employee, customer_id)
    address = (address or "").strip()[:200]
    sha256 = photo_sha256.lower()
    found = Visit.objects.filter(employee=employee, customer=customer, checked_in_at=position.at).first()
    if found is not None:
        return found, None
    known = Visit.objects.filter(photo_sha256=sha256).values_list("photo_phash", flat=True).first()
    phash = known or photos.stored_phash(sha256)
    site, distance = _nearest_site(customer, position.lat, position.lon)
    watermark = {
        "time": timezone.localtime(position.at).isoformat(),
        "lat": position.lat,
        "lon": position.lon,
        "accuracy_m": position.accuracy_m,
        "address": address or (site.address if site else ""),
        "employee": employee.name,
        "employee_no": employee.employee_no,
    }
    visit = Visit.objects.create(
        employee=employee,
        unit_id=employee.unit_id,
        customer=customer,
        site=site,
        token_id=token.pk,
        checked_in_at=position.at,
        lat=position.lat,
        lon=position.lon,
        accuracy_m=position.accuracy_m,
        mock_location=position.mock_location,
        distance_m=None if distance is None else round(distance, 1),
        photo_sha256=sha256,
        photo_phash=phash,
        **{f"photo_band{i}": band for i, band in enumerate(photos.bands(phash))},
        watermark=watermark,
    )
    entry = append(
        "field.checked_in",
        {
            "visit": visit.pk,
            "site": site.pk if site else None,
            "distance_m": visit.distance_m,
            "mock_location": position.mock_location,
            "photo": {"sha256": sha256, "phash": phash},
            "watermark": watermark,
            "token": token.pk,
        },
        actor_id=employee.pk,
        unit_id=employee.unit_id,
        customer_id=customer.pk,
        source=SOURCE,
        source_id=f"checkin:{visit.pk}",
        occurred_at=position.at,
    )
    visit.entry_seq = entry.seq
    visit.save(update_fields=["entry_seq"])
    _add_point(employee, position, entry.seq)
    raised = raise_signals(rules.check_in_signals(visit, employee))
    return visit, raised


@transaction.atomic
def check_out(
    token: ApiToken, *, visit_id: int, position: Position, report: str = "", outcome: str = ""
) -> Visit:
    """The end of a visit; its report is a visit follow-up on the customer's file, seen at once by
    the managers whose scope holds the customer."""
    employee = device_employee(token)
    position = check_position(position)
    visit = Visit.objects.select_for_update().filter(pk=visit_id, employee=employee).first()
    if visit is None:
        raise NotFound(_("Visit not found."))
    if visit.checked_out_at is not None:
        if visit.checked_out_at == position.at:
            return visit  # the same check-out sent again
        raise Conflict(_("This visit was checked out at %(at)s.") % {"at": visit.checked_out_at.isoformat()})
    if position.at < visit.checked_in_at:
        raise InvalidInput(_("The check-out is before the check-in."))
    report, outcome = (report or "").strip(), (outcome or "").strip()
    if report:
        visit.follow_up = activity.add_follow_up(
            actor=employee,
            customer=visit.customer,
            kind=FollowUp.Kind.VISIT,
            content=report,
            outcome=outcome,
            occurred_at=position.at,
            ledger_source=SOURCE,
        )
    entry = append(
        "field.checked_out",
        {
            "visit": visit.pk,
            "lat": position.lat,
            "lon": position.lon,
            "accuracy_m": position.accuracy_m,
            "minutes": int((position.at - visit.checked_in_at).total_seconds() // 60),
            "follow_up": visit.follow_up_id,
        },
        actor_id=employee.pk,
        unit_id=visit.unit_id,
        customer_id=visit.customer_id,
        source=SOURCE,
        source_id=f"checkout:{visit.pk}",
        occurred_at=position.at,
    )
    visit.checked_out_at = position.at
    visit.out_lat, visit.out_lon, visit.out_accuracy_m = position.lat, position.lon, position.accuracy_m
    visit.report = report[:2000]
    visit.out_entry_seq = entry.seq
    visit.save()
    _add_point(employee, position, entry.seq)
    if position.mock_location:
        raise_signals(rules.track_signals(employee, [TrackPoint(employee=employee, at=position.at, lat=position.lat,
                      lon=position.lon, accuracy_m=position.accuracy_m, mock_location=True, entry_seq=entry.seq)],
                      entry.seq))  # fmt: skip
    return visit


@transaction.atomic
def track(token: ApiToken, points: list[Position]) -> tuple[int, list[Alert]]:
    """A batch of track points: one `field.track` entry holding them, one row each (a point sent
    twice is kept once). Returns (points new, alerts raised)."""
    employee = device_employee(token)
    if not points:
        return 0, []
    if len(points) > MAX_POINTS:
        raise InvalidInput(_("At most %(n)d points a request.") % {"n": MAX_POINTS})
    now = timezone.now()
    points = sorted((check_position(p, now=now) for p in points), key=lambda p: p.at)
    ats = {p.at for p in points}
    known = set(TrackPoint.objects.filter(employee=employee, at__in=ats).values_list("at", flat=True))
    fresh = [p for p in points if p.at not in known]
    fresh = list({p.at: p for p in fresh}.values())
    if not fresh:
        return 0, []
    wire = [[p.at.isoformat(), p.lat, p.lon, p.accuracy_m, int(p.mock_location)] for p in fresh]
    digest = hashlib.sha256(json.dumps(wire).encode()).hexdigest()[:32]
    [appended] = append_batch(
        [
            Event(
                kind="field.track",
                payload={
                    "points": wire,
                    "fields": ["at", "lat", "lon", "accuracy_m", "mock"],
                    "token": token.pk,
                },
                actor_id=employee.pk,
                unit_id=employee.unit_id,
                source=SOURCE,
                source_id=f"track:{employee.pk}:{digest}",
                occurred_at=fresh[-1].at,
            )
        ]
    )
    rows = [
        TrackPoint(employee=employee, at=p.at, lat=p.lat, lon=p.lon, accuracy_m=p.accuracy_m,
                   mock_location=p.mock_location, entry_seq=appended.seq)
        for p in fresh
    ]  # fmt: skip
    TrackPoint.objects.bulk_create(rows, ignore_conflicts=True)
    raised = raise_signals(rules.track_signals(employee, rows, appended.seq))
    return len(rows), raised


# --- sites and areas (managers) ------------------------------------------------------------------


def _require_manager(actor: Employee) -> None:
    policy.require_writer(actor)
    if actor.role not in policy.STAFF_MANAGERS:
        raise Forbidden(_("Only managers and administrators set customer sites and areas."))


def _fence(lat, lon, radius_m, polygon) -> tuple[float | None, float | None, int | None, list]:
    if polygon:
        try:
            polygon = geo.check_polygon(polygon)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(str(exc)) from None
        if lat is None or lon is None:  # the polygon's own middle, for the map and distances
            lon = sum(p[0] for p in polygon) / len(polygon)
            lat = sum(p[1] for p in polygon) / len(polygon)
    if lat is None or lon is None:
        raise InvalidInput(_("Give the position (lat, lon) or a polygon."))
    if not (-90 <= lat <= 90 and -180 <= lon <= 180):
        raise InvalidInput(_("The position is outside [-90, 90] x [-180, 180]."))
    if not polygon and (radius_m is None or not 10 <= radius_m <= 50_000):
        raise InvalidInput(_("The radius must be between 10 and 50,000 metres."))
    return lat, lon, radius_m, polygon or []


def _audit(
    kind: str, actor: Employee, payload: dict, *, unit_id: int, customer_id: int | None = None
) -> None:
    append(kind, payload, actor_id=actor.pk, unit_id=unit_id, customer_id=customer_id, source=SOURCE)


@transaction.atomic
def set_site(
    *,
    actor: Employee,
    customer_id: int,
    name: str,
    address: str = "",
    lat: float | None = None,
    lon: float | None = None,
    radius_m: int | None = 200,
    polygon: list | None = None,
) -> Site:
    _require_manager(actor)
    customer = _customer_for(actor, customer_id)
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput(_("The site's name is 1 to 100 characters."))
    lat, lon, radius_m, polygon = _fence(lat, lon, radius_m, polygon)
    site = Site.objects.create(
        customer=customer, unit_id=customer.unit_id, name=name, address=(address or "").strip()[:200],
        lat=lat, lon=lon, radius_m=radius_m or 0, polygon=polygon, created_by=actor,
    )  # fmt: skip
    _audit(
        "field.site_set",
        actor,
        {
            "site": site.pk,
            "name": name,
            "lat": lat,
            "lon": lon,
            "radius_m": site.radius_m,
            "polygon": polygon,
        },
        unit_id=customer.unit_id,
        customer_id=customer.pk,
    )
    return site


@transaction.atomic
def remove_site(*, actor: Employee, site: Site) -> Site:
    _require_manager(actor)
    if site.removed_at is None:
        site.removed_at = timezone.now()
        site.save(update_fields=["removed_at"])
        _audit(
            "field.site_removed", actor, {"site": site.pk}, unit_id=site.unit_id, customer_id=site.customer_id
        )
    return site


@transaction.atomic
def set_area(
    *,
    actor: Employee,
    employee_id: int,
    name: str,
    lat: float | None = None,
    lon: float | None = None,
    radius_m: int | None = None,
    polygon: list | None = None,
    shifts: list[tuple[int, time, time]] = (),
) -> Area:
    """The employee's assigned area and the shifts when they must be in it (replaces their areas)."""
    _require_manager(actor)
    employee = org_selectors.get_employee(actor, employee_id)
    if employee.pk == actor.pk:
        raise Forbidden(_("Your own area is set by your manager."))
    name = (name or "").strip()
    if not name or len(name) > 100:
        raise InvalidInput(_("The area's name is 1 to 100 characters."))
    lat, lon, radius_m, polygon = _fence(lat, lon, radius_m, polygon)
    for weekday, starts, ends in shifts:
        if not 0 <= weekday <= 6 or not starts < ends:
            raise InvalidInput(_("A shift is a weekday (0 Monday to 6 Sunday) and a start before its end."))
    now = timezone.now()
    Area.objects.filter(employee=employee, removed_at__isnull=True).update(removed_at=now)
    area = Area.objects.create(
        employee=employee, name=name, lat=lat, lon=lon, radius_m=None if polygon else radius_m,
        polygon=polygon, created_by=actor,
    )  # fmt: skip
    Shift.objects.bulk_create([Shift(area=area, weekday=w, starts=s, ends=e) for w, s, e in shifts])
    _audit(
        "field.area_set",
        actor,
        {
            "area": area.pk, "employee": employee.pk, "name": name, "lat": lat, "lon": lon,
            "radius_m": area.radius_m, "polygon": polygon,
            "shifts": [[w, s.isoformat(), e.isoformat()] for w, s, e in shifts],
        },
        unit_id=employee.unit_id,
    )  # fmt: skip
    return area
