from django.utils import timezone

from custos.care.models import Responsibility
from custos.care.selectors import people_by_customer
from custos.org.models import Employee


def test_people_besides_the_owner_with_an_empty_set_for_the_unknown(company, make_customer):
    known = make_customer(company.sales_a, name="甲")
    alone = make_customer(company.sales_a, name="乙")
    Responsibility.objects.create(customer=known, employee=company.manager_a, kind="development")
    Responsibility.objects.create(customer=known, employee=company.service_a, kind="service")
    # The owner listed as a line of their own still does not count as a second person.
    Responsibility.objects.create(customer=alone, employee=company.sales_a, kind="business")

    people = people_by_customer([known.pk, alone.pk, known.pk])

    assert people == {known.pk: {company.manager_a.pk, company.service_a.pk}, alone.pk: set()}


def test_ended_lines_and_departed_staff_no_longer_count(company, make_customer):
    c = make_customer(company.sales_a)
    Responsibility.objects.create(
        customer=c, employee=company.manager_a, kind="development", ended_at=timezone.now()
    )
    Responsibility.objects.create(customer=c, employee=company.service_a, kind="service")
    Employee.objects.filter(pk=company.service_a.pk).update(status=Employee.Status.DEPARTED)

    assert people_by_customer([c.pk]) == {c.pk: set()}
