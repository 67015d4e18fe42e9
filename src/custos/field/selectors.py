"""Reads of field work, always through the viewer's scope (outside it: not found).

A visit is seen by whoever sees its employee (own for staff, the unit subtree for managers, all
for executives, admins and auditors); a site by whoever sees its customer.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access.scope import scope_of
from custos.alerts.models import Alert
from custos.core.errors import InvalidInput, NotFound
from custos.customers import selectors as customer_selectors
from custos.field.models import KIND_LABELS, Area, Site, TrackPoint, Visit
from custos.org import selectors as org_selectors
from custos.org.models import Employee


def visits_visible(viewer: Employee) -> QuerySet[Visit]:
    qs = Visit.objects.select_related("employee", "customer", "site", "unit")
    return scope_of(viewer).filter(qs, owner="employee_id", unit_path="unit__path")


@dataclass
class VisitFilters:
    employee_id: int | None = None
    customer_id: int | None = None
    day: date | None = None
    flagged: bool = False


def day_bounds(day: date) -> tuple[datetime, datetime]:
    if not 1970 <= day.year <= 9000:
        raise InvalidInput(_("The day %(day)s is out of range.") % {"day": day.isoformat()})
    start = timezone.make_aware(datetime.combine(day, time.min))
    return start, start + timedelta(days=1)


def list_visits(viewer: Employee, f: VisitFilters | None = None) -> QuerySet[Visit]:
    f = f or VisitFilters()
    qs = visits_visible(viewer)
    if f.employee_id:
        qs = qs.filter(employee_id=f.employee_id)
    if f.customer_id:
        qs = qs.filter(customer_id=f.customer_id)
    if f.day:
        start, end = day_bounds(f.day)
        qs = qs.filter(checked_in_at__gte=start, checked_in_at__lt=end)
    if f.flagged:
        seqs = flagged_seqs(qs)
        qs = qs.filter(entry_seq__in=seqs)
    return qs


def get_visit(viewer: Employee, visit_id: int) -> Visit:
    visit = visits_visible(viewer).filter(pk=visit_id).first()
    if visit is None:
        raise NotFound(_("Visit not found."))
    return visit


def _field_alerts(employee_ids, since: datetime, until: datetime) -> list[Alert]:
    return list(
        Alert.objects.filter(
            rule__in=list(KIND_LABELS),
            employee_id__in=list(employee_ids),
            raised_at__gte=since,
            raised_at__lt=until,
        ).order_by("raised_at")
    )


def _accuses(alert: Alert) -> set[int]:
    """The entries an alert holds against a visit: a reused photo's first use is evidence, not a
    fault, so only its last entry (the check-in that reused it) counts."""
    if alert.rule == "photo_reused":
        return set(alert.evidence[-1:])
    return set(alert.evidence)


def flagged_seqs(visits: QuerySet[Visit]) -> set[int]:
    """The check-in entries of these visits that some fake-visit alert holds against them."""
    rows = list(visits.values_list("employee_id", "checked_in_at", "entry_seq")[:5000])
    if not rows:
        return set()
    since = min(r[1] for r in rows) - timedelta(minutes=1)
    until = max(r[1] for r in rows) + timedelta(days=1)
    named = {s for a in _field_alerts({r[0] for r in rows}, since, until) for s in _accuses(a)}
    return {r[2] for r in rows if r[2] in named}


def alerts_by_visit(visits: list[Visit]) -> dict[int, list[Alert]]:
    """The fake-visit alerts naming each visit's check-in or check-out entry."""
    if not visits:
        return {}
    since = min(v.checked_in_at for v in visits) - timedelta(minutes=1)
    until = max(v.checked_out_at or v.checked_in_at for v in visits) + timedelta(days=1)
    alerts = _field_alerts({v.employee_id for v in visits}, since, until)
    found: dict[int, list[Alert]] = {}
    for visit in visits:
        mine = {visit.entry_seq, visit.out_entry_seq} - {None}
        found[visit.pk] = [a for a in alerts if mine & _accuses(a)]
    return found


def sites_visible(viewer: Employee) -> QuerySet[Site]:
    customers = customer_selectors.customers_visible(viewer).values("pk")
    return Site.objects.filter(customer_id__in=customers, removed_at__isnull=True).select_related("customer")


def get_site(viewer: Employee, site_id: int) -> Site:
    site = sites_visible(viewer).filter(pk=site_id).first()
    if site is None:
        raise NotFound(_("Site not found."))
    return site


def area_of(viewer: Employee, employee_id: int) -> Area | None:
    employee = org_selectors.get_employee(viewer, employee_id)
    return Area.objects.filter(employee=employee, removed_at__isnull=True).prefetch_related("shifts").first()


def route(viewer: Employee, employee_id: int, day: date) -> dict:
    """A salesperson's day: the track, the visits, the sites of the customers they can visit, the
    area, and the day's fake-visit alerts."""
    employee = org_selectors.get_employee(viewer, employee_id)
    start, end = day_bounds(day)
    points = list(
        TrackPoint.objects.filter(employee=employee, at__gte=start, at__lt=end)
        .order_by("at")
        .values_list("at", "lat", "lon", "accuracy_m", "mock_location")
    )
    visits = list(
        list_visits(viewer, VisitFilters(employee_id=employee.pk, day=day)).order_by("checked_in_at")
    )
    customer_ids = {v.customer_id for v in visits}
    sites = list(
        sites_visible(viewer).filter(customer_id__in=customer_ids)
        | sites_visible(viewer).filter(customer__owner_id=employee.pk)
    )
    return {
        "employee": employee,
        "day": day,
        "points": points,
        "visits": visits,
        "alerts": alerts_by_visit(visits),
        "day_alerts": _field_alerts([employee.pk], start, end),
        "sites": sites,
        "area": Area.objects.filter(employee=employee, removed_at__isnull=True).first(),
    }
