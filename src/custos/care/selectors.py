"""Reads of care, always through the viewer's scope (see desk.py for the service desk's)."""

from collections.abc import Iterable
from datetime import date, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.care import scope
from custos.care.models import ContactTask, Responsibility
from custos.core.errors import NotFound
from custos.customers.models import Customer
from custos.org.models import Employee


def people_by_customer(customer_ids: Iterable[int]) -> dict[int, set[int]]:
    """For each customer, the employees besides the owner who hold a responsibility for them.

    Not scoped: a helper for other apps' selectors (insights' concentration risk), which scope the
    customers they pass. Every id asked for is in the answer, with an empty set where nobody but
    the owner knows the customer. Departed staff no longer count.
    """
    ids = list(dict.fromkeys(int(i) for i in customer_ids))
    result: dict[int, set[int]] = {i: set() for i in ids}
    chunk = 900  # parameters per IN (...): below every backend's limit
    for start in range(0, len(ids), chunk):
        rows = (
            Responsibility.objects.filter(customer_id__in=ids[start : start + chunk], ended_at__isnull=True)
            .exclude(employee__status=Employee.Status.DEPARTED)
            .values_list("customer_id", "employee_id", "customer__owner_id")
        )
        for customer_id, employee_id, owner_id in rows:
            if employee_id != owner_id:
                result[customer_id].add(employee_id)
    return result


def lines_of(viewer: Employee, customer_id: int) -> list[dict]:
    """Who knows this customer at the company: the owner (business) and the other lines."""
    customer = get_customer_in_reach(viewer, customer_id)
    lines = []
    if customer.owner_id:
        lines.append({"kind": Responsibility.Kind.BUSINESS.value, "employee": customer.owner, "since": None})
    rows = Responsibility.objects.filter(customer=customer, ended_at__isnull=True).exclude(
        kind=Responsibility.Kind.BUSINESS
    )
    for r in rows.select_related("employee"):
        lines.append({"kind": r.kind, "employee": r.employee, "since": r.assigned_at})
    return lines


def get_customer_in_reach(viewer: Employee, customer_id: int) -> Customer:
    customer = scope.customers_in_reach(viewer).filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("Customer not found."))
    return customer


def get_task(viewer: Employee, task_id: int) -> ContactTask:
    task = scope.tasks_visible(viewer).filter(pk=task_id).first()
    if task is None:
        raise NotFound(_("Task not found."))
    return task


WHEN = ("today", "overdue", "due", "week", "open", "done")


def tasks(
    viewer: Employee,
    *,
    when: str = "due",
    queue: str | None = None,
    mine: bool = False,
    today: date | None = None,
) -> QuerySet[ContactTask]:
    """The viewer's tasks. due: today's and overdue (a day's work); week: due within seven days."""
    today = today or timezone.localdate()
    qs = scope.tasks_visible(viewer)
    if queue:
        qs = qs.filter(queue=queue)
    if mine:
        qs = qs.filter(Q(assignee_id=viewer.pk) | Q(assignee__isnull=True))
    if when == "done":
        return qs.filter(status=ContactTask.Status.DONE).order_by("-done_at", "-id")
    qs = qs.filter(status=ContactTask.Status.OPEN)
    if when == "today":
        return qs.filter(due_on=today)
    if when == "overdue":
        return qs.filter(due_on__lt=today)
    if when == "due":
        return qs.filter(due_on__lte=today)
    if when == "week":
        return qs.filter(due_on__lte=today + timedelta(days=7))
    return qs


def day(viewer: Employee, today: date | None = None) -> dict:
    """A desk person's (or a manager's) day: overdue first, then today's, then the week ahead."""
    today = today or timezone.localdate()
    queue = ContactTask.Queue.DESK if viewer.role == "service" else None
    open_ = list(tasks(viewer, when="week", queue=queue, mine=viewer.role == "service", today=today)[:500])
    return {
        "today": today,
        "overdue": [t for t in open_ if t.due_on < today],
        "due_today": [t for t in open_ if t.due_on == today],
        "ahead": [t for t in open_ if t.due_on > today],
        "complaints": list(tasks(viewer, when="open", queue=ContactTask.Queue.MANAGER, today=today)[:200])
        if viewer.role != "service"
        else [],
    }
