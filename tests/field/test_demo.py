import pytest
from django.core.management import call_command

from custos.alerts.models import Alert
from custos.customers import demo as customers_demo
from custos.field import demo as field_demo
from custos.field.models import Site, TrackPoint, Visit
from custos.org import demo as org_demo
from custos.org.models import Employee


@pytest.mark.django_db
def test_the_demo_has_sites_two_days_of_visits_and_one_faked_visit_caught():
    org_demo.build(2026)
    customers_demo.build(2026, total=300)
    made = field_demo.build(2026)
    sales1 = Employee.objects.get(user__username="sales1")
    assert made["days"]["sales1"] == "far"
    assert Site.objects.count() == made["sites"] > 10
    assert Visit.objects.filter(employee=sales1).count() >= 2
    assert Visit.objects.exclude(employee=sales1).exists()  # a colleague's honest day
    assert TrackPoint.objects.filter(employee=sales1).count() > 20
    caught = list(Alert.objects.filter(category="fake_visit").values_list("rule", "employee_id"))
    assert ("far_check_in", sales1.pk) in caught
    assert all(employee == sales1.pk for _rule, employee in caught)
    assert Visit.objects.filter(follow_up__isnull=False).count() == Visit.objects.count()
    call_command("ledger", "verify")
