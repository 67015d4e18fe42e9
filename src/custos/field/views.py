"""Console pages of field work: the day's visits, a salesperson's route on a plain map, a visit with
its photo and watermark, and the customers' sites.

The photo is served only through `photo` (scoped like the visit, each viewer's first look a day a
ledger entry), never from a public URL.
"""

import csv
import json
from datetime import time

from django.contrib import messages
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from custos.access.scope import scope_of
from custos.archive import blobs
from custos.console.decorators import console_view
from custos.core.errors import InvalidInput
from custos.core.query import date_or_none, id_or_none
from custos.customers import selectors as customer_selectors
from custos.field import selectors, services
from custos.field.models import KIND_LABELS, Area
from custos.ledger.services import append
from custos.org.models import Role
from custos.org.selectors import employees_visible, get_employee

FIELD_ROLES = (Role.SALES, Role.SERVICE, Role.MANAGER)
LIST_LIMIT = 300


def _staff(me):
    return list(
        employees_visible(me)
        .filter(role__in=FIELD_ROLES)
        .exclude(status="departed")
        .order_by("unit__path", "name")
    )


def site_label(site) -> str:
    """The site's name on the map, with its customer's unless the name already says it."""
    customer = site.customer.name
    return site.name if customer in site.name else f"{customer} · {site.name}"


def _decorate(visits):
    alerts = selectors.alerts_by_visit(visits)
    for v in visits:
        v.alerts = alerts.get(v.pk, [])
        for a in v.alerts:
            a.rule_label = KIND_LABELS.get(a.rule, a.rule)
    return visits


@console_view
def index(request):
    me = request.viewer
    params = request.GET
    day = date_or_none(params.get("day")) or timezone.localdate()
    employee_id = id_or_none(params.get("employee"))
    f = selectors.VisitFilters(employee_id=employee_id, day=day, flagged=params.get("flagged") == "1")
    visits = _decorate(list(selectors.list_visits(me, f)[:LIST_LIMIT]))
    if params.get("format") == "csv":
        return _csv(visits, day)
    staff = _staff(me)
    return render(
        request,
        "field/index.html",
        {
            "visits": visits,
            "day": day,
            "staff": staff,
            "employee_id": employee_id,
            "flagged": f.flagged,
            "wide": scope_of(me).kind != "own",
            "me": me,
            "query": params.urlencode(),
        },
    )


def _csv(visits, day) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="visits-{day.isoformat()}.csv"'
    response.write("\ufeff")  # Excel opens UTF-8 Chinese only with the BOM
    out = csv.writer(response)
    out.writerow(
        [
            _("Checked in"),
            _("Employee"),
            _("Customer"),
            _("Distance from the site (m)"),
            _("Minutes"),
            _("Alerts"),
        ]
    )
    for v in visits:
        out.writerow(
            [
                timezone.localtime(v.checked_in_at).strftime("%Y-%m-%d %H:%M"),
                v.employee.name,
                v.customer.name,
                "" if v.distance_m is None else round(v.distance_m),
                "" if v.minutes is None else v.minutes,
                "; ".join(str(a.rule_label) for a in v.alerts),
            ]
        )
    return response


@console_view
def route(request, employee_id: int):
    me = request.viewer
    day = date_or_none(request.GET.get("day")) or timezone.localdate()
    data = selectors.route(me, employee_id, day)
    visits = _decorate(data["visits"])
    area = data["area"]
    chart = {
        "sites": [
            {"name": site_label(s), "lon": s.lon, "lat": s.lat, "radius_m": s.radius_m, "polygon": s.polygon}
            for s in data["sites"]
        ],
        "track": [[lon, lat, timezone.localtime(at).strftime("%H:%M")] for at, lat, lon, _acc, _m in data["points"]],
        "visits": [
            {"lon": v.lon, "lat": v.lat, "name": v.customer.name, "time": timezone.localtime(v.checked_in_at).strftime("%H:%M"),
             "flagged": bool(v.alerts), "url": f"/field/visits/{v.pk}/"}
            for v in visits
        ],
        "area": {"lat": area.lat, "lon": area.lon, "radius_m": area.radius_m, "polygon": area.polygon, "name": area.name}
        if area else None,
        "labels": {"sites": _("Customer sites"), "track": _("Track"), "visits": _("Check-ins"),
                   "flagged": _("Check-ins with an alert"), "area": _("Assigned area")},
    }  # fmt: skip
    day_alerts = data["day_alerts"]
    for a in day_alerts:
        a.rule_label = KIND_LABELS.get(a.rule, a.rule)
    return render(
        request,
        "field/route.html",
        {
            "employee": data["employee"],
            "day": day,
            "visits": visits,
            "points": len(data["points"]),
            "chart": chart,
            "day_alerts": day_alerts,
            "staff": _staff(me),
        },
    )


@console_view
def visit(request, visit_id: int):
    v = selectors.get_visit(request.viewer, visit_id)
    _decorate([v])
    return render(request, "field/visit.html", {"v": v, "w": v.watermark})


def _mime(head: bytes) -> str:
    if head.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if head.startswith(b"\x89PNG"):
        return "image/png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    return "application/octet-stream"


@console_view
def photo(request, visit_id: int):
    """The check-in photo, decrypted from the blob store, for a viewer who may see the visit.

    Each viewer's first look at a visit's photo on a day is an `access.field_photo_viewed` entry.
    """
    me = request.viewer
    v = selectors.get_visit(me, visit_id)
    blob = blobs.Blob.objects.filter(sha256=v.photo_sha256).first()
    if blob is None:
        return HttpResponse(
            _("The photo is not stored."), status=404, content_type="text/plain; charset=utf-8"
        )
    append(
        "access.field_photo_viewed",
        {"visit": v.pk, "sha256": v.photo_sha256},
        actor_id=me.pk,
        unit_id=me.unit_id,
        customer_id=v.customer_id,
        source="console",
        source_id=f"field_photo:{me.pk}:{v.pk}:{timezone.localdate().isoformat()}",
    )
    chunks = blobs.open_blob(v.photo_sha256)
    first = next(chunks, b"")

    def stream():
        yield first
        yield from chunks

    response = StreamingHttpResponse(stream(), content_type=_mime(first[:12]))
    response["Content-Length"] = str(blob.size)
    response["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response


@console_view
def sites(request):
    me = request.viewer
    rows = list(selectors.sites_visible(me).order_by("customer__name", "id")[:LIST_LIMIT])
    may_edit = _may_edit(me)
    return render(request, "field/sites.html", {"sites": rows, "may_edit": may_edit})


def _number(value, label):
    try:
        return float(value)
    except (TypeError, ValueError):
        raise InvalidInput(_("%(field)s is not a number.") % {"field": label}) from None


def _may_edit(me) -> bool:
    return me.role in (Role.MANAGER, Role.EXECUTIVE, Role.ADMIN)


def polygon_of(text: str) -> list | None:
    """A polygon typed into a form: one "lon, lat" point a line (commas or spaces), or the JSON
    [[lon, lat], ...] the API takes; None when empty. Checked by custos.field.geo."""
    text = (text or "").strip()
    if not text:
        return None
    try:
        if text.startswith("["):
            return json.loads(text)
        points = []
        for line in text.replace("，", ",").splitlines():
            parts = line.replace(",", " ").split()
            if parts:
                points.append([float(p) for p in parts])
        return points
    except (ValueError, TypeError):
        raise InvalidInput(_("Write the polygon one point a line: longitude, latitude.")) from None


WEEKDAYS = (
    (0, gettext_lazy("Monday")),
    (1, gettext_lazy("Tuesday")),
    (2, gettext_lazy("Wednesday")),
    (3, gettext_lazy("Thursday")),
    (4, gettext_lazy("Friday")),
    (5, gettext_lazy("Saturday")),
    (6, gettext_lazy("Sunday")),
)


def _time(value: str, label: str) -> time:
    try:
        return time.fromisoformat((value or "").strip())
    except ValueError:
        raise InvalidInput(_("%(field)s is not a time (HH:MM).") % {"field": label}) from None


@console_view
def areas(request):
    """The field staff in scope with the area and shifts each must keep to."""
    me = request.viewer
    staff = _staff(me)
    current = {
        a.employee_id: a
        for a in Area.objects.filter(employee__in=staff, removed_at__isnull=True).prefetch_related("shifts")
    }
    days = dict(WEEKDAYS)
    rows = []
    for e in staff:
        area = current.get(e.pk)
        shifts = (
            [f"{days[s.weekday]} {s.starts:%H:%M}–{s.ends:%H:%M}" for s in area.shifts.all()] if area else []
        )
        rows.append({"employee": e, "area": area, "shifts": shifts})
    return render(
        request,
        "field/areas.html",
        {"rows": rows, "may_edit": _may_edit(me), "day": timezone.localdate(), "me": me},
    )


@console_view
def area(request, employee_id: int):
    """One salesperson's assigned area (a circle, or a polygon drawn point by point) and shifts."""
    me = request.viewer
    employee = get_employee(me, employee_id)
    if request.method == "POST":
        post = request.POST
        polygon = polygon_of(post.get("polygon", ""))
        shifts = []
        for weekday, label in WEEKDAYS:
            if post.get(f"day{weekday}") == "on":
                shifts.append(
                    (
                        weekday,
                        _time(post.get(f"starts{weekday}", ""), str(label)),
                        _time(post.get(f"ends{weekday}", ""), str(label)),
                    )
                )
        lat, lon = post.get("lat", "").strip(), post.get("lon", "").strip()
        services.set_area(
            actor=me,
            employee_id=employee.pk,
            name=post.get("name", ""),
            lat=_number(lat, _("Latitude")) if lat else None,
            lon=_number(lon, _("Longitude")) if lon else None,
            radius_m=None if polygon else int(_number(post.get("radius_m") or 0, _("Radius (m)"))),
            polygon=polygon,
            shifts=shifts,
        )
        messages.success(
            request,
            _("%(name)s's area is saved: their track is checked against it during their shifts.")
            % {"name": employee.name},
        )
        return redirect("field:area", employee_id=employee.pk)
    current = selectors.area_of(me, employee.pk)
    by_day = {s.weekday: s for s in current.shifts.all()} if current else {}
    week = [
        {
            "weekday": w,
            "label": label,
            "on": w in by_day if current else w < 5,
            "starts": f"{by_day[w].starts:%H:%M}" if w in by_day else "09:00",
            "ends": f"{by_day[w].ends:%H:%M}" if w in by_day else "18:00",
        }
        for w, label in WEEKDAYS
    ]
    sites = list(selectors.sites_visible(me).filter(customer__owner_id=employee.pk)[:LIST_LIMIT])
    chart = {
        "fit_area": True,
        "sites": [
            {"name": site_label(x), "lon": x.lon, "lat": x.lat, "radius_m": x.radius_m, "polygon": x.polygon}
            for x in sites
        ],
        "track": [],
        "visits": [],
        "area": {"lat": current.lat, "lon": current.lon, "radius_m": current.radius_m, "polygon": current.polygon}
        if current else None,
        "labels": {"sites": _("Customer sites"), "track": _("Track"), "visits": _("Check-ins"),
                   "flagged": _("Check-ins with an alert"), "area": _("Assigned area")},
    }  # fmt: skip
    polygon_text = (
        "\n".join(f"{lon}, {lat}" for lon, lat in current.polygon) if current and current.polygon else ""
    )
    return render(
        request,
        "field/area.html",
        {
            "employee": employee,
            "area": current,
            "week": week,
            "polygon_text": polygon_text,
            "chart": chart,
            "may_edit": _may_edit(me) and employee.pk != me.pk,
            "day": timezone.localdate(),
        },
    )


def _customer_id(me, given: str) -> int:
    """The customer a manager named in the site form: its number, or its exact name when only one
    customer in their scope bears it (managers know customers by name, not by number)."""
    given = " ".join((given or "").split())
    customer_id = id_or_none(given)
    if customer_id is not None:
        return customer_id
    if not given:
        raise InvalidInput(_("Give the customer's name or number."))
    found = list(customer_selectors.customers_visible(me).filter(name=given).values_list("pk", flat=True)[:2])
    if not found:
        raise InvalidInput(_("No customer named %(name)s.") % {"name": given[:100]})
    if len(found) > 1:
        raise InvalidInput(
            _("Several customers are named %(name)s: give the number.") % {"name": given[:100]}
        )
    return found[0]


@console_view
@require_POST
def add_site(request):
    me = request.viewer
    post = request.POST
    customer_id = _customer_id(me, post.get("customer", ""))
    polygon = polygon_of(post.get("polygon", ""))
    services.set_site(
        actor=me,
        customer_id=customer_id,
        name=post.get("name", ""),
        address=post.get("address", ""),
        lat=_number(post.get("lat"), _("Latitude")) if post.get("lat", "").strip() or not polygon else None,
        lon=_number(post.get("lon"), _("Longitude")) if post.get("lon", "").strip() or not polygon else None,
        radius_m=int(_number(post.get("radius_m") or 200, _("Radius (m)"))),
        polygon=polygon,
    )
    messages.success(request, _("The site is saved; check-ins are now measured against it."))
    return redirect("field:sites")


@console_view
@require_POST
def remove_site(request, site_id: int):
    me = request.viewer
    services.remove_site(actor=me, site=selectors.get_site(me, site_id))
    messages.success(request, _("The site is removed."))
    return redirect("field:sites")
