from datetime import date

import pytest

from custos.core.errors import Conflict, Forbidden, InvalidInput
from custos.ledger.models import Entry
from custos.org import selectors, services
from custos.org.models import Employee, Unit, UnitMove


def test_units_form_a_tree_of_any_depth(company):
    team = services.create_unit(actor=company.manager_a, name="天河店一组", kind=Unit.Kind.TEAM, parent=company.store_a)
    sub = services.create_unit(actor=company.manager_a, name="一组夜班", kind=Unit.Kind.TEAM, parent=team)
    assert sub.path == f"{company.hq.path}{company.south.pk}/{company.store_a.pk}/{team.pk}/{sub.pk}/"
    assert sub.is_within(company.south) and not sub.is_within(company.east)
    assert {u.name for u in selectors.units_visible(company.region_manager)} >= {"天河店一组", "一组夜班", "华南区"}


def test_duplicate_unit_name_under_one_parent_is_a_conflict(company):
    with pytest.raises(Conflict):
        services.create_unit(actor=company.admin, name="天河店", kind=Unit.Kind.STORE, parent=company.south)


def test_only_admins_create_top_level_units(company):
    with pytest.raises(Forbidden):
        services.create_unit(actor=company.executive, name="第二总部", kind=Unit.Kind.HQ, parent=None)


def test_hiring_records_the_first_move_and_a_ledger_entry(company):
    employee = services.create_employee(
        actor=company.manager_a, name="李小红", username="lixh", password="a-long-password", unit=company.store_a
    )
    assert employee.role == "sales" and employee.status == "active"
    move = UnitMove.objects.get(employee=employee)
    assert (move.from_unit, move.to_unit, move.moved_by) == (None, company.store_a, company.manager_a)
    entry = Entry.objects.filter(kind="org.employee_created").latest("seq")
    assert entry.actor_id == company.manager_a.pk and entry.unit_id == company.store_a.pk
    assert "a-long-password" not in entry.payload


def test_weak_passwords_and_taken_names_are_refused(company):
    with pytest.raises(InvalidInput):
        services.create_employee(actor=company.admin, name="x", username="weak", password="12345678", unit=company.hq)
    with pytest.raises(Conflict):
        services.create_employee(actor=company.admin, name="x", username="SALES_A", password="a-long-password", unit=company.hq)


def test_moving_keeps_a_history(company):
    services.move_employee(actor=company.region_manager, employee=company.sales_a, unit=company.store_a2, reason="轮岗")
    history = list(selectors.unit_history(company.region_manager, company.sales_a.pk))
    assert [(m.from_unit, m.to_unit, m.reason) for m in history] == [
        (company.store_a, company.store_a2, "轮岗"),
        (None, company.store_a, "hired"),
    ]
    assert Entry.objects.filter(kind="org.employee_moved", actor_id=company.region_manager.pk).count() == 1


def test_status_goes_active_resigning_departed(company):
    with pytest.raises(InvalidInput):
        services.set_status(actor=company.manager_a, employee=company.sales_a, status="resigning")
    services.set_status(actor=company.manager_a, employee=company.sales_a, status="resigning", last_day=date(2026, 12, 31))
    assert Employee.objects.get(pk=company.sales_a.pk).may_sign_in
    services.set_status(actor=company.manager_a, employee=company.sales_a, status="departed")
    departed = Employee.objects.get(pk=company.sales_a.pk)
    assert departed.frozen_at is not None and not departed.may_sign_in
    with pytest.raises(InvalidInput):
        services.set_status(actor=company.manager_a, employee=departed, status="active")
    with pytest.raises(InvalidInput):
        services.unfreeze(actor=company.manager_a, employee=departed)


def test_freeze_needs_a_reason_and_is_recorded(company):
    with pytest.raises(InvalidInput):
        services.freeze(actor=company.manager_a, employee=company.sales_a, reason=" ")
    services.freeze(actor=company.manager_a, employee=company.sales_a, reason="客户投诉私单")
    entry = Entry.objects.filter(kind="org.employee_frozen").latest("seq")
    assert "客户投诉私单" in entry.payload and entry.actor_id == company.manager_a.pk
    with pytest.raises(Conflict):
        services.freeze(actor=company.manager_a, employee=company.sales_a, reason="again")
    services.unfreeze(actor=company.manager_a, employee=company.sales_a)
    assert Employee.objects.get(pk=company.sales_a.pk).frozen_at is None


def test_a_frozen_manager_can_do_nothing(company):
    services.freeze(actor=company.admin, employee=company.manager_a, reason="调查")
    frozen = Employee.objects.get(pk=company.manager_a.pk)
    with pytest.raises(Forbidden):
        services.freeze(actor=frozen, employee=company.sales_a, reason="x")
    assert list(selectors.employees_visible(frozen)) == []
