"""The handover API: the same flow as the console, scoped, with clear 4xx errors."""

from datetime import timedelta

import pytest
from django.utils import timezone

from custos.customers.models import Customer

pytestmark = pytest.mark.django_db


def test_departure_through_the_api(company, make_customer, api):
    for n in range(3):
        make_customer(company.sales_a, name=f"客户{n}")
    manager = api(company.manager_a)
    last_day = (timezone.localdate() + timedelta(days=5)).isoformat()
    created = manager.post("handover/cases", {"employee_id": company.sales_a.pk, "last_day": last_day})
    assert created.status_code == 201, created.content
    case = created.json()
    assert case["status"] == "open" and case["summary"]["by_kind"]["customer"]["open"] == 3
    again = manager.post("handover/cases", {"employee_id": company.sales_a.pk, "last_day": last_day})
    assert again.status_code == 409 and again.json()["error"] == "conflict"
    plan = manager.post(
        "handover/plans",
        {"kind": "handover", "case_id": case["id"], "strategy": "weighted", "receiver_ids": [company.sales_a_peer.pk, company.service_a.pk],
         "weights": {str(company.sales_a_peer.pk): 2, str(company.service_a.pk): 1}},
    ).json()  # fmt: skip
    assert plan["status"] == "draft" and plan["seed"] is not None and len(plan["moves"]) == 3
    committed = manager.post(f"handover/plans/{plan['id']}/commit")
    assert committed.json()["status"] == "committed"
    assert manager.post(f"handover/plans/{plan['id']}/commit").status_code == 409
    assert Customer.objects.filter(owner=company.sales_a).count() == 0
    frozen = manager.post(f"handover/cases/{case['id']}/freeze", {"reason": "提前离岗"}).json()
    assert frozen["status"] == "frozen"
    for item in frozen["items"]:
        if not item["done_at"]:
            assert manager.post(f"handover/cases/{case['id']}/items/{item['id']}/waive", {"reason": "ok"}).status_code == 200
    assert manager.post(f"handover/cases/{case['id']}/close").json()["status"] == "closed"
    report = manager.get(f"handover/cases/{case['id']}/report").json()
    assert report["handed_over"] == 3 and [r["days"] for r in report["retention"]] == [30, 90]
    assert sum(r["count"] for r in report["receivers"]) == 3


def test_api_scope_and_roles(company, make_customer, api):
    make_customer(company.sales_b)
    last_day = (timezone.localdate() + timedelta(days=5)).isoformat()
    other = api(company.manager_a).post("handover/cases", {"employee_id": company.sales_b.pk, "last_day": last_day})
    assert other.status_code == 404
    case = api(company.manager_b).post("handover/cases", {"employee_id": company.sales_b.pk, "last_day": last_day}).json()
    assert api(company.manager_a).get(f"handover/cases/{case['id']}").status_code == 404
    assert api(company.auditor).post(f"handover/cases/{case['id']}/close").status_code == 403
    assert api(company.sales_b).get(f"handover/cases/{case['id']}").status_code == 200  # their own
    refused = api(company.sales_a).post("handover/plans", {"kind": "transfer", "from_employee_id": company.sales_a.pk, "strategy": "round_robin", "receiver_ids": [company.sales_a_peer.pk]})
    assert refused.status_code == 403
    bad = api(company.manager_b).post("handover/plans", {"kind": "handover", "case_id": case["id"], "strategy": "quota", "receiver_ids": [company.manager_b.pk]})
    assert bad.status_code == 400 and bad.json()["message"]


def test_rotation_through_the_api(company, make_customer, api):
    make_customer(company.sales_a)
    make_customer(company.sales_a2)
    region = api(company.region_manager)
    rotation = region.post("handover/rotations", {"name": "华南轮岗", "unit_ids": [company.store_a.pk, company.store_a2.pk]}).json()
    assert rotation["months"] == 6
    plan = region.post(f"handover/rotations/{rotation['id']}/preview", {}).json()
    assert plan["kind"] == "rotation" and plan["staff_moves"]
    region.post(f"handover/plans/{plan['id']}/commit")
    report = region.get(f"handover/rotations/{rotation['id']}/report").json()
    assert report["rounds"][0]["customers"] == 2
    tasks = api(company.sales_a2).get("handover/tasks").json()
    assert len(tasks) == 1
    assert api(company.sales_a2).post(f"handover/tasks/{tasks[0]['id']}/done").json()["status"] == "done"
