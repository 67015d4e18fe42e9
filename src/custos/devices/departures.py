"""A departure's work phones: the freeze queues lock and wipe, the checklist waits for both.

Hooked into custos.handover without handover importing this app (apps.ready): the signal
`case_frozen` queues the commands, a checklist source lists each of the leaver's enrolled phones
until the phone has answered both with success (or a manager waives the item: a phone that was
lost), and a panel on the case page shows where each command stands.
"""

from django.db.models import Q
from django.template.loader import render_to_string
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from custos.devices import commands
from custos.devices.models import Command, Device

KIND = "device"
LABEL = gettext_lazy("Work phone to lock and wipe")
STEPS = (Command.Kind.LOCK, Command.Kind.WIPE)


def _devices(employee_id: int):
    return Device.objects.filter(employee_id=employee_id, state=Device.State.ENROLLED).order_by("pk")


def on_case_frozen(sender, case, actor=None, **kwargs) -> None:
    for device in _devices(case.employee_id):
        done = set(
            Command.objects.filter(device=device, case_id=case.pk, kind__in=STEPS).values_list(
                "kind", flat=True
            )
        )
        for kind in STEPS:
            if kind not in done:
                commands.enqueue(
                    device, kind, {"reason": "departure", "case": case.pk}, actor, case_id=case.pk
                )
        # The case frozen again (the last-day task, a refresh): handover has just queued another
        # bare lock for the token, but this phone already carried out the case's lock, and ours is
        # not queued twice, so nothing would ever answer it.
        if device.token_id and _states(device, case)[Command.Kind.LOCK] == Command.Status.SUCCEEDED:
            commands.settle_handover_lock(device)


def _case_commands(device: Device, case):
    """The lock and wipe commands that count for this case: queued by its freeze, or sent by hand
    since the case was opened (a manager retrying a failed wipe from the phone's page)."""
    return (
        Command.objects.filter(device=device, kind__in=STEPS)
        .filter(Q(case_id=case.pk) | Q(case_id__isnull=True, created_at__gte=case.opened_at))
        .order_by("created_at", "id")
    )


def _states(device: Device, case) -> dict[str, str]:
    """The latest command of each step: its status, or "not_queued"."""
    states = {kind: "not_queued" for kind in STEPS}
    for kind, status in _case_commands(device, case).values_list("kind", "status"):
        states[kind] = status
    return states


def _watched(case) -> list[Device]:
    """The leaver's enrolled phones, and those retired with this case's lock or wipe unanswered:
    retiring a phone cancels its commands but does not tick the item (a manager waives it)."""
    retired = Device.objects.filter(
        employee_id=case.employee_id, state=Device.State.RETIRED, commands__case_id=case.pk
    ).distinct()
    return sorted({*_devices(case.employee_id), *retired}, key=lambda d: d.pk)


def pending(case) -> dict:
    out = {}
    for device in _watched(case):
        states = _states(device, case)
        if all(states[k] == Command.Status.SUCCEEDED for k in STEPS):
            continue
        out[(KIND, str(device.pk))] = {
            "label": f"{device.model or _('Phone')} {device.serial}"[:200],
            "customer_id": None,
            "detail": {"device": device.pk, **states},
        }
    return out


def panel(request, case) -> str:
    devices = list(
        Device.objects.filter(employee_id=case.employee_id)
        .exclude(state=Device.State.REGISTERED)
        .order_by("pk")
    )
    if not devices:
        return ""
    rows = []
    for device in devices:
        steps = {c.kind: c for c in _case_commands(device, case)}
        rows.append(
            {"device": device, "lock": steps.get(Command.Kind.LOCK), "wipe": steps.get(Command.Kind.WIPE)}
        )
    return render_to_string("devices/_case_panel.html", {"rows": rows, "case": case}, request=request)
