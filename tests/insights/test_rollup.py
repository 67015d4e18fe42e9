"""The roll-up's figures against brute force: every number recomputed in Python from the rows."""

import statistics
from collections import defaultdict
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from custos.access.scope import scope_of
from custos.alerts.models import Alert
from custos.archive import pseudonym
from custos.archive.models import ExternalContact, Message
from custos.care.selectors import people_by_customer
from custos.customers.models import Customer, Feedback, Purchase
from custos.insights import rollup, scoring, selectors
from custos.insights.models import CustomerScore, Figure
from custos.ledger.models import Entry
from custos.ledger.services import Event, append_batch
from custos.org.models import Employee, Unit

pytestmark = pytest.mark.django_db


def fig(metric, **kw):
    return {(f.unit_id, f.employee_id, f.key): f.value for f in Figure.objects.filter(metric=metric, **kw)}


def test_customers_revenue_and_conversations_per_person(shop):
    built = rollup.build()
    assert built.customers == Customer.objects.filter(status="active", owner__isnull=False).count() > 0
    now, today = timezone.now(), timezone.localdate()
    expected, revenue = defaultdict(int), defaultdict(int)
    for c in Customer.objects.filter(status="active", owner__isnull=False):
        expected[(c.unit_id, c.owner_id, "")] += 1
        for p in Purchase.objects.filter(customer=c):
            if today - timedelta(days=89) <= p.purchased_on <= today:
                revenue[(c.unit_id, c.owner_id, "")] += int(p.amount * 100)
    assert fig("customers") == expected
    assert {k: v for k, v in fig("revenue_90d").items() if v} == {k: v for k, v in revenue.items() if v}
    convs = defaultdict(int)
    from custos.archive.models import Conversation

    for conv in Conversation.objects.filter(customer_id__isnull=False):
        if conv.last_at and now - timedelta(days=30) <= conv.last_at < now:
            emp = Employee.objects.get(pk=conv.employee_id)
            convs[(emp.unit_id, emp.pk, "")] += 1
    assert fig("conversations") == convs


def test_solo_customers_are_those_nobody_else_knows(shop):
    rollup.build()
    solo = set(CustomerScore.objects.filter(solo=True).values_list("customer_id", flat=True))
    active = Customer.objects.filter(status="active", owner__isnull=False)
    held = people_by_customer(active.values_list("pk", flat=True))
    expected = set()
    for c in active:
        talkers = set(Message.objects.filter(customer_id=c.pk).values_list("employee_id", flat=True))
        if not (talkers - {c.owner_id}) and not (held[c.pk] - {c.owner_id}):
            expected.add(c.pk)
    assert solo == expected
    # The service desk wrote to three of store A's customers: they are not solo.
    assert not solo & {c.pk for c in shop.customers[:5:2]}
    assert solo


def test_staff_in_a_customers_group_chat_make_them_known_to_two(shop):
    """A colleague (by any key a source names staff with) or the company's observer account in a
    live group with the customer counts as a second person; the owner alone, a dismissed group or
    a member nobody can match does not."""
    rollup.build()
    solo = list(CustomerScore.objects.filter(solo=True).order_by("customer_id"))
    by_owner = defaultdict(list)
    for s in solo:
        by_owner[s.owner_id].append(s.customer_id)
    owner = max(by_owner, key=lambda o: len(by_owner[o]))
    c = by_owner[owner][:7]
    assert len(c) == 7
    peer = Employee.objects.exclude(pk=owner).filter(role="sales").first()
    now = timezone.now()

    def group(key, members, observed=False):
        return Event(kind="group.created", payload={"group": key, "name": key, "members": members, "has_company_observer": observed},
                     actor_id=owner, unit_id=shop.store_a.pk, source="test-insights", source_id=f"g-{key}", occurred_at=now)  # fmt: skip

    contact = [{"contact": f"twx-{cid}"} for cid in c]
    owner_key = Employee.objects.get(pk=owner).employee_no
    append_batch([
        group("with-peer-no", [contact[0], {"employee": owner_key}, {"employee": peer.employee_no}]),
        group("with-peer-id", [contact[1], {"employee": peer.pk}]),
        group("with-peer-username", [contact[2], {"employee": peer.user.username}]),
        group("observed", [contact[3], {"employee": "wecom-observer-not-linked"}], observed=True),
        group("owner-only", [contact[4], {"employee": owner_key}]),
        group("stranger", [contact[5], {"employee": "nobody-we-know"}]),
        group("dismissed", [contact[6], {"employee": peer.employee_no}]),
        Event(kind="group.dismissed", payload={"group": "dismissed"}, actor_id=owner, unit_id=shop.store_a.pk,
              source="test-insights", source_id="g-dismissed-end", occurred_at=now),
    ])  # fmt: skip
    # kept under their pseudonyms (archive.pseudonym), found by them
    keys = [pseudonym.of(x["contact"]) for x in contact]
    assert set(ExternalContact.objects.filter(external_id__in=keys).values_list("customer_id", flat=True)) == set(c)
    rollup.build()
    now_solo = set(CustomerScore.objects.filter(solo=True).values_list("customer_id", flat=True))
    assert not now_solo & set(c[:4])
    assert set(c[4:]) <= now_solo
    assert now_solo == {s.customer_id for s in solo} - set(c[:4])
    store = Employee.objects.get(pk=owner).unit_id
    assert (
        sum(f.value for f in Figure.objects.filter(metric="solo", unit_id=store, employee_id=owner))
        == len(by_owner[owner]) - 4
    )


def _brute_reasons(c, now):
    """The churn reasons of one customer from its rows, with no aggregate query."""
    start, split = now - timedelta(days=180), now - timedelta(days=30)
    today = timezone.localdate(now - timedelta(microseconds=1))
    msgs = [
        m
        for m in Message.objects.filter(customer_id=c.pk)
        if start <= m.occurred_at < now and m.kind.startswith("message.")
    ]
    mine = [m for m in msgs if m.sender_role == "customer"]
    buys = [
        p
        for p in Purchase.objects.filter(customer=c)
        if today - timedelta(days=179) <= p.purchased_on <= today
    ]
    recent = sum(m.occurred_at >= split for m in mine) + sum(
        p.purchased_on >= today - timedelta(days=29) for p in buys
    )
    before = len(mine) + len(buys) - recent
    lasts = [m.occurred_at for m in mine] + [
        timezone.make_aware(timezone.datetime.combine(p.purchased_on, timezone.datetime.min.time()))
        for p in buys
    ]
    pair = [m for m in msgs if m.employee_id == c.owner_id]
    owner = Employee.objects.get(pk=c.owner_id)
    return scoring.reasons(
        now=now, customer_messages=recent, customer_messages_before=before, last_interaction=max(lasts, default=None),
        pair_recent=sum(m.occurred_at >= split for m in pair), pair_before=sum(m.occurred_at < split for m in pair),
        owner_status=owner.status,
        deleted_staff=Entry.objects.filter(kind="contact.deleted_by_customer", customer_id=c.pk, occurred_at__gte=start).exists(),
        unanswered=_unanswered_brute(c, now),
        complaint=any(f.rating <= 2 or f.complaint for f in Feedback.objects.filter(customer=c, created_at__gte=now - timedelta(days=60))),
    )  # fmt: skip


def _unanswered_brute(c, now):
    rows = sorted(
        (
            m
            for m in Message.objects.filter(customer_id=c.pk, employee_id=c.owner_id)
            if m.occurred_at >= now - timedelta(days=30)
        ),
        key=lambda m: (m.occurred_at, m.entry_seq),
    )
    if not rows or rows[-1].sender_role != "customer":
        return False
    waiting = rows[-1]
    for m in reversed(rows):
        if m.sender_role != "customer":
            break
        waiting = m
    return waiting.occurred_at <= now - timedelta(hours=24)


def test_churn_scores_and_reasons_match_brute_force(shop):
    built = rollup.build()
    now = min(rollup.end_of(built.day), timezone.now())
    stored = {s.customer_id: s for s in CustomerScore.objects.all()}
    codes = set()
    for c in Customer.objects.filter(status="active", owner__isnull=False):
        expected = _brute_reasons(c, now)
        got = stored.get(c.pk)
        assert (got.reasons if got else []) == expected, c.name
        assert (got.score if got else 0) == scoring.total(expected)
        codes |= {r["code"] for r in expected}
    # The data holds the reasons worth testing: silence, fading, a complaint, a deletion, a wait.
    assert {"silent", "complaint", "deleted_staff", "unanswered"} <= codes
    assert Figure.objects.filter(metric="at_risk").exists() == any(
        s.score >= scoring.AT_RISK for s in stored.values()
    )


def test_owner_leaving_raises_the_score(shop):
    rollup.build()
    c = shop.customers[3]
    before = CustomerScore.objects.filter(customer_id=c.pk).values_list("score", flat=True).first() or 0
    Employee.objects.filter(pk=c.owner_id).update(status="resigning")
    rollup.build()
    after = CustomerScore.objects.get(customer_id=c.pk)
    assert after.score == min(100, before + scoring.WEIGHTS["owner_resigning"])
    assert "owner_resigning" in [r["code"] for r in after.reasons]


def test_response_times_and_unanswered_match_brute_force(shop):
    built = rollup.build()
    now = min(rollup.end_of(built.day), timezone.now())
    waits = defaultdict(list)
    unanswered = defaultdict(set)
    by_conv = defaultdict(list)
    for m in Message.objects.filter(occurred_at__gte=now - timedelta(days=30), occurred_at__lt=now):
        by_conv[m.conversation_id].append(m)
    for rows in by_conv.values():
        rows.sort(key=lambda m: (m.occurred_at, m.entry_seq))
        waiting = None
        for m in rows:
            if m.sender_role == "customer":
                waiting = waiting or m.occurred_at
            elif waiting:
                waits[m.employee_id].append((m.occurred_at - waiting).total_seconds() / 60)
                waiting = None
        if waiting and waiting <= now - timedelta(hours=24):
            unanswered[rows[-1].employee_id].add(rows[-1].customer_id)
    medians = {e: v for (_u, e, _k), v in fig("response_median_min").items()}
    p90 = {e: v for (_u, e, _k), v in fig("response_p90_min").items()}
    assert medians == {e: round(statistics.median(w), 1) for e, w in waits.items()}
    assert p90 == {e: round(sorted(w)[max(1, -(-len(w) * 9 // 10)) - 1], 1) for e, w in waits.items()}
    assert {e: v for (_u, e, _k), v in fig("unanswered").items()} == {
        e: len(s) for e, s in unanswered.items()
    }
    assert unanswered[shop.sales_a.pk]


def test_alerts_per_week_and_gained(shop):
    built = rollup.build()
    assert Alert.objects.exists()
    expected = defaultdict(int)
    for a in Alert.objects.all():
        week = rollup.monday(timezone.localtime(a.raised_at).date()).isoformat()
        expected[(a.unit_id, None, f"{week}|{a.category}")] += 1
    assert fig("alerts") == expected
    gained = defaultdict(int)
    for c in Customer.objects.all():
        gained[(c.unit_id, None, rollup.monday(timezone.localtime(c.created_at).date()).isoformat())] += 1
    assert fig("gained") == gained
    t = selectors.trends(shop.executive, built.day)
    assert sum(t["gained"]) == Customer.objects.count()
    assert t["weeks"][-1] == rollup.monday(built.day).isoformat()


@pytest.mark.parametrize("who", ["executive", "region_manager", "manager_a", "manager_b", "sales_a"])
@pytest.mark.parametrize("solo", [False, True])
def test_ranked_lists_read_by_unit_match_brute_force(shop, who, solo):
    """A region manager's lists merge the top rows of each store: the same as ranking every
    score of the subtree (by path, as the scope says) at once, for short and long lists."""
    rollup.build()
    viewer = getattr(shop, who)
    scope = scope_of(viewer)
    paths = dict(Unit.objects.values_list("pk", "path"))
    mine = [
        s for s in CustomerScore.objects.all()
        if scope.kind == "all"
        or (scope.kind == "subtree" and paths[s.unit_id].startswith(scope.unit_path))
        or (scope.kind == "own" and s.owner_id == viewer.pk)
    ]  # fmt: skip
    if solo:
        expected = sorted(
            (s for s in mine if s.solo), key=lambda s: (-s.revenue_90d, -s.score, s.customer_id)
        )
    else:
        expected = sorted(
            (s for s in mine if s.score > 0), key=lambda s: (-s.score, -s.revenue_90d, s.customer_id)
        )
    assert expected
    for limit in (1, 3, 500):
        got = [r["customer_id"] for r in selectors.risk_list(viewer, limit=limit, solo=solo)]
        assert got == [s.customer_id for s in expected[:limit]]
    if who == "region_manager":
        assert len({s.unit_id for s in expected}) == 2  # two stores merged


def test_bus_factor():
    assert selectors.bus_factor([]) == 0
    assert selectors.bus_factor([0, 0]) == 0
    assert selectors.bus_factor([60, 20, 20]) == 1
    assert selectors.bus_factor([50, 50]) == 1
    assert selectors.bus_factor([30, 30, 20, 20]) == 2
    assert selectors.bus_factor([10] * 10) == 5


def test_rebuild_replaces_the_day_and_the_command_reports(shop, capsys):
    call_command("insights", "rebuild")
    first = Figure.objects.count()
    call_command("insights", "rebuild")
    assert Figure.objects.count() == first
    out = capsys.readouterr().out
    assert "customers" in out and "figures" in out


def test_rebuild_bad_day_is_one_line(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        call_command("insights", "rebuild", "--day", "yesterday")
