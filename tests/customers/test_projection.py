"""Follow-ups, purchases and feedback rebuilt from the ledger alone."""

from datetime import timedelta

from django.utils import timezone

from custos.customers import activity, services
from custos.customers.models import Feedback, FollowUp, Purchase
from custos.ledger import projections


def rows():
    return (
        sorted(
            FollowUp.objects.values_list(
                "pk",
                "customer_id",
                "author_id",
                "kind",
                "content",
                "outcome",
                "occurred_at",
                "next_follow_up_on",
            )
        ),
        sorted(
            Purchase.objects.values_list(
                "pk", "customer_id", "product", "amount", "purchased_on", "note", "recorded_by_id"
            )
        ),
        sorted(Feedback.objects.values_list("pk", "customer_id", "rating", "complaint", "recorded_by_id")),
    )


def test_the_activity_tables_are_rebuilt_from_the_ledger(company, make_customer):
    a = make_customer(company.sales_a, name="甲")
    b = make_customer(company.sales_a, name="甲（重复）")
    activity.add_follow_up(
        actor=company.sales_a,
        customer=a,
        kind="visit",
        content="到店",
        outcome="买了",
        occurred_at=timezone.now() - timedelta(days=2),
        next_follow_up_on=timezone.localdate() + timedelta(days=3),
    )
    activity.add_follow_up(actor=company.sales_a, customer=b, kind="call", content="电话")
    activity.add_purchase(actor=company.sales_a, customer=b, product="大衣", amount="1999.00", note="会员价")
    activity.add_feedback(actor=company.manager_a, customer=b, rating=2, complaint="起球")
    services.merge(actor=company.manager_a, survivor=a, duplicate=b, reason="同一人")
    before = rows()
    assert {r[1] for r in before[0]} == {a.pk}  # the merge moved b's follow-up to a

    FollowUp.objects.all().delete()
    Purchase.objects.all().delete()
    Feedback.objects.all().delete()
    assert projections.rebuild("customers.activity") == 6  # with the two merge entries
    assert rows() == before

    # New rows still get fresh ids after rows came back with their old ones.
    follow_up = activity.add_follow_up(actor=company.sales_a, customer=a, kind="note", content="重建之后")
    assert follow_up.pk > max(r[0] for r in before[0])


def test_appending_does_not_duplicate_rows(company, make_customer):
    customer = make_customer(company.sales_a)
    activity.add_follow_up(actor=company.sales_a, customer=customer, kind="call", content="一次")
    assert FollowUp.objects.count() == 1
