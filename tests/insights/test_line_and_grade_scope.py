"""Insights for a viewer limited to product lines or grades (issue 20 item 5): the per-unit and
per-person totals count only the customers within the limits. The stored roll-up cannot be
narrowed, so those figures are worked out live (selectors._live_figures); without limits the live
figures must equal the stored ones, which checks the live sums against the roll-up itself."""

from collections import defaultdict
from datetime import timedelta

import pytest
from django.utils import timezone

from custos.access.scope import scope_of
from custos.archive.models import Conversation
from custos.customers.models import Customer, Purchase
from custos.insights import rollup, scoring, selectors
from custos.insights.models import CustomerScore, Figure
from custos.ledger.services import append_batch
from custos.org import product_lines
from custos.org.models import Employee

from .conftest import message

pytestmark = pytest.mark.django_db


def _stored(scope, metrics, day):
    out = defaultdict(float)
    for f in selectors.figures(scope, metrics, day):
        out[(f.metric, f.unit_id, f.employee_id)] += f.value
    return {k: v for k, v in out.items() if v or k[0] == "completeness"}


def _live(scope, metrics, day):
    return {
        (r["metric"], r["unit_id"], r["employee_id"]): r["value"]
        for r in selectors._live_figures(scope, metrics, day)
    }


@pytest.mark.parametrize("who", ["executive", "region_manager", "manager_a", "sales_a"])
def test_without_limits_the_live_figures_are_the_stored_ones(shop, who):
    built = rollup.build()
    scope = scope_of(getattr(shop, who))
    assert not scope.limited
    # Not "unanswered": the live count is of the owner's own unanswered customers (from the scores).
    same = sorted(selectors.CUSTOMER_METRICS - {"unanswered"})
    live, stored = _live(scope, same, built.day), _stored(scope, same, built.day)
    assert stored and live == stored


def test_a_limited_managers_totals_count_only_their_customers(shop, api):
    built = rollup.build()
    product_lines.set_limits(actor=shop.admin, employee=shop.manager_a, lines=[], grades=["A"])
    manager = Employee.objects.get(pk=shop.manager_a.pk)
    today = timezone.localdate()
    customers, revenue, at_risk = defaultdict(int), defaultdict(int), defaultdict(int)
    for c in Customer.objects.filter(status="active", owner__unit=shop.sales_a.unit, grade="A"):
        customers[c.owner_id] += 1
        for p in Purchase.objects.filter(customer=c, purchased_on__gte=today - timedelta(days=89)):
            revenue[c.owner_id] += int(p.amount * 100)
    for s in CustomerScore.objects.filter(day=built.day, score__gte=scoring.AT_RISK):
        if Customer.objects.get(pk=s.customer_id).grade == "A" and s.unit_id == shop.sales_a.unit_id:
            at_risk[s.owner_id] += 1
    units = selectors.concentration(manager, built.day)
    people = {p["employee_id"]: p for u in units for p in u["people"]}
    assert {e: p["customers"] for e, p in people.items() if p["customers"]} == dict(customers)
    assert {e: round(p["revenue"] * 100) for e, p in people.items() if p["revenue"]} == {
        e: v for e, v in revenue.items() if v
    }
    assert {e: p["at_risk"] for e, p in people.items() if p["at_risk"]} == {
        e: v for e, v in at_risk.items() if v
    }
    assert sum(u["customers"] for u in units) == sum(customers.values())
    # The stored figures count every grade: the unlimited store manager's total is larger.
    everyone = Figure.objects.filter(day=built.day, metric="customers", unit_id=shop.sales_a.unit_id)
    assert sum(f.value for f in everyone) > sum(customers.values())
    staff = {r["employee_id"]: r for r in selectors.staff_activity(manager, built.day)}
    assert {e: r["customers"] for e, r in staff.items() if r["customers"]} == dict(customers)
    team = api(manager).get(f"insights/units/{shop.sales_a.unit_id}/concentration").json()
    assert sum(u["customers"] for u in team["units"]) == sum(customers.values())


def _per_person(rows, key):
    return {r["employee_id"]: r[key] for r in rows if r[key]}


def _expected(shop, day, grades):
    """Conversations of the last 30 days by store A's staff, and scores waiting for an answer, per
    person, over the customers of `grades`, counted from the tables one by one."""
    allowed = set(Customer.objects.filter(grade__in=grades).values_list("pk", flat=True))
    now = timezone.now()
    talks, waiting = defaultdict(int), defaultdict(int)
    for c in Conversation.objects.filter(
        last_at__gte=now - timedelta(days=30), employee__unit=shop.sales_a.unit
    ):
        if c.customer_id in allowed:
            talks[c.employee_id] += 1
    for s in CustomerScore.objects.filter(day=day, customer_id__in=allowed, unit_id=shop.sales_a.unit_id):
        if any(r["code"] == "unanswered" for r in s.reasons):
            waiting[s.owner_id] += 1
    return dict(talks), dict(waiting)


@pytest.mark.parametrize("grades", [["A", "B"], ["C"]])
def test_a_limited_managers_conversations_and_unanswered_count_only_their_customers(shop, grades):
    built = rollup.build()
    product_lines.set_limits(actor=shop.admin, employee=shop.manager_a, lines=[], grades=grades)
    talks, waiting = _expected(shop, built.day, grades)
    everyone_talks, _ = _expected(shop, built.day, ["A", "B", "C", "D"])
    # The fixture's customer waiting two days is of grade B; the service desk writes to A and C.
    assert bool(waiting) == ("B" in grades) and talks.get(shop.service_a.pk)
    assert sum(talks.values()) < sum(everyone_talks.values())
    page = selectors.team(Employee.objects.get(pk=shop.manager_a.pk))
    assert _per_person([p for u in page["units"] for p in u["people"]], "conversations") == talks
    assert _per_person(page["staff"], "unanswered") == waiting


def test_a_dashboard_reads_the_live_figures_once_and_afresh_next_time(shop):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    rollup.build()
    product_lines.set_limits(actor=shop.admin, employee=shop.manager_a, lines=[], grades=["A"])
    manager = Employee.objects.get(pk=shop.manager_a.pk)
    with CaptureQueriesContext(connection) as q:
        before = selectors.team(manager)
    # Concentration and staff activity both need them; the page works them out once.
    counted = [
        x["sql"]
        for x in q.captured_queries
        if "COUNT(" in x["sql"] and '"customers_customer"."owner_id"' in x["sql"]
    ]
    assert len(counted) == 1, counted
    customer = next(c for c in shop.customers if c.owner_id == shop.sales_a.pk and c.grade == "A")
    append_batch(
        [
            message(
                shop.sales_a_peer, customer, timezone.now() - timedelta(hours=1), sent=True, text="新到的大衣"
            )
        ]
    )
    after = selectors.team(manager)  # the same loaded employee: nothing kept from the last page

    def talks(page):
        return {p["employee_id"]: p["conversations"] for u in page["units"] for p in u["people"]}

    assert talks(after)[shop.sales_a_peer.pk] == talks(before)[shop.sales_a_peer.pk] + 1
