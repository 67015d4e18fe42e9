"""The care demo on the org and customer demos: the desk has a day, a complaint went to a manager."""

from django.utils import timezone

from custos.care import demo, selectors
from custos.care.models import ContactTask, KeyAccountPlan
from custos.customers import demo as customers_demo
from custos.org import demo as org_demo
from custos.org.models import Employee


def test_the_demo_desk_has_a_day_and_a_manager_a_complaint(db):
    org_demo.build(7)
    customers_demo.build(7, total=300)
    counts = demo.build(7)
    desk = Employee.objects.get(user__username="service")
    day = selectors.day(desk)
    assert day["due_today"] and day["overdue"]
    complaint = ContactTask.objects.get(kind="complaint")
    store1 = Employee.objects.get(user__username="store1")
    assert complaint.assignee_id == store1.pk and complaint.customer.owner_id != store1.pk
    assert [t.pk for t in selectors.day(store1)["complaints"]] == [complaint.pk]
    assert KeyAccountPlan.objects.filter(active=True, next_visit_on__lt=timezone.localdate()).count() == 1
    assert counts["plans"] == 3
