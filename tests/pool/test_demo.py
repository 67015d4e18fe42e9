"""`custos demo` has pools with rules, a schedule, and customers recycled for a reason."""

import json

import pytest

from custos.customers import demo as customers_demo
from custos.handover import demo as handover_demo
from custos.ledger.models import Entry
from custos.org import demo as org_demo
from custos.org.models import Employee
from custos.pool import demo, selectors
from custos.pool.models import Pool, RecycleRule, Shift


@pytest.mark.django_db
def test_demo_pool():
    org_demo.build(2026)
    customers_demo.build(2026, total=300)
    handover_demo.build(2026)
    made = demo.build(2026)
    assert Pool.objects.count() == 3 and RecycleRule.objects.count() >= 4 and Shift.objects.count() == 7
    assert made["recycled"] > 0
    recycled = [
        json.loads(e.payload) for e in Entry.objects.filter(kind="customer.owner_changed", source="pool")
    ]
    assert recycled and all(r["change"] == "recycle" and r["rule"] and r["reason"] for r in recycled)
    store1 = Employee.objects.get(user__username="store1")
    rows = list(selectors.pool_customers(store1)[:20])
    assert rows and any(r.pool_reason for r in rows)
    assert selectors.stats(store1).recycled
