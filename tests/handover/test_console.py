"""The handover pages, through the signed-in console, as a store manager would use them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from custos.customers.models import Customer
from custos.handover.models import ContactTask, DepartureCase, Plan, Rotation

pytestmark = pytest.mark.django_db


def test_store_manager_walks_a_departure(company, make_customer, console):
    customers = [make_customer(company.sales_a, name=f"客户{n}号") for n in range(4)]
    browser = console(company.manager_a)
    page = browser.get("/handover/")
    assert page.status_code == 200
    assert company.sales_a.name.encode() in page.content and company.sales_b.name.encode() not in page.content
    last_day = (timezone.localdate() + timedelta(days=7)).isoformat()
    response = browser.post("/handover/cases/new/", {"employee": company.sales_a.pk, "last_day": last_day, "reason": "回老家"})
    case = DepartureCase.objects.get(employee=company.sales_a)
    assert response.status_code == 302 and response["Location"] == f"/handover/cases/{case.pk}/"
    page = browser.get(f"/handover/cases/{case.pk}/").content.decode()
    assert all(c.name in page for c in customers) and 'data-kind="customer"' in page
    assert company.sales_a_peer.name in page  # offered as a receiver
    response = browser.post(
        f"/handover/cases/{case.pk}/plan/",
        {"strategy": "round_robin", "receivers": [company.sales_a_peer.pk, company.service_a.pk]},
    )
    plan = Plan.objects.get(case=case)
    assert response["Location"] == f"/handover/plans/{plan.pk}/"
    page = browser.get(f"/handover/plans/{plan.pk}/").content.decode()
    assert 'id="commit"' in page and page.count("data-customer=") == 4
    assert Customer.objects.filter(owner=company.sales_a).count() == 4
    browser.post(f"/handover/plans/{plan.pk}/commit/")
    assert Customer.objects.filter(owner=company.sales_a).count() == 0
    browser.post(f"/handover/cases/{case.pk}/freeze/", {"reason": "提前离岗"})
    case.refresh_from_db()
    assert case.status == "frozen"
    for item in case.items.filter(done_at__isnull=True):
        browser.post(f"/handover/cases/{case.pk}/waive/", {"item": item.pk, "reason": "店长确认"})
    response = browser.post(f"/handover/cases/{case.pk}/close/")
    assert response["Location"] == f"/handover/cases/{case.pk}/report/"
    report = browser.get(response["Location"]).content.decode()
    assert 'id="handed-over">4<' in report and company.sales_a_peer.name in report


def test_errors_are_shown_not_raised(company, make_customer, console):
    make_customer(company.sales_a)
    browser = console(company.manager_a)
    response = browser.post("/handover/cases/new/", {"employee": company.sales_a.pk, "last_day": "not-a-date"}, HTTP_REFERER="/handover/")
    assert response.status_code == 302 and not DepartureCase.objects.exists()
    assert browser.post("/handover/cases/new/", {"employee": company.sales_b.pk, "last_day": "2099-01-01"}).status_code == 404


def test_scope_other_stores_cases_are_404(company, make_customer, console):
    from custos.handover import services

    make_customer(company.sales_b)
    case = services.open_case(actor=company.manager_b, employee=company.sales_b, last_day=timezone.localdate() + timedelta(days=3))
    browser = console(company.manager_a)
    assert browser.get(f"/handover/cases/{case.pk}/").status_code == 404
    assert browser.get(f"/handover/cases/{case.pk}/report/").status_code == 404
    assert str(case.employee.name) not in browser.get("/handover/").content.decode()
    # the leaver sees their own case (what to fill in), but cannot act on it
    leaver = console(company.sales_b)
    assert leaver.get(f"/handover/cases/{case.pk}/").status_code == 200
    assert 'id="freeze"' not in leaver.get(f"/handover/cases/{case.pk}/").content.decode()


def test_transfer_rotation_and_tasks_pages(company, make_customer, console):
    make_customer(company.sales_a, name="转移客户")
    browser = console(company.region_manager)
    page = browser.get(f"/handover/transfer/?from={company.sales_a.pk}").content.decode()
    assert "转移客户" in page
    browser.post("/handover/transfer/", {"from": company.sales_a.pk, "strategy": "least_loaded", "receivers": [company.sales_a_peer.pk]})
    plan = Plan.objects.get(kind="transfer")
    browser.post(f"/handover/plans/{plan.pk}/commit/")
    assert Customer.objects.get(name="转移客户").owner == company.sales_a_peer
    heir = console(company.sales_a_peer)
    tasks = heir.get("/handover/tasks/").content.decode()
    task = ContactTask.objects.get()
    assert f'data-task="{task.pk}"' in tasks and "转移客户" in tasks
    heir.post(f"/handover/tasks/{task.pk}/done/")
    task.refresh_from_db()
    assert task.status == "done"
    assert heir.get("/handover/").status_code == 302  # a salesperson lands on their tasks

    response = browser.post("/handover/rotations/", {"name": "华南轮岗", "units": [company.store_a.pk, company.store_a2.pk], "months": 6, "strategy": "round_robin"})
    rotation = Rotation.objects.get()
    assert response["Location"] == f"/handover/rotations/{rotation.pk}/"
    assert "华南轮岗" in browser.get("/handover/rotations/").content.decode()
    response = browser.post(f"/handover/rotations/{rotation.pk}/")
    plan = Plan.objects.get(kind="rotation")
    assert response["Location"] == f"/handover/plans/{plan.pk}/"
    assert 'id="staff-moves"' in browser.get(response["Location"]).content.decode()
    browser.post(f"/handover/plans/{plan.pk}/commit/")
    assert 'id="quality"' in browser.get(f"/handover/rotations/{rotation.pk}/").content.decode()


def test_marking_resigning_on_the_staff_page_shows_a_case_at_once(company, make_customer, console):
    make_customer(company.sales_a)
    browser = console(company.manager_a)
    last_day = (timezone.localdate() + timedelta(days=10)).isoformat()
    browser.post(f"/staff/{company.sales_a.pk}/status/", {"status": "resigning", "last_day": last_day})
    page = browser.get("/handover/").content.decode()
    case = DepartureCase.objects.get(employee=company.sales_a)
    assert f'data-case="{case.pk}"' in page and case.last_day.isoformat() == last_day
