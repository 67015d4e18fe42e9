"""Console pages: build and download evidence packages; retention periods and legal holds."""

from datetime import datetime

from django.contrib import messages
from django.http import FileResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from custos.access.scope import scope_of
from custos.console.decorators import console_view
from custos.core.errors import Gone, InvalidInput
from custos.core.query import id_or_none
from custos.customers.selectors import customers_visible
from custos.evidence import selectors, services
from custos.evidence.models import EvidencePackage
from custos.evidence.selectors import Selection
from custos.org.models import Role
from custos.org.selectors import employees_visible, units_visible

CHOICES_MAX = 500


def _id(value: str | None) -> int | None:
    value = (value or "").strip()
    if not value:
        return None
    found = id_or_none(value)
    if found is None:
        raise InvalidInput(_("%(value)s is not an id.") % {"value": value[:40]})
    return found


def _time(value: str | None) -> datetime | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidInput(_("%(value)s is not a date and time.") % {"value": value[:40]}) from None
    return timezone.make_aware(parsed) if timezone.is_naive(parsed) else parsed


def _choices(me):
    customers = customers_visible(me).order_by("name").values_list("pk", "name")[:CHOICES_MAX]
    staff = employees_visible(me).exclude(role=Role.AUDITOR).values_list("pk", "name", "unit__name")[:CHOICES_MAX]
    return list(customers), list(staff)


@console_view
def packages(request):
    me = request.viewer
    selectors.require_packager(me)
    if request.method == "POST":
        selection = Selection(
            customer_id=_id(request.POST.get("customer")),
            employee_id=_id(request.POST.get("employee")),
            since=_time(request.POST.get("since")),
            until=_time(request.POST.get("until")),
        )
        package = services.request_package(me, selection)
        return redirect("evidence:detail", package_id=package.public_id)
    customers, staff = _choices(me)
    return render(
        request,
        "evidence/packages.html",
        {
            "packages": selectors.packages_of(me)[:50],
            "customers": customers,
            "staff": staff,
            "initial": request.GET,
            "sees_retention": scope_of(me).kind == "all",
        },
    )


@never_cache
@console_view
def detail(request, package_id):
    package = selectors.get_package(request.viewer, package_id)
    template = "evidence/_status.html" if request.htmx else "evidence/detail.html"
    return render(request, template, {"package": package, "running": package.status in _RUNNING})


_RUNNING = (EvidencePackage.Status.QUEUED, EvidencePackage.Status.RUNNING)


@console_view
def download(request, package_id):
    me = request.viewer
    package = selectors.get_package(me, package_id)
    try:
        path = services.package_path(package)
    except Gone as exc:
        # The package page, saying why, with a button to build the same selection again.
        context = {"package": package, "running": False, "gone": exc.message}
        return render(request, "evidence/detail.html", context, status=410)
    services.record_download(me, package)
    return FileResponse(path.open("rb"), as_attachment=True, filename=package.filename, content_type="application/zip")


@console_view
def retention(request):
    me = request.viewer
    rules = selectors.retention_rules(me)
    holds = selectors.legal_holds(me).select_related("placed_by", "released_by")[:200]
    preview = services.run_retention(dry_run=True) if request.GET.get("preview") else None
    customers, staff = _choices(me)
    return render(
        request,
        "evidence/retention.html",
        {
            "rules": rules,
            "holds": holds,
            "preview": preview,
            "is_admin": me.role == Role.ADMIN,
            "may_hold": me.role in selectors.HOLDERS,
            "customers": customers,
            "staff": staff,
            "units": [(u.pk, ("— " * u.depth) + u.name) for u in units_visible(me)],
        },
    )


def _days(value: str | None) -> int:
    value = (value or "").strip()
    if not value.isascii() or not value.isdigit() or len(value) > 6:
        raise InvalidInput(_("A retention period is a whole number of days."))
    return int(value)


@require_POST
@console_view
def rule_set(request):
    services.set_rule(request.viewer, request.POST.get("kind_prefix", ""), _days(request.POST.get("days")))
    messages.success(request, _("Retention period saved."))
    return redirect("evidence:retention")


@require_POST
@console_view
def rule_remove(request):
    services.remove_rule(request.viewer, request.POST.get("kind_prefix", ""))
    messages.success(request, _("Retention rule removed: those entries are kept forever."))
    return redirect("evidence:retention")


@require_POST
@console_view
def hold_place(request):
    services.place_hold(
        request.viewer,
        services.HoldInput(
            reason=request.POST.get("reason", ""),
            customer_id=_id(request.POST.get("customer")),
            employee_id=_id(request.POST.get("employee")),
            unit_id=_id(request.POST.get("unit")),
            since=_time(request.POST.get("since")),
            until=_time(request.POST.get("until")),
        ),
    )
    messages.success(request, _("Legal hold placed."))
    return redirect("evidence:retention")


@require_POST
@console_view
def hold_release(request, hold_id: int):
    services.release_hold(request.viewer, hold_id, request.POST.get("reason", ""))
    messages.success(request, _("Legal hold released."))
    return redirect("evidence:retention")
