"""Product lines (女装, 男装, 童装) and the line and grade limits of an employee's scope.

The limits narrow what the employee sees on top of their role's units (custos.access.scope).
Setting them is an administrator's act and a ledger entry.
"""

from django.db import transaction
from django.utils.translation import gettext as _

from custos.access import policy
from custos.core.errors import InvalidInput
from custos.ledger.services import append
from custos.org.models import Employee, ProductLine


def _record(kind: str, actor: Employee, payload: dict, unit_id: int | None = None) -> None:
    append(kind, payload, actor_id=actor.pk, unit_id=unit_id, source="console")


def lines_by_code(codes) -> list[ProductLine]:
    """The lines of these codes; an unknown code is bad input."""
    wanted = sorted({str(c).strip() for c in codes if str(c).strip()})
    found = {p.code: p for p in ProductLine.objects.filter(code__in=wanted)}
    unknown = [c for c in wanted if c not in found]
    if unknown:
        raise InvalidInput(_("Unknown product line: %(code)s") % {"code": ", ".join(unknown)})
    return [found[c] for c in wanted]


def clean_grades(grades) -> str:
    from custos.customers.services import grades as known

    wanted = sorted({str(g).strip().upper() for g in grades if str(g).strip()})
    unknown = [g for g in wanted if g not in known()]
    if unknown:
        raise InvalidInput(_("Unknown customer grade: %(grade)s") % {"grade": ", ".join(unknown)})
    return ",".join(wanted)


@transaction.atomic
def create_line(*, actor: Employee, name: str, code: str) -> ProductLine:
    policy.require_admin(actor)
    name, code = name.strip(), code.strip()
    if not name or not code:
        raise InvalidInput(_("A product line needs a name and a code."))
    if ProductLine.objects.filter(code=code).exists() or ProductLine.objects.filter(name=name).exists():
        raise InvalidInput(_("A product line of that name or code exists already."))
    line = ProductLine.objects.create(name=name, code=code)
    _record("org.product_line_created", actor, {"line": line.pk, "code": code, "name": name})
    return line


@transaction.atomic
def set_limits(*, actor: Employee, employee: Employee, lines, grades) -> Employee:
    """Limit the employee to these product lines (codes) and customer grades; empty: no limit."""
    policy.require_admin(actor)
    policy.require_may_manage(actor, employee)
    chosen, clean = lines_by_code(lines), clean_grades(grades)
    employee.limit_lines.set(chosen)
    employee.limit_grades = clean
    employee.save(update_fields=["limit_grades"])
    employee.__dict__.pop("_scope_lines", None)
    payload = {
        "employee": employee.pk,
        "lines": [p.code for p in chosen],
        "grades": clean.split(",") if clean else [],
    }
    _record("org.scope_limited", actor, payload, unit_id=employee.unit_id)
    return employee
