"""Every write to the organisation. Each runs in one transaction with its ledger entry."""

from datetime import date

from django.contrib.auth import get_user_model
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access import policy
from custos.core.errors import Conflict, InvalidInput
from custos.ledger.services import append
from custos.org.models import CompanySettings, Employee, Role, Unit, UnitMove

User = get_user_model()


def _record(kind: str, actor: Employee | None, payload: dict, *, unit_id: int | None = None) -> None:
    append(kind, payload, actor_id=actor.pk if actor else None, unit_id=unit_id, source="console")


def _set_path(unit: Unit) -> None:
    unit.path = f"{unit.parent.path if unit.parent else '/'}{unit.pk}/"
    unit.save(update_fields=["path"])


@transaction.atomic
def create_unit(*, actor: Employee | None, name: str, kind: str, parent: Unit | None) -> Unit:
    """Create a unit. `actor` None is the system (createadmin, demo)."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("A unit needs a name."))
    if kind not in Unit.Kind.values:
        raise InvalidInput(_("Unknown unit kind: %(kind)s") % {"kind": kind})
    if actor is not None:
        policy.require_staff_manager(actor)
        if parent is None:
            policy.require_admin(actor)
        else:
            policy.require_unit_in_scope(actor, parent)
    if Unit.objects.filter(parent=parent, name=name).exists():
        raise Conflict(_("A unit with this name already exists there."))
    unit = Unit.objects.create(name=name, kind=kind, parent=parent)
    _set_path(unit)
    _record("org.unit_created", actor, {"unit": unit.pk, "name": name, "kind": kind, "parent": parent.pk if parent else None}, unit_id=unit.pk)
    return unit


@transaction.atomic
def rename_unit(*, actor: Employee, unit: Unit, name: str) -> Unit:
    policy.require_staff_manager(actor)
    policy.require_unit_in_scope(actor, unit)
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("A unit needs a name."))
    old = unit.name
    unit.name = name
    try:
        with transaction.atomic():
            unit.save(update_fields=["name"])
    except IntegrityError as exc:
        raise Conflict(_("A unit with this name already exists there.")) from exc
    _record("org.unit_renamed", actor, {"unit": unit.pk, "from": old, "to": name}, unit_id=unit.pk)
    return unit


def _check_password(password: str, user=None) -> None:
    try:
        validate_password(password, user)
    except ValidationError as exc:
        raise InvalidInput(" ".join(exc.messages)) from exc


@transaction.atomic
def create_employee(
    *,
    actor: Employee | None,
    name: str,
    username: str,
    password: str,
    unit: Unit,
    role: str = Role.SALES,
    employee_no: str | None = None,
    hired_on: date | None = None,
) -> Employee:
    name, username = (name or "").strip(), (username or "").strip()
    if not name or not username:
        raise InvalidInput(_("An employee needs a name and a user name."))
    if role not in Role.values:
        raise InvalidInput(_("Unknown role: %(role)s") % {"role": role})
    if actor is not None:
        policy.require_staff_manager(actor)
        policy.require_unit_in_scope(actor, unit)
        policy.require_may_grant(actor, role)
    if User.objects.filter(username__iexact=username).exists():
        raise Conflict(_("The user name %(username)s is taken.") % {"username": username})
    user = User(username=username)
    _check_password(password, user)
    user.set_password(password)
    user.save()
    employee_no = (employee_no or "").strip() or f"E{user.pk:05d}"
    if Employee.objects.filter(employee_no=employee_no).exists():
        raise Conflict(_("The employee number %(no)s is taken.") % {"no": employee_no})
    employee = Employee.objects.create(
        user=user, name=name, employee_no=employee_no, unit=unit, role=role, hired_on=hired_on or timezone.localdate()
    )
    UnitMove.objects.create(employee=employee, from_unit=None, to_unit=unit, moved_by=actor, reason="hired")
    _record(
        "org.employee_created",
        actor,
        {"employee": employee.pk, "name": name, "username": username, "unit": unit.pk, "role": role},
        unit_id=unit.pk,
    )
    return employee


@transaction.atomic
def rename_employee(*, actor: Employee, employee: Employee, name: str) -> Employee:
    policy.require_may_manage(actor, employee)
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("An employee needs a name."))
    old, employee.name = employee.name, name
    employee.save(update_fields=["name"])
    _record("org.employee_renamed", actor, {"employee": employee.pk, "from": old, "to": name}, unit_id=employee.unit_id)
    return employee


@transaction.atomic
def move_employee(*, actor: Employee, employee: Employee, unit: Unit, reason: str = "") -> Employee:
    policy.require_may_manage(actor, employee)
    policy.require_unit_in_scope(actor, unit)
    if unit.pk == employee.unit_id:
        raise InvalidInput(_("The employee is already in this unit."))
    from_unit = employee.unit
    employee.unit = unit
    employee.save(update_fields=["unit"])
    UnitMove.objects.create(employee=employee, from_unit=from_unit, to_unit=unit, moved_by=actor, reason=reason[:200])
    _record(
        "org.employee_moved",
        actor,
        {"employee": employee.pk, "from_unit": from_unit.pk, "to_unit": unit.pk, "reason": reason},
        unit_id=unit.pk,
    )
    return employee


@transaction.atomic
def change_role(*, actor: Employee, employee: Employee, role: str) -> Employee:
    policy.require_may_manage(actor, employee)
    policy.require_may_grant(actor, role)
    if role == employee.role:
        return employee
    old, employee.role = employee.role, role
    employee.save(update_fields=["role"])
    _record("org.role_changed", actor, {"employee": employee.pk, "from": old, "to": role}, unit_id=employee.unit_id)
    return employee


ALLOWED_STATUS_CHANGES = {
    Employee.Status.ACTIVE: {Employee.Status.RESIGNING, Employee.Status.DEPARTED},
    Employee.Status.RESIGNING: {Employee.Status.ACTIVE, Employee.Status.DEPARTED},
    Employee.Status.DEPARTED: set(),
}


@transaction.atomic
def set_status(*, actor: Employee, employee: Employee, status: str, last_day: date | None = None) -> Employee:
    """active → resigning → departed. Departing freezes the account at once."""
    policy.require_may_manage(actor, employee)
    if status not in ALLOWED_STATUS_CHANGES.get(employee.status, set()):
        raise InvalidInput(
            _("An employee who is %(old)s cannot become %(new)s.") % {"old": employee.status, "new": status}
        )
    if status == Employee.Status.RESIGNING and last_day is None:
        raise InvalidInput(_("Resigning needs a last working day."))
    old, employee.status = employee.status, status
    employee.last_day = last_day if status != Employee.Status.ACTIVE else None
    fields = ["status", "last_day"]
    if status == Employee.Status.DEPARTED and employee.frozen_at is None:
        employee.frozen_at, employee.frozen_reason = timezone.now(), "departed"
        fields += ["frozen_at", "frozen_reason"]
    employee.save(update_fields=fields)
    _record(
        "org.status_changed",
        actor,
        {"employee": employee.pk, "from": old, "to": status, "last_day": last_day.isoformat() if last_day else None},
        unit_id=employee.unit_id,
    )
    return employee


@transaction.atomic
def freeze(*, actor: Employee, employee: Employee, reason: str) -> Employee:
    """Lock the employee out now: every session and token is refused on its next request."""
    policy.require_may_manage(actor, employee)
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("Freezing needs a reason."))
    if employee.frozen_at is not None:
        raise Conflict(_("This employee is already frozen."))
    employee.frozen_at, employee.frozen_reason = timezone.now(), reason[:200]
    employee.save(update_fields=["frozen_at", "frozen_reason"])
    _record("org.employee_frozen", actor, {"employee": employee.pk, "reason": reason}, unit_id=employee.unit_id)
    return employee


@transaction.atomic
def unfreeze(*, actor: Employee, employee: Employee) -> Employee:
    policy.require_may_manage(actor, employee)
    if employee.status == Employee.Status.DEPARTED:
        raise InvalidInput(_("A departed employee stays frozen."))
    if employee.frozen_at is None:
        raise Conflict(_("This employee is not frozen."))
    employee.frozen_at, employee.frozen_reason = None, ""
    employee.save(update_fields=["frozen_at", "frozen_reason"])
    _record("org.employee_unfrozen", actor, {"employee": employee.pk}, unit_id=employee.unit_id)
    return employee


@transaction.atomic
def set_password(*, actor: Employee, employee: Employee, password: str) -> None:
    if actor.pk != employee.pk:
        policy.require_may_manage(actor, employee)
    _check_password(password, employee.user)
    employee.user.set_password(password)
    employee.user.save(update_fields=["password"])
    _record("auth.password_changed", actor, {"employee": employee.pk}, unit_id=employee.unit_id)


@transaction.atomic
def update_company_settings(*, actor: Employee, require_admin_totp: bool) -> CompanySettings:
    policy.require_admin(actor)
    company = CompanySettings.get()
    company.require_admin_totp = require_admin_totp
    company.save(update_fields=["require_admin_totp"])
    _record("org.settings_changed", actor, {"require_admin_totp": require_admin_totp}, unit_id=actor.unit_id)
    return company


@transaction.atomic
def depart_on_last_day(*, employee: Employee, reason: str = "last day") -> Employee:
    """The system's own status change (custos.handover on the leaver's last day): no actor to
    check, since nobody acts; the entry says so with actor None."""
    if employee.status == Employee.Status.DEPARTED:
        return employee
    old, employee.status = employee.status, Employee.Status.DEPARTED
    fields = ["status"]
    if employee.frozen_at is None:
        employee.frozen_at, employee.frozen_reason = timezone.now(), reason[:200]
        fields += ["frozen_at", "frozen_reason"]
    employee.save(update_fields=fields)
    _record(
        "org.status_changed",
        None,
        {"employee": employee.pk, "from": old, "to": employee.status, "last_day": employee.last_day.isoformat() if employee.last_day else None},
        unit_id=employee.unit_id,
    )
    return employee
