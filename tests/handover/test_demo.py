"""`custos demo` leaves one departure in progress and one completed, with its report."""

import pytest

from custos.customers import demo as customers_demo
from custos.handover import demo, reports
from custos.handover.models import DepartureCase, Plan
from custos.org import demo as org_demo
from custos.org.models import Employee


@pytest.mark.django_db
def test_demo_departures():
    org_demo.build(2026)
    customers_demo.build(2026, total=300)
    made = demo.build(2026)
    live = DepartureCase.objects.get(pk=made["in_progress"])
    done = DepartureCase.objects.get(pk=made["completed"])
    assert live.status == "open" and live.items.filter(done_at__isnull=True).exists()
    assert live.plans.filter(status=Plan.Status.DRAFT).exists()
    assert done.status == "closed" and done.employee.status == "departed"
    store2 = Employee.objects.get(user__username="store2")
    report = reports.departure(store2, done.pk)
    assert report.handed_over > 0 and len(report.deleted_by_customers) == 2
    assert report.retention[0].kept_so_far > 0
    # two of the leaver's chats ended with the customer's message, and nobody answered since
    assert len(report.unanswered) == 2 and not any(u["answered"] for u in report.unanswered)
    assert all(u["customer_id"] and u["label"] != u["ref"] for u in report.unanswered)
    store1 = Employee.objects.get(user__username="store1")
    assert reports.departure(store1, live.pk).case == live
