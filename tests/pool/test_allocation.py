"""Allocation out of the pool: the handover's strategies plus shifts, leave, caps, quotas, seed."""

from datetime import datetime, time, timedelta

import pytest
from django.utils import timezone

from custos.core.errors import Conflict, Forbidden, InvalidInput
from custos.customers.models import Customer
from custos.ledger.models import Entry
from custos.ledger.services import Event, append_batch
from custos.org.models import Role
from custos.pool import services
from custos.pool.models import Allocation, PoolMove

from ..conftest import hire
from .conftest import body


@pytest.fixture
def pool(company, make_customer):
    p = services.create_pool(actor=company.manager_a, unit=company.store_a)
    for i in range(20):
        c = make_customer(company.service_a, name=f"线索{i}", grade="A" if i < 4 else "C")
        services.put_back(actor=company.manager_a, customer=c, reason="公海")
    services.set_member(actor=company.manager_a, pool=p, employee=company.sales_a, weight=3)
    services.set_member(actor=company.manager_a, pool=p, employee=company.sales_a_peer, weight=1)
    return p


def _at(weekday: int, hour: int) -> datetime:
    """A moment in the coming week on that weekday (0 Monday) and hour, local time."""
    today = timezone.localdate()
    day = today + timedelta(days=(weekday - today.weekday()) % 7)
    return timezone.make_aware(datetime.combine(day, time(hour, 0)))


def test_preview_then_commit_round_robin(company, pool):
    a = services.preview(actor=company.manager_a, pool=pool, strategy="round_robin", count=6)
    assert a.status == Allocation.Status.DRAFT
    per = {}
    for to in a.assigned.values():
        per[to] = per.get(to, 0) + 1
    assert per == {company.sales_a.pk: 3, company.sales_a_peer.pk: 3}
    assert Customer.objects.filter(status="in_pool").count() == 20  # a preview moves nothing
    services.commit(actor=company.manager_a, allocation=a)
    owners = dict(Customer.objects.filter(pk__in=[int(k) for k in a.assigned]).values_list("pk", "owner_id"))
    assert owners == {int(k): v for k, v in a.assigned.items()}
    assert PoolMove.objects.filter(kind="assigned").count() == 6
    entry = Entry.objects.get(kind="pool.allocation_committed")
    assert body(entry)["assigned"] == 6 and body(entry)["strategy"] == "round_robin"
    moved = [
        body(e) for e in Entry.objects.filter(kind="customer.owner_changed", actor_id=company.manager_a.pk)
    ]
    assert sum(1 for m in moved if m["change"] == "assign" and m.get("allocation") == a.pk) == 6
    with pytest.raises(Conflict):
        services.commit(actor=company.manager_a, allocation=a)


def test_weighted_draw_replays_from_its_seed(company, pool):
    a = services.preview(actor=company.manager_a, pool=pool, strategy="weighted", count=20)
    assert a.seed is not None
    again = services.replay(a)
    assert {str(k): v for k, v in again.assigned.items()} == a.assigned
    same_seed = services.preview(
        actor=company.manager_a, pool=pool, strategy="weighted", count=20, seed=a.seed
    )
    assert same_seed.assigned == a.assigned
    # weight 3 against 1, over every seed from 1 to 20 (one random seed alone could be unlucky)
    heavy = 0
    for seed in range(1, 21):
        draw = services.preview(actor=company.manager_a, pool=pool, strategy="weighted", count=20, seed=seed)
        heavy += sum(1 for v in draw.assigned.values() if v == company.sales_a.pk)
    assert 0.65 < heavy / 400 < 0.85


def test_only_staff_on_shift_and_not_on_leave_receive(company, pool):
    services.add_shift(actor=company.manager_a, unit=company.store_a, weekday=0, starts="09:00", ends="18:00")
    monday_morning, monday_night = _at(0, 10), _at(0, 20)
    a = services.preview(
        actor=company.manager_a, pool=pool, strategy="round_robin", count=4, now=monday_night
    )
    assert a.assigned == {} and set(a.unassigned.values()) == {"no_receiver"}
    off = {r["id"]: r["why_not"] for r in a.params["receivers"]}
    assert off[company.sales_a.pk] == ["off_shift"]
    services.add_leave(
        actor=company.manager_a,
        employee=company.sales_a,
        starts=monday_morning.date(),
        ends=monday_morning.date(),
        reason="年假",
    )
    b = services.preview(
        actor=company.manager_a, pool=pool, strategy="round_robin", count=4, now=monday_morning
    )
    assert set(b.assigned.values()) == {company.sales_a_peer.pk}
    with pytest.raises(InvalidInput):
        services.add_shift(
            actor=company.manager_a, unit=company.store_a, weekday=7, starts="09:00", ends="18:00"
        )
    with pytest.raises(InvalidInput):
        services.add_shift(
            actor=company.manager_a, unit=company.store_a, weekday=1, starts="18:00", ends="09:00"
        )


def test_daily_cap_friends_cap_and_monthly_quota(company, pool):
    services.set_member(actor=company.manager_a, pool=pool, employee=company.sales_a, daily_cap=2)
    # sales_a_peer added 4 friends today of a cap of 5: room for one more
    services.set_member(actor=company.manager_a, pool=pool, employee=company.sales_a_peer, friends_cap=5)
    append_batch(
        [
            Event(
                kind="contact.added",
                payload={"contact": f"wx{i}", "name": "x"},
                actor_id=company.sales_a_peer.pk,
                source="test",
                source_id=f"fr{i}",
            )
            for i in range(4)
        ]
    )
    a = services.preview(actor=company.manager_a, pool=pool, strategy="least_loaded", count=10)
    per = {}
    for to in a.assigned.values():
        per[to] = per.get(to, 0) + 1
    assert per == {company.sales_a.pk: 2, company.sales_a_peer.pk: 1}
    assert set(a.unassigned.values()) == {"over_cap"}
    services.commit(actor=company.manager_a, allocation=a)
    # today's two count against the daily cap of the next draw
    b = services.preview(
        actor=company.manager_a,
        pool=pool,
        strategy="least_loaded",
        count=3,
        receiver_ids=[company.sales_a.pk],
    )
    assert b.assigned == {}
    # a monthly quota is spread over the days left in the month
    newcomer = hire(company.store_a, Role.SALES)
    services.set_member(actor=company.manager_a, pool=pool, employee=newcomer, monthly_quota=300)
    c = services.preview(
        actor=company.manager_a, pool=pool, strategy="round_robin", count=17, receiver_ids=[newcomer.pk]
    )
    today = timezone.localdate()
    import calendar

    left = calendar.monthrange(today.year, today.month)[1] - today.day + 1
    assert len(c.assigned) == min(17, -(-300 // left))


def test_quota_and_by_rule(company, pool):
    q = services.preview(actor=company.manager_a, pool=pool, strategy="quota", count=20, quota=3)
    assert len(q.assigned) == 6 and set(q.unassigned.values()) == {"quota_full"}
    services.set_member(actor=company.manager_a, pool=pool, employee=company.manager_a)
    r = services.preview(
        actor=company.manager_a, pool=pool, strategy="by_rule", count=20, rule={"A": "senior"}
    )
    grades = dict(Customer.objects.filter(pk__in=[int(k) for k in r.assigned]).values_list("pk", "grade"))
    assert {v for k, v in r.assigned.items() if grades[int(k)] == "A"} == {company.manager_a.pk}


def test_stale_preview_moves_nothing(company, pool):
    a = services.preview(actor=company.manager_a, pool=pool, strategy="round_robin", count=5)
    taken = int(next(iter(a.assigned)))
    services.claim(actor=company.sales_a, customer_id=taken, reason="先到先得")
    with pytest.raises(Conflict) as exc:
        services.commit(actor=company.manager_a, allocation=a)
    assert exc.value.code == "stale_allocation"
    assert PoolMove.objects.filter(kind="assigned").count() == 0


def test_who_may_allocate_and_bad_input(company, pool):
    with pytest.raises(Forbidden):
        services.preview(actor=company.sales_a, pool=pool, strategy="round_robin", count=2)
    with pytest.raises(InvalidInput):
        services.preview(actor=company.manager_a, pool=pool, strategy="nonsense", count=2)
    with pytest.raises(InvalidInput):
        services.preview(actor=company.manager_a, pool=pool, strategy="quota", count=2)
    with pytest.raises(InvalidInput):
        services.preview(actor=company.manager_a, pool=pool, strategy="round_robin", count=0)


def test_allocation_over_the_api(company, pool, api):
    manager = api(company.manager_a)
    r = manager.post("pool/allocations", {"pool_id": pool.pk, "strategy": "weighted", "count": 5, "seed": 42})
    assert r.status_code == 201, r.content
    data = r.json()
    assert data["seed"] == 42 and len(data["assigned"]) == 5
    assert api(company.sales_a).post(f"pool/allocations/{data['id']}/commit").status_code in (403, 404)
    done = manager.post(f"pool/allocations/{data['id']}/commit")
    assert done.status_code == 200 and done.json()["status"] == "committed"
    assert manager.post("pool/allocations", {"pool_id": pool.pk, "strategy": "bogus"}).status_code == 400
    assert (
        api(company.manager_b)
        .post("pool/allocations", {"pool_id": pool.pk, "strategy": "round_robin"})
        .status_code
        == 404
    )
