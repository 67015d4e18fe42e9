"""The viewer's scope: the one place that decides what a person may see.

own      sales and service staff: what they own themselves
subtree  managers: everything in their unit and the units below it
all      executives and admins; auditors too, read-only

Every selector takes the viewer and narrows its queryset with `Scope.filter`. An object outside
the scope is reported as not found, never as forbidden, so ids cannot be probed.

On top of the units, an employee may be limited to product lines and customer grades
(Employee.limit_lines, limit_grades; empty is no limit). The limits narrow customers and every row
about a customer: `Scope.filter` finds the customer of a model itself (the Customer, a `customer`
foreign key or a plain `customer_id` column) and `limit_customers` does it for querysets that are
narrowed another way. Rows about no customer are not narrowed. A customer with no product line is
seen only by viewers without a line limit: a line-limited buyer serves their lines, not the rest.
"""

from dataclasses import dataclass
from typing import Literal

from django.db.models import Exists, OuterRef, Q, QuerySet

from custos.org.models import Employee, Role

ScopeKind = Literal["own", "subtree", "all", "none"]
# Scope.filter's default: find the lookup to the customer from the model.
AUTO = "<auto>"


def customer_lookup(model) -> str | None:
    """The lookup from `model` to its customer's id: "pk" for Customer itself, "customer_id" for a
    model with a customer foreign key or a plain customer_id column; None when it has neither."""
    from custos.customers.models import Customer

    if model is Customer:
        return "pk"
    names = {f.attname for f in model._meta.concrete_fields}
    return "customer_id" if "customer_id" in names else None


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
    # Product line ids and grade letters the viewer is limited to; None: no limit.
    lines: frozenset[int] | None = None
    grades: frozenset[str] | None = None

    def filter(
        self,
        qs: QuerySet,
        *,
        owner: str | None = None,
        unit_path: str | None = None,
        customer: str | None = AUTO,
    ) -> QuerySet:
        """Narrow `qs` to this scope.

        owner: the lookup to the owning employee's id ("owner_id", "id" for employees);
        unit_path: the lookup to the path of the object's unit ("unit__path");
        customer: the lookup to the row's customer id ("pk" for customers, "customer_id"), found
        from the model when not given; None: the rows are about no customer.
        """
        if self.kind == "all":
            return self.limit_customers(qs, customer)
        if self.kind == "subtree" and unit_path:
            return self.limit_customers(qs.filter(**{f"{unit_path}__startswith": self.unit_path}), customer)
        if self.kind == "own" and owner:
            return self.limit_customers(qs.filter(**{owner: self.employee_id}), customer)
        return qs.none()

    @property
    def limited(self) -> bool:
        return self.lines is not None or self.grades is not None

    def q_customer(self, prefix: str = "") -> Q:
        """The line and grade limits as a condition on Customer (prefix: the lookup to it, "customer__")."""
        q = Q()
        if self.grades is not None:
            q &= Q(**{f"{prefix}grade__in": sorted(self.grades)})
        if self.lines is not None:
            from custos.customers.models import Customer

            through = Customer.product_lines.through
            ref = f"{prefix}pk" if prefix else "pk"
            # Exists, not a join: a customer of two allowed lines stays one row.
            q &= Q(
                Exists(
                    through.objects.filter(customer_id=OuterRef(ref), productline_id__in=sorted(self.lines))
                )
            )
        return q

    def limit_customers(self, qs: QuerySet, customer: str | None = AUTO) -> QuerySet:
        """Narrow rows about customers to the customers within the line and grade limits."""
        if not self.limited:
            return qs
        lookup = customer_lookup(qs.model) if customer is AUTO else customer
        if lookup is None:
            return qs
        if lookup in ("", "pk", "id"):
            return qs.filter(self.q_customer())
        return qs.filter(self.q_rows(lookup))

    def q_rows(self, lookup: str = "customer_id") -> Q:
        """Rows whose customer (`lookup` to its id, e.g. "items__customer_id") is within the limits,
        or who are about no customer; for counts and annotations. Q() when not limited."""
        if not self.limited:
            return Q()
        from custos.customers.models import Customer

        # A probe of each row's customer by primary key. Not `IN (SELECT ...)`: beside the OR, PostgreSQL
        # can't make that a semi-join, and at a million customers the allowed ids overflow work_mem into
        # a SubPlan read again for every row (a limited manager's dashboard ran for over 20 minutes).
        allowed = Customer.objects.filter(pk=OuterRef(lookup)).filter(self.q_customer())
        return Q(**{f"{lookup}__isnull": True}) | Q(Exists(allowed))

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
    lines = getattr(employee, "_scope_lines", None)
    if lines is None:
        # Read once per loaded employee: scope_of is asked many times in one request.
        lines = frozenset(employee.limit_lines.values_list("pk", flat=True)) if employee.pk else frozenset()
        employee._scope_lines = lines
    grades = frozenset(g.strip() for g in employee.limit_grades.split(",") if g.strip())
    return Scope(
        kind=kind,
        employee_id=employee.pk,
        unit_path=employee.unit.path,
        read_only=employee.role == Role.AUDITOR,
        lines=lines or None,
        grades=grades or None,
    )
