"""Who in care sees which customers and tasks.

The service desk is the company's second line (双线管理): its people are `own` in the access
scope (they own no customers), but here they work on every customer of their unit's subtree,
whoever the owner. A complaint goes to the owner's manager and stays out of the owner's sight,
even when the owner is a manager who would otherwise see their subtree's tasks.
"""

from django.db.models import Q, QuerySet

from custos.access.scope import scope_of
from custos.care.models import ContactTask
from custos.customers.models import Customer
from custos.org.models import Employee, Role, Unit


def desk_kind(viewer: Employee) -> str:
    """all | subtree | own | none: how far the viewer reaches in care."""
    scope = scope_of(viewer)
    if scope.kind == "own" and viewer.role == Role.SERVICE:
        return "subtree"
    return scope.kind


def _unit_ids(viewer: Employee) -> list[int]:
    return list(Unit.objects.filter(path__startswith=viewer.unit.path).values_list("pk", flat=True))


def customers_in_reach(viewer: Employee) -> QuerySet[Customer]:
    kind = desk_kind(viewer)
    qs = scope_of(viewer).limit_customers(Customer.objects.select_related("owner", "unit"))
    if kind == "all":
        return qs
    if kind == "subtree":
        return qs.filter(unit_id__in=_unit_ids(viewer))
    if kind == "own":
        return qs.filter(owner_id=viewer.pk)
    return qs.none()


def tasks_visible(viewer: Employee) -> QuerySet[ContactTask]:
    kind = desk_kind(viewer)
    qs = ContactTask.objects.select_related("customer", "customer__owner", "customer__unit", "assignee")
    qs = scope_of(viewer).limit_customers(qs)
    if kind == "all":
        return qs
    if kind == "none":
        return qs.none()
    mine = Q(assignee_id=viewer.pk)
    if kind == "own":
        return qs.filter(mine)
    in_units = Q(customer__unit_id__in=_unit_ids(viewer))
    if viewer.role == Role.SERVICE:
        return qs.filter(mine | (in_units & Q(queue=ContactTask.Queue.DESK)))
    # A manager's subtree, less the manager-queue tasks about their own customers.
    about_me = Q(queue=ContactTask.Queue.MANAGER, customer__owner_id=viewer.pk)
    return qs.filter(mine | (in_units & ~about_me))


def employees_in_reach(viewer: Employee) -> QuerySet[Employee]:
    from custos.org.selectors import employees_visible

    return employees_visible(viewer)
