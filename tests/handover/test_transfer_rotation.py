"""In-service transfer (在职继承) with its move limit, and rotation (轮岗) with its report."""

from datetime import timedelta

import pytest
from django.utils import timezone

from custos.core.errors import Conflict, InvalidInput
from custos.customers import services as customer_services
from custos.customers.models import Customer
from custos.handover import reports, services
from custos.handover.models import Plan, Rotation
from custos.ledger.models import Entry
from custos.org import services as org_services
from custos.org.models import Employee, Role
from tests.conftest import hire

pytestmark = pytest.mark.django_db


def test_transfer_between_active_staff_with_preview(company, make_customer):
    a, b, c = (make_customer(company.sales_a, name=n) for n in ("甲", "乙", "丙"))
    plan = services.preview(
        actor=company.manager_a, kind="transfer", from_employee=company.sales_a, customer_ids=[a.pk, b.pk],
        strategy="manual", manual={str(a.pk): company.sales_a_peer.pk, str(b.pk): company.service_a.pk},
        receiver_ids=[company.sales_a_peer.pk, company.service_a.pk],
    )  # fmt: skip
    assert dict(plan.moves.values_list("customer_id", "to_employee_id")) == {a.pk: company.sales_a_peer.pk, b.pk: company.service_a.pk}
    services.commit(actor=company.manager_a, plan=plan)
    assert Customer.objects.get(pk=a.pk).owner == company.sales_a_peer
    assert Customer.objects.get(pk=c.pk).owner == company.sales_a
    assert {e.payload.count('"change":"transfer"') for e in Entry.objects.filter(kind="customer.owner_changed")} == {1}


def test_transfer_refuses_leavers_as_source(company, make_customer):
    make_customer(company.sales_a)
    org_services.set_status(actor=company.manager_a, employee=company.sales_a, status="resigning", last_day=timezone.localdate() + timedelta(days=9))
    with pytest.raises(InvalidInput):
        services.preview(actor=company.manager_a, kind="transfer", from_employee=company.sales_a, strategy="round_robin", receiver_ids=[company.sales_a_peer.pk])


def test_a_customer_moves_at_most_twice_in_90_days(company, make_customer):
    customer = make_customer(company.sales_a, name="常被转的客户")
    peer, service = company.sales_a_peer, company.service_a
    for giver, taker in ((company.sales_a, peer), (peer, service)):
        plan = services.preview(actor=company.manager_a, kind="transfer", from_employee=giver, strategy="round_robin", receiver_ids=[taker.pk])
        services.commit(actor=company.manager_a, plan=plan)
    third = services.preview(actor=company.manager_a, kind="transfer", from_employee=service, strategy="round_robin", receiver_ids=[company.sales_a.pk])
    [move] = third.moves.all()
    assert move.to_employee_id is None and move.skipped_reason == services.MOVED_TOO_OFTEN
    with pytest.raises(InvalidInput):
        services.commit(actor=company.manager_a, plan=third)  # nobody receives anything
    assert Customer.objects.get(pk=customer.pk).owner == service


def test_the_limit_is_checked_again_at_commit(company, make_customer, settings):
    customer = make_customer(company.sales_a)
    plan = services.preview(actor=company.manager_a, kind="transfer", from_employee=company.sales_a, strategy="round_robin", receiver_ids=[company.sales_a_peer.pk])
    settings.CUSTOS_HANDOVER_MOVE_LIMIT = (1, 90)
    customer_services.change_owner(actor=company.manager_a, customer=customer, kind="transfer", to=company.service_a)
    customer_services.change_owner(actor=company.manager_a, customer=customer, kind="transfer", to=company.sales_a)
    with pytest.raises(Conflict) as err:
        services.commit(actor=company.manager_a, plan=plan)
    assert err.value.code == "move_limit"


def test_daily_cap_counts_what_was_received_today(company, make_customer, settings):
    settings.CUSTOS_HANDOVER_DAILY_CAP = 2
    for n in range(3):
        make_customer(company.sales_a, name=f"客户{n}")
    plan = services.preview(actor=company.manager_a, kind="transfer", from_employee=company.sales_a, strategy="round_robin", receiver_ids=[company.sales_a_peer.pk])
    assert plan.moves.filter(to_employee__isnull=False).count() == 2
    services.commit(actor=company.manager_a, plan=plan)
    make_customer(company.service_a, name="另一位")
    nxt = services.preview(actor=company.manager_a, kind="transfer", from_employee=company.service_a, strategy="round_robin", receiver_ids=[company.sales_a_peer.pk])
    assert [m.skipped_reason for m in nxt.moves.all()] == ["over_cap"]


def test_by_rule_gives_grade_a_to_senior_staff(company, make_customer):
    senior = hire(company.store_a, Role.SALES, "veteran")
    Employee.objects.filter(pk=senior.pk).update(hired_on=timezone.localdate() - timedelta(days=1500))
    a = make_customer(company.sales_a, name="大客户", grade="A")
    c = make_customer(company.sales_a, name="普通客户", grade="C")
    plan = services.preview(
        actor=company.manager_a, kind="transfer", from_employee=company.sales_a, strategy="by_rule",
        receiver_ids=[company.sales_a_peer.pk, senior.pk],
    )  # fmt: skip
    moves = dict(plan.moves.values_list("customer_id", "to_employee_id"))
    assert moves[a.pk] == senior.pk
    assert moves[c.pk] == company.sales_a_peer.pk  # the senior now carries more: least loaded wins


def test_rotation_moves_staff_and_hands_their_customers_to_the_arrivals(company, make_customer):
    a_cust = [make_customer(company.sales_a, name=f"天河{n}") for n in range(3)]
    a2_cust = [make_customer(company.sales_a2, name=f"祖庙{n}") for n in range(2)]
    customer_services.update_customer(actor=company.sales_a, customer=a_cust[0], next_follow_up_on=timezone.localdate() - timedelta(days=3))
    rotation = services.create_rotation(actor=company.region_manager, name="华南轮岗", unit_ids=[company.store_a.pk, company.store_a2.pk])
    assert rotation.months == 6 and rotation.unit_id == company.south.pk
    plan = services.preview_rotation(actor=company.region_manager, rotation=rotation)
    moved_staff = {m["employee"]: m["to_unit"] for m in plan.staff_moves}
    assert moved_staff[company.sales_a.pk] == company.store_a2.pk and moved_staff[company.sales_a2.pk] == company.store_a.pk
    services.commit(actor=company.region_manager, plan=plan)
    company.sales_a.refresh_from_db()
    assert company.sales_a.unit == company.store_a2
    # customers stay in their store; the staff who arrived there own them now
    for c in a_cust:
        c.refresh_from_db()
        assert c.unit == company.store_a and c.owner in (company.sales_a2, company.sales_a_peer)
    for c in a2_cust:
        c.refresh_from_db()
        assert c.unit == company.store_a2 and c.owner in (company.sales_a, company.sales_a_peer)
    assert sum('"change":"rotation"' in e.payload for e in Entry.objects.filter(kind="customer.owner_changed")) == 5
    rotation.refresh_from_db()
    assert rotation.last_rotated_on == timezone.localdate()
    assert services.next_rotation_on(rotation).month != timezone.localdate().month
    report = reports.rotation(company.region_manager, rotation.pk)
    [r] = report["rounds"]
    assert r["customers"] == 5 and r["staff_moved"] >= 2
    assert r["up_to_date_at_move"] == 80  # one of five follow-ups was overdue when handed over


def test_rotation_units_must_be_in_scope(company):
    with pytest.raises(Exception) as err:
        services.create_rotation(actor=company.manager_a, name="越权", unit_ids=[company.store_a.pk, company.store_b.pk])
    assert err.value.__class__.__name__ == "NotFound"
    assert Plan.objects.count() == 0


def test_a_due_rotation_is_proposed_by_the_periodic_round(company, make_customer):
    make_customer(company.sales_a)
    make_customer(company.sales_a2)
    rotation = services.create_rotation(actor=company.region_manager, name="华南轮岗", unit_ids=[company.store_a.pk, company.store_a2.pk], months=6)
    assert services.propose_due_rotations() == []  # never rotated: started by hand
    Rotation.objects.filter(pk=rotation.pk).update(last_rotated_on=timezone.localdate() - timedelta(days=200))
    [plan] = services.propose_due_rotations()
    assert plan.kind == "rotation" and plan.status == "draft" and plan.created_by == company.region_manager
    assert services.propose_due_rotations() == []  # one waiting proposal is enough
