"""The demo customers: realistic, valid, reproducible, and owned the way the product requires."""

from datetime import timedelta

import pytest
from django.db import transaction
from django.db.models import Count, Max
from django.utils import timezone

from custos.customers import completeness, demo, profiles
from custos.customers.models import Customer, CustomerContact, FollowUp, Purchase
from custos.ledger.models import Entry
from custos.org import demo as org_demo


def _snapshot(seed, total):
    with transaction.atomic():
        org_demo.build(seed)
        demo.build(seed, total=total)
        snapshot = sorted(
            Customer.objects.values_list("name", "grade", "kind", "status", "owner__user__username")
        )
        transaction.set_rollback(True)
    return snapshot


@pytest.mark.django_db
def test_the_demo_is_reproducible_from_its_seed():
    first = _snapshot(5, 120)
    assert first == _snapshot(5, 120)
    assert first != _snapshot(6, 120)


@pytest.mark.django_db
def test_demo_customers_are_valid_and_owned_by_sales_in_their_stores():
    org_demo.build(2026)
    counts = demo.build(2026, total=400)
    assert counts["customers"] == Customer.objects.count() == 400
    customers = list(Customer.objects.select_related("owner", "unit").prefetch_related("contacts"))
    assert {c.grade for c in customers} == {"A", "B", "C", "D"}
    assert {c.kind for c in customers} == {"person", "company"}
    assert {c.status for c in customers} == {"active", "in_pool", "archived"}
    for c in customers:
        assert profiles.clean(c.kind, c.profile) == c.profile, c.profile
        assert c.completeness == completeness.score_of(c)
        if c.owner is not None:
            assert c.owner.role == "sales" and c.owner.unit_id == c.unit_id
        else:
            assert c.status == "in_pool"
        assert any(k.kind == "phone" for k in c.contacts.all())
    assert len({c.completeness for c in customers}) > 15  # thin files and full ones
    phones = CustomerContact.objects.filter(kind="phone")
    assert phones.values("blind_index").distinct().count() == phones.count()
    assert CustomerContact.objects.filter(masked__startswith="1").exists()


@pytest.mark.django_db
def test_demo_history_covers_the_past_year_and_is_in_the_ledger():
    org_demo.build(2026)
    demo.build(2026, total=300)
    now = timezone.now()
    assert FollowUp.objects.filter(occurred_at__gt=now).count() == 0
    assert FollowUp.objects.filter(occurred_at__lt=now - timedelta(days=366)).count() == 0
    assert FollowUp.objects.filter(occurred_at__lt=now - timedelta(days=180)).exists()
    assert Purchase.objects.count() > 100
    for c in Customer.objects.filter(last_contact_at__isnull=False)[:50]:
        latest = c.follow_ups.exclude(kind="note").aggregate(m=Max("occurred_at"))["m"]
        assert latest == c.last_contact_at
    per_kind = dict(Entry.objects.filter(source="demo").values_list("kind").annotate(n=Count("seq")))
    assert per_kind["customer.created"] == 300
    assert per_kind["customer.follow_up_added"] == FollowUp.objects.count()
    assert per_kind["customer.purchase_added"] == Purchase.objects.count()
    assert per_kind["customer.owner_changed"] >= Customer.objects.filter(status="in_pool").count()
    assert not Entry.objects.filter(source="demo", customer_id__isnull=True).exists()
