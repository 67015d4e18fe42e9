"""A store manager walks one departure in a real browser: open, preview, commit, freeze, close, report."""

from datetime import timedelta

import pytest
from django.utils import timezone

from custos.customers import services as customer_services
from custos.customers.models import Customer
from custos.customers.services import NewContact
from custos.handover.models import DepartureCase
from tests.browser.test_console_e2e import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_store_manager_walks_one_departure(page, company):
    for n in range(3):
        customer_services.create_customer(
            actor=company.sales_a, name=f"李{n}号客户", owner=company.sales_a, contacts_in=[NewContact("phone", f"1370000000{n}")]
        )
    sign_in(page, "manager_a")
    page.wait_for_url(page.base + "/")
    page.goto(page.base + "/handover/")
    page.select_option("#open-case select[name=employee]", str(company.sales_a.pk))
    page.fill("#open-case input[name=last_day]", (timezone.localdate() + timedelta(days=5)).isoformat())
    page.fill("#open-case input[name=reason]", "个人原因")
    page.click("#open-case button[type=submit]")
    case = DepartureCase.objects.get(employee=company.sales_a)
    page.wait_for_url(page.base + f"/handover/cases/{case.pk}/")
    assert page.locator("section[data-kind=customer] tr").count() == 3

    page.select_option("select[name=strategy]", "round_robin")
    page.check(f"#r{company.sales_a_peer.pk}")
    page.check(f"#r{company.service_a.pk}")
    page.click("#plan-form button[type=submit]")
    page.wait_for_url("**/handover/plans/*/")
    assert page.locator("#assigned").inner_text() == "3"
    assert page.locator("#moves tbody tr").count() == 3
    assert Customer.objects.filter(owner=company.sales_a).count() == 3  # preview only
    page.click("#commit button")
    page.wait_for_url(page.base + f"/handover/cases/{case.pk}/")
    assert Customer.objects.filter(owner=company.sales_a).count() == 0
    assert page.locator("section[data-kind=customer] tr.done").count() == 3

    page.fill("#freeze input[name=reason]", "提前离岗")
    page.click("#freeze button")
    assert page.locator("#case-status").get_attribute("class").endswith("frozen")
    while page.locator("form.waive").count():
        form = page.locator("form.waive").first
        form.locator("input[name=reason]").fill("店长确认")
        form.locator("button").click()
        page.wait_for_load_state()
    page.click("#close button")
    page.wait_for_url(page.base + f"/handover/cases/{case.pk}/report/")
    assert page.locator("#handed-over").inner_text() == "3"
    assert company.sales_a_peer.name in page.locator("#receivers").inner_text()
