"""The viewer's scope: the one place that decides what a person may see.

own      sales and service staff: what they own themselves
subtree  managers: everything in their unit and the units below it
all      executives and admins; auditors too, read-only

Every selector takes the viewer and narrows its queryset with `Scope.filter`. An object outside
the scope is reported as not found, never as forbidden, so ids cannot be probed.
"""

from dataclasses import dataclass
from typing import Literal

from django.db.models import Q, QuerySet

from custos.org.models import Employee, Role

ScopeKind = Literal["own", "subtree", "all", "none"]

SCOPE_BY_ROLE: dict[str, ScopeKind] = {
    Role.SALES: "own",
    Role.SERVICE: "own",
    Role.MANAGER: "subtree",
    Role.EXECUTIVE: "all",
    Role.ADMIN: "all",
    Role.AUDITOR: "all",
}


@dataclass(frozen=True)
class Scope:
    kind: ScopeKind
    employee_id: int | None = None
    unit_path: str | None = None
    read_only: bool = True

    def filter(self, qs: QuerySet, *, owner: str | None = None, unit_path: str | None = None) -> QuerySet:
        """Narrow `qs` to this scope.

        owner: the lookup to the owning employee's id ("owner_id", "id" for employees);
        unit_path: the lookup to the path of the object's unit ("unit__path").
        """
        if self.kind == "all":
            return qs
        if self.kind == "subtree" and unit_path:
            return qs.filter(**{f"{unit_path}__startswith": self.unit_path})
        if self.kind == "own" and owner:
            return qs.filter(**{owner: self.employee_id})
        return qs.none()

    def covers_unit(self, unit) -> bool:
        if self.kind == "all":
            return True
        if self.kind == "subtree":
            return unit.path.startswith(self.unit_path)
        return False

    def q_units(self) -> Q:
        if self.kind == "all":
            return Q()
        if self.kind == "subtree":
            return Q(path__startswith=self.unit_path)
        return Q(pk__in=[])


NO_SCOPE = Scope("none")


def scope_of(employee: Employee | None) -> Scope:
    if employee is None or not employee.may_sign_in:
        return NO_SCOPE
    kind = SCOPE_BY_ROLE.get(employee.role, "none")
    return Scope(
        kind=kind,
        employee_id=employee.pk,
        unit_path=employee.unit.path,
        read_only=employee.role == Role.AUDITOR,
    )
