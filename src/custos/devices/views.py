"""Console pages of the work phones: the fleet, a phone with its commands, the policies.

Managers and administrators register phones, issue enrolment codes, queue commands and publish
policies; everyone else in scope reads. The enrolment code is shown once, on the page that
answers the request (never kept in the session's messages).
"""

import csv

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from custos.access import policy
from custos.console.decorators import console_view
from custos.core.errors import DomainError, NotFound
from custos.core.paging import page_of
from custos.core.query import id_or_none
from custos.devices import commands, policies, selectors, services
from custos.devices.models import FEATURES, Command, Device
from custos.devices.policies import FEATURE_LABELS
from custos.org.selectors import employees_visible, get_employee, get_unit, units_visible

PAGE_SIZE = 50
CONNECTIONS = {
    "online": gettext_lazy("Online"),
    "silent": gettext_lazy("Silent"),
    "never": gettext_lazy("Not enrolled"),
    "retired": gettext_lazy("Retired"),
}
COMPLIANCE = {
    "compliant": gettext_lazy("Compliant"),
    "pending": gettext_lazy("Applying"),
    "non_compliant": gettext_lazy("Non-compliant"),
    "no_policy": gettext_lazy("No policy"),
}


def _labels() -> dict:
    # Labels are looked up per request so they follow the viewer's language.
    return {
        "connections": [(k, str(v)) for k, v in CONNECTIONS.items()],
        "compliances": [(k, str(v)) for k, v in COMPLIANCE.items()],
        "features": [(k, str(v)) for k, v in FEATURE_LABELS.items()],
        "kinds": Command.Kind.choices,
    }


def _may_manage(me) -> bool:
    return policy.may_manage_staff(me)


@console_view
def index(request):
    me = request.viewer
    unit_id = id_or_none(request.GET.get("unit"))
    connection = request.GET.get("connection", "")[:20]
    compliance = request.GET.get("compliance", "")[:20]
    if unit_id and not units_visible(me).filter(pk=unit_id).exists():
        unit_id = None
    rows = selectors.fleet(
        me,
        unit_id=unit_id,
        state=connection if connection in CONNECTIONS else "",
        compliance=compliance if compliance in COMPLIANCE else "",
    )
    if request.GET.get("format") == "csv":
        return _csv(rows)
    everything = selectors.fleet(me) if unit_id or connection or compliance else rows
    counts = {
        "total": len(everything),
        "online": sum(1 for r in everything if r.connection == "online"),
        "silent": sum(1 for r in everything if r.connection == "silent"),
        "non_compliant": sum(1 for r in everything if r.compliance.state == "non_compliant"),
        "open_commands": sum(r.open_commands for r in everything),
        "retired": selectors.devices_visible(me).filter(state=Device.State.RETIRED).count(),
    }
    page = page_of(rows, PAGE_SIZE, request.GET.get("page"))
    may_manage = _may_manage(me)
    return render(
        request,
        "devices/index.html",
        {
            "page": page,
            "counts": counts,
            "units": units_visible(me),
            "unit_id": unit_id,
            "connection": connection,
            "compliance": compliance,
            "may_manage": may_manage,
            "staff": employees_visible(me)
            .filter(status="active", frozen_at__isnull=True)
            .exclude(pk=me.pk)[:500]
            if may_manage
            else [],
            "recent": Command.objects.filter(device__in=[r.device.pk for r in rows[:200]])
            .select_related("device")
            .order_by("-created_at", "-id")[:10],
            **_labels(),
        },
    )


def _csv(rows) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="work-phones.csv"'
    response.write("\ufeff")  # Excel opens UTF-8 as such only with the mark
    out = csv.writer(response)
    out.writerow(
        [
            "serial",
            "model",
            "employee",
            "unit",
            "connection",
            "last_seen_at",
            "battery",
            "compliance",
            "policy_version",
            "open_commands",
        ]
    )
    for r in rows:
        d = r.device
        out.writerow(
            [
                d.serial,
                d.model,
                d.employee.name if d.employee else "",
                d.unit.name,
                r.connection,
                d.last_seen_at.isoformat() if d.last_seen_at else "",
                d.last_report.get("battery", ""),
                r.compliance.state,
                d.policy_applied.version if d.policy_applied_id else "",
                r.open_commands,
            ]
        )
    return response


@console_view
@require_POST
def register(request):
    me = request.viewer
    employee_id = id_or_none(request.POST.get("employee"))
    unit_id = id_or_none(request.POST.get("unit"))
    device = services.register(
        actor=me,
        serial=request.POST.get("serial", ""),
        employee=get_employee(me, employee_id) if employee_id else None,
        unit=get_unit(me, unit_id) if unit_id and not employee_id else None,
        imei=request.POST.get("imei", ""),
        model=request.POST.get("model", ""),
        os=request.POST.get("os", ""),
        phone_number=request.POST.get("phone_number", ""),
    )
    messages.success(request, _("Phone %(serial)s registered.") % {"serial": device.serial})
    return redirect("devices:device", device_id=device.pk)


def _device_page(request, device: Device, **extra):
    me = request.viewer
    row = selectors.row(me, device.pk)
    history = page_of(selectors.commands_of(me, device.pk), 30, request.GET.get("page"))
    try:
        services.require_may_manage_device(me, device)
        may_manage = True
    except DomainError:
        may_manage = False
    allowed = (
        set(row.compliance.revision.rules.get("allowed_apps") or []) if row.compliance.revision else set()
    )
    outside = [a for a in row.device.installed_apps if allowed and a not in allowed][:5]
    return render(
        request,
        "devices/device.html",
        {
            "row": row,
            "outside_apps": outside if row.device.state == Device.State.ENROLLED else [],
            "device": row.device,
            "history": history,
            "may_manage": may_manage,
            "now": timezone.now(),
            **_labels(),
            **extra,
        },
    )


@console_view
def device(request, device_id: int):
    return _device_page(request, selectors.get_device(request.viewer, device_id))


@console_view
@require_POST
def enrolment_code(request, device_id: int):
    me = request.viewer
    found = selectors.get_device(me, device_id)
    code, clear = services.issue_code(actor=me, device=found)
    return _device_page(request, found, code=clear, code_expires=code.expires_at)


@console_view
@require_POST
def queue_command(request, device_id: int):
    me = request.viewer
    command = commands.queue(
        actor=me,
        device=selectors.get_device(me, device_id),
        kind=request.POST.get("kind", ""),
        package=request.POST.get("package", ""),
        url=request.POST.get("url", ""),
        reason=request.POST.get("reason", ""),
    )
    messages.success(
        request,
        _("%(command)s queued: the phone gets it on its next poll.")
        % {"command": command.get_kind_display()},
    )
    return redirect("devices:device", device_id=device_id)


@console_view
@require_POST
def retire(request, device_id: int):
    me = request.viewer
    device = services.retire(
        actor=me, device=selectors.get_device(me, device_id), reason=request.POST.get("reason", "")
    )
    messages.success(
        request, _("Phone %(serial)s retired: its credential is revoked.") % {"serial": device.serial}
    )
    return redirect("devices:device", device_id=device_id)


@console_view
def policy_list(request):
    me = request.viewer
    if request.method == "POST":
        serial = request.POST.get("serial", "").strip()
        device = unit = None
        if serial:  # one phone's own policy, nearer than its unit's
            device = selectors.devices_visible(me).filter(serial=serial).first()
            if device is None:
                raise NotFound(_("No phone %(serial)s here.") % {"serial": serial[:64]})
        else:
            unit = get_unit(me, id_or_none(request.POST.get("unit")) or 0)
        apps = [a for a in request.POST.get("allowed_apps", "").replace(",", "\n").split() if a]
        version = policies.publish(
            actor=me,
            unit=unit,
            device=device,
            rules={
                "allowed_apps": apps,
                "disabled": request.POST.getlist("disabled"),
                "call_recording": request.POST.get("call_recording") == "on",
                "archive_upload": request.POST.get("archive_upload") == "on",
            },
        )
        messages.success(
            request,
            _("Version %(version)s of the policy of %(unit)s published.")
            % {"version": version.version, "unit": unit.name if unit else device.serial},
        )
        return redirect("devices:policies")
    return render(
        request,
        "devices/policies.html",
        {
            "current": selectors.policies_visible(me),
            "units": units_visible(me),
            "may_manage": _may_manage(me),
            "feature_names": FEATURES,
            "serial": request.GET.get("device", "")[:64],
            **_labels(),
        },
    )
