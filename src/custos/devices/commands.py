"""Commands to a phone: queued, delivered on its next poll, answered with a result.

A delivered command unanswered after CUSTOS_DEVICE_COMMAND_TIMEOUT_SECONDS is queued again, up
to CUSTOS_DEVICE_COMMAND_ATTEMPTS deliveries, then marked timed out (`sweep`, every minute and
before each poll). A late answer still counts: a lock carried out late is a lock. Every step is
a ledger entry: device.command_queued, _delivered, _retried, _timed_out, device.command_result.
"""

from datetime import datetime, timedelta
from urllib.parse import urlsplit

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.core.errors import Conflict, InvalidInput, NotFound
from custos.devices import config, policies
from custos.devices.models import Command, Device
from custos.devices.services import record, require_may_manage_device
from custos.ledger.services import Event, append_batch
from custos.org.models import Employee

K = Command.Kind
S = Command.Status
PACKAGE = policies.PACKAGE


def _payload(device: Device, kind: str, package: str = "", url: str = "", reason: str = "") -> dict:
    reason = " ".join((reason or "").split())[:200]
    payload = {"reason": reason} if reason else {}
    if kind in (K.INSTALL_APP, K.UNINSTALL_APP):
        package = (package or "").strip()
        if not PACKAGE.match(package) or len(package) > 150:
            raise InvalidInput(_("Give the app's package name (such as com.tencent.wework)."))
        payload["package"] = package
    if kind == K.INSTALL_APP and url:
        parts = urlsplit(url.strip())
        if parts.scheme != "https" or not parts.hostname or len(url) > 500:
            raise InvalidInput(_("The app's download address must be an https URL."))
        payload["url"] = url.strip()
    if kind == K.PUSH_POLICY:
        current = policies.effective(device)
        if current is None:
            raise InvalidInput(_("No policy applies to this phone yet: publish one first."))
        payload["revision"] = current.pk
    return payload


def enqueue(
    device: Device, kind: str, payload: dict, actor: Employee | None, case_id: int | None = None
) -> Command:
    """Queue without asking who may (the caller decided: a manager's request, a departure's freeze).
    The same command still waiting is not queued twice."""
    waiting = Command.objects.filter(
        device=device, kind=kind, payload=payload, status__in=(S.QUEUED, S.DELIVERED)
    ).first()
    if waiting is not None:
        return waiting
    command = Command.objects.create(
        device=device, kind=kind, payload=payload, created_by=actor, case_id=case_id
    )
    record(
        "device.command_queued",
        device,
        {"command": command.pk, "kind": kind, "payload": payload, "case": case_id},
        actor,
        "handover" if case_id else "console",
    )
    return command


@transaction.atomic
def queue(
    *, actor: Employee, device: Device, kind: str, package: str = "", url: str = "", reason: str = ""
) -> Command:
    """A manager (or administrator) sends a command to a phone."""
    if kind not in K.values:
        raise InvalidInput(_("Commands: %(kinds)s.") % {"kinds": ", ".join(K.values)})
    device = (
        Device.objects.select_for_update(of=("self",)).select_related("employee", "unit").get(pk=device.pk)
    )
    require_may_manage_device(actor, device)
    if device.state != Device.State.ENROLLED:
        raise Conflict(_("This phone is not enrolled: it cannot receive commands."))
    return enqueue(device, kind, _payload(device, kind, package, url, reason), actor)


def _events(kind: str, commands: list[Command], extra=lambda c: {}) -> list[Event]:
    now = timezone.now()
    return [
        Event(
            kind=kind,
            payload={
                "device": c.device_id,
                "command": c.pk,
                "kind": c.kind,
                "attempt": c.attempts,
                **extra(c),
            },
            actor_id=None,
            unit_id=c.device.unit_id,
            source="devices",
            source_id=f"{kind}:{c.pk}:{c.attempts}",
            occurred_at=now,
        )
        for c in commands
    ]


@transaction.atomic
def sweep(now: datetime | None = None, device: Device | None = None) -> dict:
    """Delivered commands unanswered past the timeout: queued again, or timed out for good."""
    now = now or timezone.now()
    overdue = (
        Command.objects.select_for_update(of=("self",))
        .select_related("device")
        .filter(
            status=S.DELIVERED, delivered_at__lt=now - timedelta(seconds=config.command_timeout_seconds())
        )
    )
    if device is not None:
        overdue = overdue.filter(device=device)
    retried, timed_out = [], []
    for c in overdue:
        if c.attempts < config.command_attempts():
            c.status = S.QUEUED
            retried.append(c)
        else:
            c.status = S.TIMED_OUT
            timed_out.append(c)
    Command.objects.bulk_update(retried + timed_out, ["status"])
    append_batch(_events("device.command_retried", retried) + _events("device.command_timed_out", timed_out))
    return {"retried": len(retried), "timed_out": len(timed_out)}


@transaction.atomic
def poll(device: Device) -> list[Command]:
    """The phone's poll: every queued command, now delivered (one entry for the lot)."""
    sweep(device=device)
    now = timezone.now()
    waiting = list(
        Command.objects.select_for_update(of=("self",))
        .select_related("device")
        .filter(device=device, status=S.QUEUED)
        .order_by("created_at", "id")
    )
    for c in waiting:
        c.status, c.delivered_at, c.attempts = S.DELIVERED, now, c.attempts + 1
    Command.objects.bulk_update(waiting, ["status", "delivered_at", "attempts"])
    append_batch(_events("device.command_delivered", waiting))
    return waiting


@transaction.atomic
def acknowledge(device: Device, command_id: int, ok: bool, result: str = "") -> Command:
    """The phone's answer to one command. Answering twice changes nothing."""
    command = (
        Command.objects.select_for_update(of=("self",))
        .select_related("device")
        .filter(pk=command_id, device=device)
        .first()
    )
    if command is None:
        raise NotFound(_("No such command for this phone."))
    if command.status in (S.SUCCEEDED, S.FAILED):
        return command
    now = timezone.now()
    command.status = S.SUCCEEDED if ok else S.FAILED
    command.acknowledged_at, command.result = now, " ".join((result or "").split())[:500]
    command.save(update_fields=["status", "acknowledged_at", "result"])
    if ok and command.kind in (K.LOCK, K.WIPE):
        field = "locked_at" if command.kind == K.LOCK else "wiped_at"
        Device.objects.filter(pk=device.pk).update(**{field: now})
    if ok and command.kind == K.LOCK and device.token_id:
        settle_handover_lock(device)
    append_batch(
        _events(
            "device.command_result", [command], lambda c: {"ok": ok, "result": c.result, "case": c.case_id}
        )
    )
    return command


def settle_handover_lock(device: Device) -> None:
    """custos.handover queues its own bare lock for every device token of a leaver (for phones
    that poll /api/v1/devices/poll without this agent); an enrolled phone answers ours, so the
    lock it carried out is acknowledged there too rather than left waiting for ever."""
    from custos.handover import services as handover

    waiting = [c.pk for c in handover.poll_commands(token=device.token) if c.kind == "lock"]
    if waiting:
        handover.poll_commands(token=device.token, acknowledge=waiting)
