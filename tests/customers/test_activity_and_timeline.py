"""Follow-ups, purchases and feedback, the dates they move, and the timeline that shows them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from custos.core.errors import Conflict, InvalidInput, NotFound
from custos.customers import activity, selectors, services
from custos.customers.reveal import reveal_contact
from custos.customers.timeline import timeline
from custos.ledger.models import Entry


def test_a_follow_up_moves_last_contact_and_next_follow_up(company, make_customer):
    customer = make_customer(company.sales_a)
    today = timezone.localdate()
    when = timezone.now() - timedelta(days=2)
    follow_up = activity.add_follow_up(
        actor=company.sales_a,
        customer=customer,
        kind="visit",
        content="到店试穿春装，喜欢米色风衣",
        outcome="下周带老公来",
        occurred_at=when,
        next_follow_up_on=today + timedelta(days=5),
    )
    customer.refresh_from_db()
    assert customer.last_contact_at == when and customer.next_follow_up_on == today + timedelta(days=5)
    entry = Entry.objects.get(kind="customer.follow_up_added")
    assert (
        entry.customer_id == customer.pk
        and "米色风衣" in entry.payload
        and str(follow_up.pk) in entry.payload
    )


def test_a_note_is_not_a_contact_and_a_due_follow_up_is_cleared_when_done(company, make_customer):
    customer = make_customer(company.sales_a)
    services.update_customer(actor=company.sales_a, customer=customer, next_follow_up_on=timezone.localdate())
    activity.add_follow_up(actor=company.sales_a, customer=customer, kind="note", content="客户生日在下月")
    customer.refresh_from_db()
    assert customer.last_contact_at is None and customer.next_follow_up_on == timezone.localdate()
    activity.add_follow_up(actor=company.sales_a, customer=customer, kind="call", content="电话问候")
    customer.refresh_from_db()
    assert customer.last_contact_at is not None and customer.next_follow_up_on is None


@pytest.mark.parametrize(
    "kwargs",
    [
        {"kind": "fax", "content": "x"},
        {"kind": "call", "content": "  "},
        {"kind": "call", "content": "x", "occurred_at": timezone.now() + timedelta(days=1)},
        {"kind": "call", "content": "客户新号码13912345678"},
        {"kind": "call", "content": "x", "next_follow_up_on": timezone.localdate() - timedelta(days=3)},
    ],
)
def test_bad_follow_ups_are_refused(company, make_customer, kwargs):
    customer = make_customer(company.sales_a)
    with pytest.raises(InvalidInput):
        activity.add_follow_up(actor=company.sales_a, customer=customer, **kwargs)
    assert not customer.follow_ups.exists()


def test_follow_ups_need_the_customer_in_scope_and_a_writer(company, make_customer):
    customer = make_customer(company.sales_a)
    with pytest.raises(NotFound):
        activity.add_follow_up(actor=company.sales_b, customer=customer, kind="call", content="x")
    with pytest.raises(Exception) as exc:
        activity.add_follow_up(actor=company.auditor, customer=customer, kind="call", content="x")
    assert exc.value.code == "forbidden"
    services.archive(actor=company.manager_a, customer=customer, reason="x")
    with pytest.raises(Conflict):
        activity.add_follow_up(actor=company.sales_a, customer=customer, kind="call", content="x")


def test_purchases_and_feedback(company, make_customer):
    customer = make_customer(company.sales_a)
    purchase = activity.add_purchase(
        actor=company.sales_a,
        customer=customer,
        product="羊绒大衣",
        amount="2899.5",
        purchased_on=timezone.localdate(),
    )
    assert purchase.amount == Decimal("2899.50")
    for bad in ("-1", "abc", "NaN", "1e20"):
        with pytest.raises(InvalidInput):
            activity.add_purchase(actor=company.sales_a, customer=customer, product="x", amount=bad)
    with pytest.raises(InvalidInput):
        activity.add_purchase(
            actor=company.sales_a,
            customer=customer,
            product="x",
            amount=1,
            purchased_on=timezone.localdate() + timedelta(days=9),
        )
    feedback = activity.add_feedback(actor=company.sales_a, customer=customer, rating=2, complaint="衣服起球")
    assert feedback.rating == 2
    for bad in (0, 6, "5", True):
        with pytest.raises(InvalidInput):
            activity.add_feedback(actor=company.sales_a, customer=customer, rating=bad)
    kinds = list(Entry.objects.filter(customer_id=customer.pk).values_list("kind", flat=True))
    assert kinds == ["customer.created", "customer.purchase_added", "customer.feedback_added"]


def test_the_timeline_merges_everything_newest_first(company, make_customer):
    customer = make_customer(company.sales_a)
    now = timezone.now()
    activity.add_purchase(
        actor=company.sales_a,
        customer=customer,
        product="真丝衬衫",
        amount=699,
        purchased_on=timezone.localdate(now - timedelta(days=10)),
    )
    activity.add_follow_up(
        actor=company.sales_a,
        customer=customer,
        kind="call",
        content="第一次回访",
        occurred_at=now - timedelta(days=3),
    )
    activity.add_feedback(actor=company.sales_a, customer=customer, rating=5, complaint="")
    reveal_contact(viewer=company.manager_a, contact=customer.contacts.get(), reason="核实")
    items = timeline(company.sales_a, customer.pk)
    assert [(i.type, i.kind) for i in items] == [
        ("event", "access.revealed"),
        ("feedback", "feedback"),
        ("event", "customer.created"),
        ("follow_up", "call"),
        ("purchase", "purchase"),
    ]
    revealed = items[0]
    assert revealed.actor_name == company.manager_a.name and revealed.data["payload"]["reason"] == "核实"
    older = timeline(company.sales_a, customer.pk, before=items[2].at, limit=1)
    assert [(i.type, i.summary) for i in older] == [("follow_up", "第一次回访")]


def test_the_timeline_is_scoped(company, make_customer):
    customer = make_customer(company.sales_a)
    with pytest.raises(NotFound):
        timeline(company.manager_b, customer.pk)


def test_a_survivor_shows_the_history_of_what_was_merged_into_it(company, make_customer):
    survivor = make_customer(company.sales_a, name="周杰")
    duplicate = make_customer(company.sales_a, name="周杰2")
    services.update_customer(actor=company.sales_a, customer=duplicate, grade="A")
    services.merge(actor=company.manager_a, survivor=survivor, duplicate=duplicate, reason="重复")
    kinds = [i.kind for i in timeline(company.manager_a, survivor.pk)]
    assert "customer.merged" in kinds and "customer.merged_into" in kinds and "customer.updated" in kinds


def test_completeness_per_owner_is_the_average_over_their_live_customers(company, make_customer):
    make_customer(company.sales_a, profile={"birthday": "1990-01-01"})  # phone 15 + birthday 10
    make_customer(company.sales_a)  # phone 15
    make_customer(company.sales_a2)
    rows = {r["owner_id"]: r for r in selectors.completeness_by_owner(company.manager_a)}
    assert set(rows) == {company.sales_a.pk}
    assert rows[company.sales_a.pk]["customers"] == 2 and rows[company.sales_a.pk]["average"] == 20
    everyone = selectors.completeness_by_owner(company.executive)
    assert {r["owner_id"] for r in everyone} == {company.sales_a.pk, company.sales_a2.pk}


def test_completeness_weights_come_from_settings(company, make_customer, settings):
    settings.CUSTOS_COMPLETENESS_WEIGHTS = {"person": {"contact.phone": 1, "birthday": 1}}
    assert make_customer(company.sales_a).completeness == 50
    assert make_customer(company.sales_a, profile={"birthday": "1990-01-01"}).completeness == 100
