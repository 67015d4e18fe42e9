"""The registry's writes: registering a phone, enrolment codes, enrolment, heartbeats, silences.

Each runs in one transaction with its ledger entries (kinds `device.*`, docs/devices.md).
Policies are in policies.py, commands in commands.py.
"""

import contextlib
import hashlib
import re
import secrets
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access import policy, tokens
from custos.access.models import ApiToken
from custos.access.scope import scope_of
from custos.alerts import services as alert_services
from custos.alerts.rules import Signal
from custos.archive import credentials
from custos.archive.signing import Unauthenticated
from custos.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from custos.devices import config
from custos.devices.models import Command, Device, EnrolmentCode
from custos.ledger.services import Event, append, append_batch
from custos.org.models import Employee, Unit

SOURCE = "console"
# Crockford's base32 without I, L, O, U: read aloud or typed on a phone without confusion.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16  # 80 bits
SERIAL = re.compile(r"^[A-Za-z0-9._:/-]{3,64}$")
IMEI = re.compile(r"^\d{14,16}$")
NUMBER = re.compile(r"^\+?\d{5,19}$")
ICCID = re.compile(r"^[0-9A-Fa-f]{10,32}$")


def record(kind: str, device: Device, payload: dict, actor: Employee | None, source: str = SOURCE):
    return append(
        kind,
        {"device": device.pk, "serial": device.serial, **payload},
        actor_id=actor.pk if actor else None,
        unit_id=device.unit_id,
        source=source,
    )


def require_may_manage_device(actor: Employee, device: Device) -> None:
    """Who commands a phone: whoever may hand out its user's device credential (an administrator
    or a manager above the employee); for a phone nobody holds, a manager of its unit."""
    if device.employee_id:
        policy.require_may_issue_device(actor, device.employee)
    else:
        policy.require_staff_manager(actor)
        policy.require_unit_in_scope(actor, device.unit)


def _clean(value: str | None, pattern: re.Pattern, what: str) -> str:
    value = (value or "").strip().replace(" ", "")
    if value and not pattern.match(value):
        raise InvalidInput(_("%(what)s is not valid.") % {"what": what})
    return value


def _text(value: str | None, limit: int) -> str:
    return " ".join((value or "").split())[:limit]


@transaction.atomic
def register(
    *,
    actor: Employee,
    serial: str,
    employee: Employee | None = None,
    unit: Unit | None = None,
    imei: str = "",
    model: str = "",
    os: str = "",
    phone_number: str = "",
) -> Device:
    """A manager registers a company phone, for an employee or for a unit's shelf."""
    serial = _clean(serial, SERIAL, _("The serial number"))
    if not serial:
        raise InvalidInput(_("A phone needs its serial number."))
    if employee is not None:
        policy.require_may_issue_device(actor, employee)
        unit = employee.unit
    elif unit is None:
        raise InvalidInput(_("Register the phone for an employee or a unit."))
    else:
        policy.require_staff_manager(actor)
        policy.require_unit_in_scope(actor, unit)
    try:
        with transaction.atomic():
            device = Device.objects.create(
                unit=unit,
                employee=employee,
                serial=serial,
                imei=_clean(imei, IMEI, "IMEI"),
                model=_text(model, 100),
                os=_text(os, 60),
                phone_number=_clean(phone_number, NUMBER, _("The phone number")),
                registered_by=actor,
            )
    except IntegrityError:
        raise Conflict(_("A phone with this serial number is already registered.")) from None
    record(
        "device.registered",
        device,
        {"employee": employee.pk if employee else None, "model": device.model, "imei": device.imei},
        actor,
    )
    return device


def _code_hash(code: str) -> str:
    normal = "".join(ch for ch in (code or "").upper() if ch.isalnum())
    return hashlib.sha256(normal.encode()).hexdigest()


def _new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


@transaction.atomic
def issue_code(*, actor: Employee, device: Device, hours: int | None = None) -> tuple[EnrolmentCode, str]:
    """A one-time enrolment code for this phone, shown once; an earlier unused code stops working.
    Returns (the code's row, the code in clear)."""
    hours = hours or config.enrolment_hours()
    if not 1 <= hours <= 24 * 14:
        raise InvalidInput(_("An enrolment code lives between 1 hour and 14 days."))
    device = (
        Device.objects.select_for_update(of=("self",)).select_related("employee", "unit").get(pk=device.pk)
    )
    if device.state == Device.State.RETIRED:
        raise Conflict(_("This phone is retired."))
    if device.employee is None:
        raise InvalidInput(
            _("Assign the phone to an employee before enrolling it: its credential is theirs.")
        )
    policy.require_may_issue_device(actor, device.employee)
    if not device.employee.may_sign_in:
        raise Conflict(
            _("%(name)s is frozen or has left: their phone is not enrolled again.")
            % {"name": device.employee.name}
        )
    now = timezone.now()
    device.codes.filter(used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
    clear = _new_code()
    code = EnrolmentCode.objects.create(
        device=device, code_hash=_code_hash(clear), created_by=actor, expires_at=now + timedelta(hours=hours)
    )
    record(
        "device.enrolment_code_issued",
        device,
        {"code": code.pk, "expires_at": code.expires_at.isoformat()},
        actor,
    )
    return code, clear


@transaction.atomic
def enrol(
    *,
    code: str,
    serial: str,
    imei: str = "",
    model: str = "",
    os: str = "",
    phone_number: str = "",
    sim_serial: str = "",
):
    """The phone trades its one-time code for its device credential (token and signing secret,
    both shown once). Returns (device, clear token, clear secret)."""
    row = (
        EnrolmentCode.objects.select_for_update(of=("self",))
        .select_related("device", "device__employee", "created_by")
        .filter(code_hash=_code_hash(code))
        .first()
    )
    if row is None or row.used_at is not None or row.expires_at <= timezone.now():
        raise Unauthenticated(
            _("The enrolment code is unknown, used or expired: ask your manager for a new one.")
        )
    device = Device.objects.select_for_update(of=("self",)).select_related("employee").get(pk=row.device_id)
    serial = _clean(serial, SERIAL, _("The serial number"))
    if serial != device.serial:
        raise Forbidden(_("This enrolment code is for another phone (the serial number differs)."))
    if device.state == Device.State.RETIRED or device.employee is None:
        raise Conflict(_("This phone can no longer be enrolled."))
    issuer = row.created_by
    try:
        if device.token_id:
            tokens.revoke(actor=issuer, token_id=device.token_id)  # the old phone image stops signing
        token, clear, secret = credentials.issue(
            actor=issuer,
            kind="device",
            name=f"{device.model or _('Phone')} {device.serial}"[:100],
            employee=device.employee,
            source="device",
        )
    except (Forbidden, NotFound):
        raise Forbidden(
            _("The person who issued this code may no longer hand out credentials: ask for a new code.")
        ) from None
    now = timezone.now()
    row.used_at = now
    row.save(update_fields=["used_at"])
    device.token = token
    device.state = Device.State.ENROLLED
    device.enrolled_at = device.last_seen_at = now
    device.offline_alerted_at = None
    device.imei = _clean(imei, IMEI, "IMEI") or device.imei
    device.model = _text(model, 100) or device.model
    device.os = _text(os, 60) or device.os
    device.sim_serial = _clean(sim_serial, ICCID, "ICCID") or device.sim_serial
    reported = _clean(phone_number, NUMBER, _("The phone number"))
    device.last_report = {"phone_number": reported} if reported else {}
    if not device.phone_number:
        device.phone_number = reported
    device.save()
    record(
        "device.enrolled",
        device,
        {"token": token.pk, "code": row.pk, "employee": device.employee_id},
        issuer,
        source="device",
    )
    return device, clear, secret


def device_of_token(token) -> Device:
    device = Device.objects.select_related("employee", "unit").filter(token=token).first()
    if device is None or device.state != Device.State.ENROLLED:
        raise Forbidden(_("This credential belongs to no enrolled work phone."))
    return device


def _signal(rule: str, severity: str, device: Device, entry, detail: str, key: str) -> Signal:
    return Signal(
        rule=rule,
        category="device",
        severity=severity,
        seqs=[entry.seq],
        at=entry.occurred_at,
        employee_id=device.employee_id,
        unit_id=device.unit_id,
        detail=detail[:300],
        key=key[:200],
    )


def _tail(value: str) -> str:
    return f"…{value[-4:]}" if value else ""


@transaction.atomic
def heartbeat(device: Device, report: dict) -> Device:
    """A phone reports in: last seen, its state, its SIM. A SIM serial or number different from
    the last one reported is a `device.sim_changed` entry and an alert (a company SIM swapped
    for a private one, or the company number moved to another phone)."""
    device = Device.objects.select_for_update(of=("self",)).select_related("employee").get(pk=device.pk)
    now = timezone.now()
    changes = []
    sim = _clean(report.pop("sim_serial", ""), ICCID, "ICCID")
    number = _clean(report.pop("phone_number", ""), NUMBER, _("The phone number"))
    if sim and device.sim_serial and sim != device.sim_serial:
        changes.append(("sim_serial", device.sim_serial, sim))
    known_number = device.last_report.get("phone_number") or device.phone_number
    if number and known_number and number != known_number:
        changes.append(("phone_number", known_number, number))
    apps = report.pop("apps", None)
    if apps is not None:
        device.installed_apps = sorted({str(a)[:150] for a in apps})[:500]
    if device.offline_alerted_at is not None:
        record(
            "device.back_online",
            device,
            {"silent_since": device.last_seen_at.isoformat() if device.last_seen_at else None},
            None,
            "device",
        )
        device.offline_alerted_at = None
    device.sim_serial = sim or device.sim_serial
    device.last_report = {**report, "phone_number": number or known_number}
    device.last_seen_at = now
    device.save()
    for what, old, new in changes:
        entry = record(
            "device.sim_changed", device, {"what": what, "old": _tail(old), "new": _tail(new)}, None, "device"
        )
        label = _("SIM card") if what == "sim_serial" else _("phone number")
        alert_services.raise_signals(
            [
                _signal(
                    "device_sim_changed",
                    "high",
                    device,
                    entry,
                    f"{label} {_tail(old)} → {_tail(new)}",
                    f"device_sim_changed:{device.pk}:{what}:{new}",
                )
            ]
        )
    return device


def silent(now: datetime | None = None):
    cutoff = (now or timezone.now()) - timedelta(minutes=config.offline_minutes())
    return Device.objects.filter(
        state=Device.State.ENROLLED,
        last_seen_at__lt=cutoff,
        offline_alerted_at__isnull=True,
        wiped_at__isnull=True,
    )


def alert_silent(now: datetime | None = None) -> int:
    """The periodic detector: every enrolled phone silent for longer than the configured time gets
    one `device.silent` entry and one alert, until it reports again."""
    now = now or timezone.now()
    count = 0
    for pk in silent(now).values_list("pk", flat=True):
        with transaction.atomic():
            device = Device.objects.select_for_update(of=("self",)).select_related("employee").get(pk=pk)
            if device.offline_alerted_at is not None or device.state != Device.State.ENROLLED:
                continue
            hours = (now - device.last_seen_at).total_seconds() / 3600
            [appended] = append_batch(
                [
                    Event(
                        kind="device.silent",
                        payload={
                            "device": device.pk,
                            "serial": device.serial,
                            "last_seen_at": device.last_seen_at.isoformat(),
                        },
                        unit_id=device.unit_id,
                        source="devices",
                        source_id=f"silent:{device.pk}:{device.last_seen_at.isoformat()}",
                        occurred_at=now,
                    )
                ]
            )
            detail = _("%(phone)s silent for %(hours).1f h") % {"phone": device.serial, "hours": hours}
            alert_services.raise_signals(
                [
                    _signal(
                        "device_offline",
                        "medium",
                        device,
                        appended.entry,
                        detail,
                        f"device_offline:{device.pk}:{device.last_seen_at.isoformat()}",
                    )
                ]
            )
            device.offline_alerted_at = now
            device.save(update_fields=["offline_alerted_at"])
            count += 1
    return count


@transaction.atomic
def assign(*, actor: Employee, device: Device, employee: Employee | None, unit: Unit | None = None) -> Device:
    """Give the phone to someone else (or back to a unit's shelf): its credential was the former
    holder's, so it is revoked and the phone must be enrolled again."""
    device = (
        Device.objects.select_for_update(of=("self",)).select_related("employee", "unit").get(pk=device.pk)
    )
    require_may_manage_device(actor, device)
    if device.state == Device.State.RETIRED:
        raise Conflict(_("This phone is retired."))
    if employee is not None:
        policy.require_may_issue_device(actor, employee)
        unit = employee.unit
    elif unit is None:
        raise InvalidInput(_("Give the phone to an employee or a unit."))
    elif not scope_of(actor).covers_unit(unit):
        raise NotFound(_("Unit not found."))
    if device.token_id:
        with contextlib.suppress(DomainError):  # already gone with its holder
            tokens.revoke(actor=actor, token_id=device.token_id)
    before = device.employee_id
    device.employee, device.unit, device.token = employee, unit, None
    device.state = Device.State.REGISTERED
    device.save(update_fields=["employee", "unit", "token", "state"])
    record(
        "device.assigned",
        device,
        {"from": before, "to": employee.pk if employee else None, "unit": unit.pk},
        actor,
    )
    return device


@transaction.atomic
def retire(*, actor: Employee, device: Device, reason: str) -> Device:
    """Take a phone out of service (broken, lost for good, handed back): its credential is revoked
    so it signs nothing more, its waiting commands are cancelled, and it is no longer watched for
    silence or compliance. The phone and its history stay; a departure still waiting for its lock
    and wipe keeps its checklist item open until a manager waives it (custos.devices.departures)."""
    reason = " ".join((reason or "").split())[:200]
    if not reason:
        raise InvalidInput(_("Say why the phone is retired (broken, lost, returned...)."))
    device = (
        Device.objects.select_for_update(of=("self",)).select_related("employee", "unit").get(pk=device.pk)
    )
    require_may_manage_device(actor, device)
    if device.state == Device.State.RETIRED:
        raise Conflict(_("This phone is retired."))
    now = timezone.now()
    if device.token_id:
        # Revoked here rather than through tokens.revoke: whoever may manage the phone may end its
        # credential, also when its holder has left and is no longer in anyone's staff list.
        revoked = ApiToken.objects.filter(pk=device.token_id, revoked_at__isnull=True).update(revoked_at=now)
        if revoked:
            append("auth.token_revoked", {"token": device.token_id, "device": device.pk}, actor_id=actor.pk,
                   unit_id=device.unit_id, source="console")  # fmt: skip
    device.codes.filter(used_at__isnull=True, expires_at__gt=now).update(expires_at=now)
    cancelled = list(
        device.commands.filter(status__in=(Command.Status.QUEUED, Command.Status.DELIVERED)).values_list(
            "pk", flat=True
        )
    )
    device.commands.filter(pk__in=cancelled).update(status=Command.Status.CANCELLED)
    before = device.state
    device.state, device.retired_at, device.retired_reason = Device.State.RETIRED, now, reason
    device.offline_alerted_at = None
    device.save(update_fields=["state", "retired_at", "retired_reason", "offline_alerted_at"])
    record(
        "device.retired",
        device,
        {
            "reason": reason,
            "was": before,
            "employee": device.employee_id,
            "token": device.token_id,
            "cancelled_commands": cancelled,
        },
        actor,
    )
    return device
