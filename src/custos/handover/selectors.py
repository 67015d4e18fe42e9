"""Reads of departure cases, plans, rotations and contact tasks, always scoped to the viewer.

Cases follow the leaver's unit (a store manager sees the cases of their subtree; a leaver sees
their own, so they know what to fill in); plans and rotations follow their unit; contact tasks
are their assignee's, and visible to the managers above them.
"""

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from custos.access.scope import scope_of
from custos.core.errors import NotFound
from custos.customers.models import Customer
from custos.handover.models import ChecklistItem, ContactTask, DepartureCase, Plan, PlanMove, Rotation
from custos.org.models import Employee


def cases_visible(viewer: Employee) -> QuerySet[DepartureCase]:
    qs = DepartureCase.objects.select_related("employee", "employee__unit", "unit", "opened_by")
    return scope_of(viewer).filter(qs, owner="employee_id", unit_path="unit__path")


def list_cases(viewer: Employee, *, status: str | None = None) -> QuerySet[DepartureCase]:
    # A viewer limited to product lines or grades counts only the items of their customers.
    mine = scope_of(viewer).q_rows("items__customer_id")
    qs = cases_visible(viewer).annotate(
        open_items=Count("items", filter=Q(items__done_at__isnull=True, items__waived_at__isnull=True) & mine),
        customers_left=Count("items", filter=Q(items__kind="customer", items__done_at__isnull=True) & mine),
    )
    return qs.filter(status=status) if status else qs


def get_case(viewer: Employee, case_id: int) -> DepartureCase:
    case = cases_visible(viewer).filter(pk=case_id).first()
    if case is None:
        raise NotFound(_("Departure case not found."))
    return case


def checklist(viewer: Employee, case_id: int) -> QuerySet[ChecklistItem]:
    # Items about customers outside the viewer's lines and grades are left out (Scope.limit_customers).
    items = get_case(viewer, case_id).items.select_related("customer", "waived_by")
    return scope_of(viewer).limit_customers(items)


def get_item(viewer: Employee, case_id: int, item_id: int) -> ChecklistItem:
    item = checklist(viewer, case_id).filter(pk=item_id).first()
    if item is None:
        raise NotFound(_("Checklist item not found."))
    return item


def plans_visible(viewer: Employee) -> QuerySet[Plan]:
    qs = Plan.objects.select_related("unit", "created_by", "committed_by", "case", "rotation")
    return scope_of(viewer).filter(qs, owner="created_by_id", unit_path="unit__path")


def get_plan(viewer: Employee, plan_id: int) -> Plan:
    plan = plans_visible(viewer).filter(pk=plan_id).first()
    if plan is None:
        raise NotFound(_("Plan not found."))
    return plan


def moves_of(plan: Plan, viewer: Employee | None = None) -> QuerySet[PlanMove]:
    """The plan's moves; given the viewer, only of customers within their lines and grades."""
    moves = plan.moves.select_related("customer", "from_employee", "to_employee", "to_employee__unit")
    return scope_of(viewer).limit_customers(moves) if viewer is not None else moves


def rotations_visible(viewer: Employee) -> QuerySet[Rotation]:
    qs = Rotation.objects.select_related("unit", "created_by").prefetch_related("units")
    return scope_of(viewer).filter(qs, owner="created_by_id", unit_path="unit__path")


def get_rotation(viewer: Employee, rotation_id: int) -> Rotation:
    rotation = rotations_visible(viewer).filter(pk=rotation_id).first()
    if rotation is None:
        raise NotFound(_("Rotation not found."))
    return rotation


def tasks_visible(viewer: Employee) -> QuerySet[ContactTask]:
    qs = ContactTask.objects.select_related("assignee", "customer", "plan")
    return scope_of(viewer).filter(qs, owner="assignee_id", unit_path="assignee__unit__path")


def my_tasks(viewer: Employee, *, status: str | None = ContactTask.Status.OPEN) -> QuerySet[ContactTask]:
    qs = ContactTask.objects.select_related("customer", "plan").filter(assignee=viewer)
    return qs.filter(status=status) if status else qs


def get_task(viewer: Employee, task_id: int) -> ContactTask:
    task = tasks_visible(viewer).filter(pk=task_id).first()
    if task is None:
        raise NotFound(_("Task not found."))
    return task


def load_of(employee_ids) -> dict[int, int]:
    """Live customers each of these people owns now."""
    rows = (
        Customer.objects.filter(owner_id__in=list(employee_ids))
        .exclude(status=Customer.Status.ARCHIVED)
        .order_by()
        .values("owner_id")
        .annotate(n=Count("id"))
    )
    return {r["owner_id"]: r["n"] for r in rows}
