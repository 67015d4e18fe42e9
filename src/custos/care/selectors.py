"""Reads of care, always through the viewer's scope (see desk.py for the service desk's)."""

from collections.abc import Iterable

from custos.care.models import Responsibility
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
