"""Reads of the organisation, always through the viewer's scope."""

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from custos.access.scope import scope_of
from custos.core.errors import NotFound
from custos.org.models import Employee, Unit, UnitMove


def units_visible(viewer: Employee) -> QuerySet[Unit]:
    scope = scope_of(viewer)
    if scope.kind == "own":
        return Unit.objects.filter(pk=viewer.unit_id)
    return Unit.objects.filter(scope.q_units())


def unit_tree(viewer: Employee) -> list[dict]:
    """The visible units as nested dicts, with head counts of active staff."""
    units = list(
        units_visible(viewer).annotate(
            staff=Count("employees", filter=Q(employees__status__in=["active", "resigning"]))
        )
    )
    by_id = {u.pk: {"unit": u, "children": []} for u in units}
    roots = []
    for u in units:
        node = by_id[u.pk]
        if u.parent_id in by_id:
            by_id[u.parent_id]["children"].append(node)
        else:
            roots.append(node)
    return roots


def get_unit(viewer: Employee, unit_id: int) -> Unit:
    unit = units_visible(viewer).filter(pk=unit_id).first()
    if unit is None:
        raise NotFound(_("Unit not found."))
    return unit


def employees_visible(viewer: Employee) -> QuerySet[Employee]:
    return scope_of(viewer).filter(Employee.objects.select_related("unit", "user"), owner="id", unit_path="unit__path")


def list_employees(
    viewer: Employee, *, unit_id: int | None = None, role: str | None = None, status: str | None = None, q: str | None = None
) -> QuerySet[Employee]:
    qs = employees_visible(viewer)
    if unit_id:
        unit = get_unit(viewer, unit_id)
        qs = qs.filter(unit__path__startswith=unit.path)
    if role:
        qs = qs.filter(role=role)
    if status:
        qs = qs.filter(status=status)
    if q:
        qs = qs.filter(Q(name__icontains=q) | Q(employee_no__icontains=q) | Q(user__username__icontains=q))
    return qs


def get_employee(viewer: Employee, employee_id: int) -> Employee:
    employee = employees_visible(viewer).filter(pk=employee_id).first()
    if employee is None:
        raise NotFound(_("Employee not found."))
    return employee


def unit_history(viewer: Employee, employee_id: int) -> QuerySet[UnitMove]:
    employee = get_employee(viewer, employee_id)
    return employee.moves.select_related("from_unit", "to_unit", "moved_by")


def home_counts(viewer: Employee) -> dict:
    staff = employees_visible(viewer)
    return {
        "units": units_visible(viewer).count(),
        "staff": staff.exclude(status=Employee.Status.DEPARTED).count(),
        "resigning": staff.filter(status=Employee.Status.RESIGNING).count(),
        "frozen": staff.filter(frozen_at__isnull=False).exclude(status=Employee.Status.DEPARTED).count(),
    }
