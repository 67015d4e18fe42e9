"""Who may change what. Reads are decided by the scope; writes are decided here.

The rules that stop a person raising their own power:
- nobody changes their own role, unit, status or freeze;
- a role can only be granted by someone ranked above it (admins may grant any role);
- a manager acts only inside their own unit's subtree;
- auditors and frozen or departed staff write nothing (their own sign-in aside: tokens, second
  factor; and the auditor's own work: evidence packages and legal holds);
- nobody issues a device credential for their own phone: what it signs goes into the archive as
  evidence, so only someone answerable for the employee hands one out.
"""

from django.utils.translation import gettext as _

from custos.access.scope import scope_of
from custos.core.errors import Forbidden, NotFound
from custos.org.models import Employee, Role, Unit

RANK = {
    Role.SALES: 1,
    Role.SERVICE: 1,
    Role.MANAGER: 2,
    Role.AUDITOR: 3,
    Role.EXECUTIVE: 3,
    Role.ADMIN: 4,
}
STAFF_MANAGERS = {Role.MANAGER, Role.EXECUTIVE, Role.ADMIN}


def require_writer(actor: Employee) -> None:
    if not actor.may_sign_in:
        raise Forbidden(_("This account is frozen or has left the company."))
    if actor.role == Role.AUDITOR:
        raise Forbidden(_("Auditors have read-only access."))


def require_staff_manager(actor: Employee) -> None:
    require_writer(actor)
    if actor.role not in STAFF_MANAGERS:
        raise Forbidden(_("Only managers and administrators manage staff."))


def require_unit_in_scope(actor: Employee, unit: Unit) -> None:
    if not scope_of(actor).covers_unit(unit):
        # Outside the scope an object does not exist for this viewer.
        raise NotFound(_("Unit not found."))


def require_may_manage(actor: Employee, target: Employee) -> None:
    """The actor may change this employee (role, unit, status, freeze, password)."""
    require_staff_manager(actor)
    if target.pk == actor.pk:
        raise Forbidden(_("You cannot change your own role, unit, status or freeze."))
    scope = scope_of(actor)
    if not scope.covers_unit(target.unit):
        raise NotFound(_("Employee not found."))
    if actor.role != Role.ADMIN and RANK[target.role] >= RANK[actor.role]:
        raise Forbidden(_("You can only manage staff ranked below you."))


def require_may_issue_device(actor: Employee, employee: Employee) -> None:
    """The actor may hand out (or take back) the signing credential of this employee's work phone:
    an administrator, or a manager or executive above the employee in the employee's unit tree."""
    require_writer(actor)
    if employee.pk == actor.pk:
        raise Forbidden(_("Nobody hands out or takes back the credential of their own work phone: ask a manager or an administrator."))
    if actor.role == Role.ADMIN:
        return
    if actor.role not in STAFF_MANAGERS:
        raise Forbidden(_("Only the employee's managers and administrators issue device credentials."))
    if not scope_of(actor).covers_unit(employee.unit):
        raise NotFound(_("Employee not found."))
    if RANK[employee.role] >= RANK[actor.role]:
        raise Forbidden(_("You can only issue device credentials for staff ranked below you."))


def require_may_grant(actor: Employee, role: str) -> None:
    if role not in Role.values:
        raise Forbidden(_("Unknown role."))
    if actor.role != Role.ADMIN and RANK[role] >= RANK[actor.role]:
        raise Forbidden(_("You can only grant roles ranked below your own."))


def require_admin(actor: Employee) -> None:
    require_writer(actor)
    if actor.role != Role.ADMIN:
        raise Forbidden(_("Only administrators may do this."))


def may_manage_staff(actor: Employee) -> bool:
    return actor.may_sign_in and actor.role in STAFF_MANAGERS


def may_manage(actor: Employee, target: Employee) -> bool:
    try:
        require_may_manage(actor, target)
    except (Forbidden, NotFound):
        return False
    return True
