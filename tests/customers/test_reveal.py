"""Seeing a contact in clear: role, scope, reason, ledger entry, and the hourly cap."""

import json

import pytest

from custos.core.errors import Forbidden, InvalidInput, NotFound
from custos.customers.reveal import reveal_contact
from custos.ledger.models import Entry


@pytest.fixture
def contact(company, make_customer):
    return make_customer(company.sales_a, phone="13912345678").contacts.get()


def test_the_owner_and_managers_in_scope_see_it_with_a_reason(company, contact):
    for who in (company.sales_a, company.manager_a, company.region_manager, company.executive, company.admin):
        assert reveal_contact(viewer=who, contact=contact, reason="回访核对号码") == "+8613912345678"
    entries = Entry.objects.filter(kind="access.revealed").order_by("seq")
    assert entries.count() == 5
    payload = json.loads(entries[0].payload)
    assert payload == {
        "contact": contact.pk,
        "kind": "phone",
        "masked": "139****5678",
        "reason": "回访核对号码",
    }
    assert entries[0].customer_id == contact.customer_id and entries[0].actor_id == company.sales_a.pk
    assert "13912345678" not in entries[0].payload


@pytest.mark.parametrize("who", ["auditor", "service_a"])
def test_others_are_refused(company, contact, who):
    viewer = getattr(company, who)
    with pytest.raises((Forbidden, NotFound)):
        reveal_contact(viewer=viewer, contact=contact, reason="看看")
    assert not Entry.objects.filter(kind="access.revealed").exists()


def test_another_stores_manager_does_not_find_it(company, contact):
    with pytest.raises(NotFound):
        reveal_contact(viewer=company.manager_b, contact=contact, reason="核对")
    with pytest.raises(NotFound):
        reveal_contact(viewer=company.sales_a_peer, contact=contact, reason="核对")


def test_a_reason_is_required(company, contact):
    with pytest.raises(InvalidInput):
        reveal_contact(viewer=company.manager_a, contact=contact, reason="   ")
    assert not Entry.objects.filter(kind="access.revealed").exists()


def test_past_the_hourly_cap_reveals_are_refused_and_a_risk_entry_is_written(
    company, make_customer, settings
):
    settings.CUSTOS_REVEAL_LIMIT_PER_HOUR = 3
    contacts = [make_customer(company.sales_a).contacts.get() for _ in range(5)]
    for c in contacts[:3]:
        reveal_contact(viewer=company.sales_a, contact=c, reason="打电话")
    with pytest.raises(Forbidden) as exc:
        reveal_contact(viewer=company.sales_a, contact=contacts[3], reason="打电话")
    assert exc.value.code == "reveal_limit"
    with pytest.raises(Forbidden):
        reveal_contact(viewer=company.sales_a, contact=contacts[4], reason="打电话")
    risk = Entry.objects.filter(kind="risk.bulk_reveal")
    assert risk.count() == 1  # one signal per person per hour, not one per attempt
    assert json.loads(risk.get().payload)["count"] == 3 and risk.get().actor_id == company.sales_a.pk
    assert Entry.objects.filter(kind="access.revealed").count() == 3
    # The cap is per person: the manager still may.
    assert reveal_contact(viewer=company.manager_a, contact=contacts[4], reason="核对")


def test_the_default_cap_is_twenty(company, make_customer, settings):
    del settings.CUSTOS_REVEAL_LIMIT_PER_HOUR
    from custos.customers.reveal import limit_per_hour

    assert limit_per_hour() == 20
