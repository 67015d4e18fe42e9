"""Scope by product line and grade in the handover (issue 20 item 5): the departure checklist, its
counts, the plans and the report show a limited manager only the customers within their limits.

sales_a leaves with a 童装 customer (grade A) and a 女装 one (grade B). The store manager is
limited to 童装; the region's manager has no limit and sees both.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from custos.handover import selectors
from custos.org import product_lines
from custos.org.models import Employee, ProductLine

pytestmark = pytest.mark.django_db

OUT = "女装的客户"


@pytest.fixture
def leaving(company, make_customer):
    kids = ProductLine.objects.create(name="童装", code="kids")
    women = ProductLine.objects.create(name="女装", code="women")
    kid = make_customer(company.sales_a, name="童装的客户", grade="A")
    kid.product_lines.add(kids)
    woman = make_customer(company.sales_a, name=OUT, grade="B")
    woman.product_lines.add(women)
    product_lines.set_limits(actor=company.admin, employee=company.manager_a, lines=["kids"], grades=[])
    company.manager_a = Employee.objects.get(pk=company.manager_a.pk)
    last_day = (timezone.localdate() + timedelta(days=5)).isoformat()
    case = company.api(company.region_manager).post(
        "handover/cases", {"employee_id": company.sales_a.pk, "last_day": last_day}
    )
    assert case.status_code == 201, case.content
    return case.json()["id"], kid, woman


@pytest.fixture(autouse=True)
def _api(company, api):
    company.api = api


def test_the_checklist_and_its_counts_are_the_limited_managers(company, leaving):
    case_id, kid, woman = leaving
    limited = company.api(company.manager_a).get(f"handover/cases/{case_id}").json()
    assert OUT not in str(limited)
    assert {i["customer_id"] for i in limited["items"] if i["kind"] == "customer"} == {kid.pk}
    assert limited["summary"]["by_kind"]["customer"] == {"total": 1, "open": 1}
    full = company.api(company.region_manager).get(f"handover/cases/{case_id}").json()
    assert full["summary"]["by_kind"]["customer"] == {"total": 2, "open": 2}
    row = selectors.list_cases(company.manager_a).get(pk=case_id)
    assert row.customers_left == 1 and row.open_items == limited["summary"]["open"]
    assert selectors.list_cases(company.region_manager).get(pk=case_id).customers_left == 2


def test_a_limited_manager_plans_and_reads_only_their_customers(company, leaving):
    case_id, kid, woman = leaving
    receivers = [company.sales_a_peer.pk]
    mine = company.api(company.manager_a).post(
        "handover/plans", {"kind": "handover", "case_id": case_id, "strategy": "round_robin", "receiver_ids": receivers}
    )
    assert mine.status_code == 201, mine.content
    assert [m["customer_id"] for m in mine.json()["moves"]] == [kid.pk]
    company.api(company.manager_a).post(f"handover/plans/{mine.json()['id']}/discard")
    plan = company.api(company.region_manager).post(
        "handover/plans", {"kind": "handover", "case_id": case_id, "strategy": "round_robin", "receiver_ids": receivers}
    ).json()
    assert len(plan["moves"]) == 2
    seen = company.api(company.manager_a).get(f"handover/plans/{plan['id']}").json()
    assert [m["customer_id"] for m in seen["moves"]] == [kid.pk]
    assert company.api(company.region_manager).post(f"handover/plans/{plan['id']}/commit").status_code == 200
    report = company.api(company.manager_a).get(f"handover/cases/{case_id}/report")
    assert report.status_code == 200 and OUT not in report.content.decode()
    assert report.json()["handed_over"] == 1
    assert company.api(company.region_manager).get(f"handover/cases/{case_id}/report").json()["handed_over"] == 2


def test_the_console_pages_show_no_customer_outside_the_limits(company, leaving, console):
    case_id, _kid, _woman = leaving
    plan = company.api(company.region_manager).post(
        "handover/plans",
        {"kind": "handover", "case_id": case_id, "strategy": "round_robin", "receiver_ids": [company.sales_a_peer.pk]},
    ).json()
    client = console(company.manager_a)
    for url in (
        f"/handover/cases/{case_id}/",
        f"/handover/plans/{plan['id']}/",
        f"/handover/transfer/?from={company.sales_a.pk}",
    ):
        page = client.get(url)
        assert page.status_code == 200, url
        assert OUT not in page.content.decode(), url
        assert "童装的客户" in page.content.decode(), url
    index = client.get("/handover/").content.decode()
    assert 'class="customers-left">1<' in index
    company.api(company.region_manager).post(f"handover/plans/{plan['id']}/commit")
    page = client.get(f"/handover/cases/{case_id}/report/").content.decode()
    assert OUT not in page and "童装的客户" in page


def test_the_wecom_transfers_of_a_case_are_the_limited_managers(company, leaving, console):
    """The WeCom transfers of the case (its panel on the case page, and the API) follow the limits."""
    from custos.wecom import selectors as wecom_selectors
    from custos.wecom.models import Transfer

    case_id, kid, woman = leaving
    for c in (kid, woman):
        Transfer.objects.create(
            plan_id=0, case_id=case_id, kind=Transfer.Kind.RESIGNED, customer_id=c.pk, external_userid=f"wm{c.pk}",
            handover_userid="sales_a", takeover_userid="peer",
        )  # fmt: skip
    mine = wecom_selectors.transfers_of_case(company.manager_a, case_id)
    assert [t.customer_id for t in mine] == [kid.pk]
    assert wecom_selectors.transfers_of_case(company.region_manager, case_id).count() == 2
    page = console(company.manager_a).get(f"/handover/cases/{case_id}/").content.decode()
    assert OUT not in page
    assert OUT in console(company.region_manager).get(f"/handover/cases/{case_id}/").content.decode()
