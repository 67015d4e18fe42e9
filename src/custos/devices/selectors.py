"""Reads of the work phones, always scoped to the viewer: a phone outside the scope is a 404.

A manager sees the phones of their unit's subtree, a salesperson their own phone, executives,
auditors and administrators all of them.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access.scope import scope_of
from custos.core.errors import NotFound
from custos.devices import config, policies
from custos.devices.models import Command, Device, Policy, PolicyVersion
from custos.org.models import Employee
from custos.org.selectors import get_unit

OPEN = (Command.Status.QUEUED, Command.Status.DELIVERED)


def devices_visible(viewer: Employee) -> QuerySet[Device]:
    qs = Device.objects.select_related("unit", "employee", "policy_applied")
    return scope_of(viewer).filter(qs, owner="employee_id", unit_path="unit__path")


def get_device(viewer: Employee, device_id: int) -> Device:
    device = devices_visible(viewer).filter(pk=device_id).first()
    if device is None:
        raise NotFound(_("Phone not found."))
    return device


def connection(device: Device, now: datetime | None = None) -> str:
    """online | silent (past the offline threshold) | never (not enrolled) | retired."""
    if device.state == Device.State.RETIRED:
        return "retired"
    if device.state != Device.State.ENROLLED or device.last_seen_at is None:
        return "never"
    now = now or timezone.now()
    if device.last_seen_at < now - timedelta(minutes=config.offline_minutes()):
        return "silent"
    return "online"


@dataclass
class Row:
    device: Device
    connection: str
    compliance: policies.Compliance
    open_commands: int


def fleet(
    viewer: Employee, *, unit_id: int | None = None, state: str = "", compliance: str = ""
) -> list[Row]:
    """The viewer's phones with their connection, compliance and open commands. Retired phones
    are left out unless asked for (state="retired"): they are history, not the fleet."""
    qs = devices_visible(viewer).annotate(
        open_commands=Count("commands", filter=Q(commands__status__in=OPEN))
    )
    if unit_id:
        unit = get_unit(viewer, unit_id)
        qs = qs.filter(unit__path__startswith=unit.path)
    if state == "retired":
        qs = qs.filter(state=Device.State.RETIRED)
    elif state != "all":
        qs = qs.exclude(state=Device.State.RETIRED)
    resolver = policies.Resolver()
    now = timezone.now()
    rows = []
    for d in qs:
        row = Row(d, connection(d, now), policies.compliance(d, resolver.effective(d), now), d.open_commands)
        if state not in ("", "all") and row.connection != state:
            continue
        if compliance and row.compliance.state != compliance:
            continue
        rows.append(row)
    return rows


def row(viewer: Employee, device_id: int) -> Row:
    """One phone with its connection, compliance and open commands (404 outside the scope)."""
    device = get_device(viewer, device_id)
    waiting = device.commands.filter(status__in=OPEN).count()
    return Row(device, connection(device), policies.compliance(device, policies.effective(device)), waiting)


def commands_of(viewer: Employee, device_id: int) -> QuerySet[Command]:
    device = get_device(viewer, device_id)
    return device.commands.select_related("created_by").order_by("-created_at", "-id")


def policies_visible(viewer: Employee) -> list[PolicyVersion]:
    """The current version of every policy of a unit (or phone) in the viewer's scope."""
    scope = scope_of(viewer)
    pols = Policy.objects.select_related("unit", "device", "device__unit")
    if scope.kind == "subtree":
        pols = pols.filter(
            Q(unit__path__startswith=scope.unit_path) | Q(device__unit__path__startswith=scope.unit_path)
        )
    elif scope.kind != "all":
        pols = pols.none()
    out = []
    for pol in pols:
        current = pol.versions.order_by("-version").first()
        if current is not None:
            current.policy = pol
            out.append(current)
    return sorted(
        out,
        key=lambda v: (v.policy.unit.path if v.policy.unit_id else v.policy.device.unit.path, v.policy_id),
    )
