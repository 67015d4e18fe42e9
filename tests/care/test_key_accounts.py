from datetime import timedelta

from django.utils import timezone

from custos.care import key_accounts
from custos.care.models import KeyAccountPlan
from custos.ledger.models import Entry


def test_a_plan_its_visits_and_the_overdue_on_the_managers_page(company, make_customer, api):
    c = make_customer(company.sales_a, name="大客户", grade="A")
    manager = api(company.manager_a)
    made = manager.post(
        "care/plans",
        {"customer_id": c.pk, "visitor_id": company.manager_a.pk, "every_days": 30, "gifts": "中秋礼盒"},
    )
    assert made.status_code == 201, made.content
    plan_id = made.json()["id"]
    assert (
        manager.post(
            "care/plans", {"customer_id": c.pk, "visitor_id": company.sales_a.pk, "every_days": 30}
        ).status_code
        == 409
    )
    KeyAccountPlan.objects.filter(pk=plan_id).update(next_visit_on=timezone.localdate() - timedelta(days=2))
    assert [p["id"] for p in manager.get("care/plans", overdue=True).json()] == [plan_id]
    assert api(company.manager_b).get(f"care/plans/{plan_id}").status_code == 404
    visit = manager.post(f"care/plans/{plan_id}/visits", {"kind": "visit", "note": "拜访老板，谈明年计划"})
    assert visit.status_code == 201, visit.content
    assert (
        manager.get(f"care/plans/{plan_id}").json()["next_visit_on"]
        == (timezone.localdate() + timedelta(days=30)).isoformat()
    )
    assert manager.get("care/plans", overdue=True).json() == []
    assert Entry.objects.filter(kind="care.plan_visited", customer_id=c.pk).count() == 1


def test_the_visitor_is_the_owner_or_a_supervisor(company, make_customer, api):
    c = make_customer(company.sales_a)
    manager = api(company.manager_a)
    assert (
        manager.post(
            "care/plans", {"customer_id": c.pk, "visitor_id": company.sales_a_peer.pk, "every_days": 30}
        ).status_code
        == 400
    )
    assert (
        manager.post(
            "care/plans", {"customer_id": c.pk, "visitor_id": company.region_manager.pk, "every_days": 30}
        ).status_code
        == 404
    )
    assert (
        api(company.sales_a)
        .post("care/plans", {"customer_id": c.pk, "visitor_id": company.sales_a.pk, "every_days": 30})
        .status_code
        == 403
    )
    owner_plan = manager.post(
        "care/plans", {"customer_id": c.pk, "visitor_id": company.sales_a.pk, "every_days": 30}
    )
    assert owner_plan.status_code == 201
    # The owner records their own visit; a colleague may not.
    pid = owner_plan.json()["id"]
    assert api(company.sales_a).post(f"care/plans/{pid}/visits", {"kind": "gift"}).status_code == 201
    assert api(company.sales_a_peer).post(f"care/plans/{pid}/visits", {"kind": "gift"}).status_code == 404


def test_reminders_go_once_per_visit(company, make_customer):
    c = make_customer(company.sales_a)
    plan = key_accounts.create_plan(
        actor=company.manager_a,
        customer_id=c.pk,
        visitor_id=company.manager_a.pk,
        every_days=30,
        remind_days=3,
        first_visit_on=timezone.localdate() + timedelta(days=2),
    )
    assert key_accounts.send_reminders() == 1
    assert key_accounts.send_reminders() == 0
    assert Entry.objects.filter(kind="care.plan_reminded", customer_id=c.pk).count() == 1
    KeyAccountPlan.objects.filter(pk=plan.pk).update(next_visit_on=timezone.localdate() + timedelta(days=10))
    assert key_accounts.send_reminders() == 0
