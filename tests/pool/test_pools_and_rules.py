"""Pools per unit with members and visibility; recycle rules, reminders, exemptions, the job."""

from datetime import timedelta

import pytest
from django.utils import timezone

from custos.archive.models import Message
from custos.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from custos.customers import activity
from custos.customers.models import Customer
from custos.handover import services as handover_services
from custos.ledger.models import Entry
from custos.ledger.verify import verify
from custos.org import services as org_services
from custos.pool import recycle, selectors, services
from custos.pool.models import PoolMove, RecycleNotice, RecycleRun

from .conftest import body, days_ago


@pytest.fixture
def pools(company):
    store = services.create_pool(actor=company.manager_a, unit=company.store_a, name="天河店公海")
    region = services.create_pool(actor=company.region_manager, unit=company.south, name="华南区公海")
    return store, region


def test_pools_per_unit_and_who_may_see_and_claim(company, pools, make_customer):
    store, region = pools
    mapping = selectors.pools_by_unit()
    assert mapping[company.store_a.pk] == store
    # 祖庙店 has no pool of its own: the region's holds its customers; 徐汇店 has none at all.
    assert mapping[company.store_a2.pk] == region and mapping[company.store_b.pk] is None
    c = make_customer(company.sales_a2)
    services.put_back(actor=company.sales_a2, customer=c, reason="不再跟进")
    # everyone in the region may see and claim from the region's pool, nobody in the east
    assert c.pk in set(selectors.pool_customers(company.sales_a).values_list("pk", flat=True))
    assert not selectors.pool_customers(company.sales_b).filter(pk=c.pk).exists()
    with pytest.raises(NotFound):
        services.claim(actor=company.sales_b, customer_id=c.pk, reason="想跟进")
    # members only: outsiders inside the unit no longer may claim; a member may
    services.update_pool(actor=company.region_manager, pool=region, visibility="members")
    assert not selectors.pool_customers(company.sales_a).filter(pk=c.pk).exists()
    services.set_member(actor=company.region_manager, pool=region, employee=company.sales_a_peer)
    services.claim(actor=company.sales_a_peer, customer_id=c.pk, reason="老客户介绍")
    c.refresh_from_db()
    assert c.owner_id == company.sales_a_peer.pk and c.status == Customer.Status.ACTIVE
    e = Entry.objects.filter(kind="customer.owner_changed", customer_id=c.pk).order_by("-seq").first()
    assert body(e)["change"] == "claim" and body(e)["pool"] == region.pk


def test_pool_settings_are_for_managers_with_clear_errors(company, pools):
    store, _region = pools
    with pytest.raises(Forbidden):
        services.update_pool(actor=company.sales_a, pool=store, claims_per_day=99)
    with pytest.raises(NotFound):
        services.update_pool(actor=company.manager_b, pool=store, claims_per_day=99)
    with pytest.raises(Conflict):
        services.create_pool(actor=company.manager_a, unit=company.store_a)
    with pytest.raises(InvalidInput):
        services.add_rule(actor=company.manager_a, pool=store, kind="no_such", days=3)
    with pytest.raises(InvalidInput):
        services.add_rule(actor=company.manager_a, pool=store, kind="no_follow_up", days=5, remind_days=5)
    with pytest.raises(InvalidInput):
        services.add_rule(actor=company.manager_a, pool=store, kind="no_follow_up", days=5, grade="Z")
    with pytest.raises(InvalidInput):
        services.update_pool(actor=company.manager_a, pool=store, claims_per_day="many")
    assert Entry.objects.filter(kind="pool.created").count() == 2


def test_rules_move_stale_customers_with_the_rule_named(company, pools, make_customer, customer_says):
    store, _region = pools
    services.add_rule(actor=company.manager_a, pool=store, kind="no_follow_up", days=30, remind_days=5)
    services.add_rule(
        actor=company.manager_a, pool=store, kind="no_purchase", days=90, grade="A", remind_days=0
    )
    services.add_rule(actor=company.manager_a, pool=store, kind="no_reply", days=60, grade="B", remind_days=0)
    followed = make_customer(company.sales_a, name="跟进过")
    activity.add_follow_up(
        actor=company.sales_a, customer=followed, kind="call", content="回访", occurred_at=days_ago(3)
    )
    stale = make_customer(company.sales_a, name="沉睡")
    activity.add_follow_up(
        actor=company.sales_a, customer=stale, kind="call", content="回访", occurred_at=days_ago(40)
    )
    soon = make_customer(company.sales_a, name="快到期")
    activity.add_follow_up(
        actor=company.sales_a, customer=soon, kind="call", content="回访", occurred_at=days_ago(27)
    )
    young = make_customer(company.sales_a, name="新客户", age=5)
    buyer = make_customer(company.sales_a, name="A老客", grade="A")
    activity.add_follow_up(
        actor=company.sales_a, customer=buyer, kind="call", content="回访", occurred_at=days_ago(1)
    )
    activity.add_purchase(
        actor=company.sales_a,
        customer=buyer,
        product="外套",
        amount="599",
        purchased_on=timezone.localdate() - timedelta(days=100),
    )
    talker = make_customer(company.sales_a, name="B聊天", grade="B")
    activity.add_follow_up(
        actor=company.sales_a, customer=talker, kind="call", content="回访", occurred_at=days_ago(1)
    )
    silent = make_customer(company.sales_a, name="B沉默", grade="B")
    activity.add_follow_up(
        actor=company.sales_a, customer=silent, kind="call", content="回访", occurred_at=days_ago(1)
    )
    customer_says(company.sales_a, talker, days_ago(2))
    customer_says(company.sales_a, silent, days_ago(70))
    assert Message.objects.filter(customer_id=talker.pk, sender_role="customer").exists()

    dry = recycle.dry_run()
    would = {f.customer_id: f.rule.kind for f in dry.would_move}
    assert would == {stale.pk: "no_follow_up", buyer.pk: "no_purchase", silent.pk: "no_reply"}
    assert Customer.objects.filter(status="in_pool").count() == 0  # a dry run moves nothing

    report = recycle.run()
    assert {m["customer"] for m in report.moved} == set(would)
    for c in (stale, buyer, silent):
        c.refresh_from_db()
        assert c.status == Customer.Status.IN_POOL and c.owner_id is None
        e = Entry.objects.get(kind="customer.owner_changed", customer_id=c.pk)
        assert body(e)["change"] == "recycle" and body(e)["rule_kind"] == would[c.pk] and e.actor_id is None
        assert body(e)["from"] == company.sales_a.pk and body(e)["rule"]
    for c in (followed, soon, young, talker):
        c.refresh_from_db()
        assert c.owner_id == company.sales_a.pk
    # 快到期 is 3 days from its 30: the owner is reminded (5 days ahead), console and ledger
    notice = RecycleNotice.objects.get()
    assert notice.customer_id == soon.pk and notice.owner_id == company.sales_a.pk
    assert list(selectors.notices_for(company.sales_a)) == [notice]
    assert list(selectors.notices_for(company.sales_b)) == []
    reminded = Entry.objects.get(kind="pool.recycle_reminded")
    assert reminded.customer_id == soon.pk and body(reminded)["rule_kind"] == "no_follow_up"
    # the list says why and since when
    row = selectors.pool_customers(company.manager_a).get(pk=stale.pk)
    assert row.pool_rule_kind == "no_follow_up" and "30 days" in row.pool_reason and row.pool_since
    assert set(PoolMove.objects.filter(kind="recycled").values_list("employee_id", flat=True)) == {
        company.sales_a.pk
    }

    # run twice, moves once, reminds once
    again = recycle.run()
    assert again.moved == [] and again.reminded == 0
    assert (
        sum(body(e)["change"] == "recycle" for e in Entry.objects.filter(kind="customer.owner_changed")) == 3
    )
    assert RecycleNotice.objects.count() == 1
    assert verify().size == Entry.objects.count()


def test_exemptions_key_account_running_handover_open_deal(company, pools, make_customer):
    store, _region = pools
    services.add_rule(actor=company.manager_a, pool=store, kind="no_follow_up", days=30, remind_days=0)
    key = make_customer(company.sales_a, name="重点客户")
    services.protect(actor=company.manager_a, customer=key, reason="年框客户")
    deal = make_customer(company.sales_a, name="商机中")
    activity.add_follow_up(
        actor=company.sales_a, customer=deal, kind="call", content="报价", occurred_at=days_ago(45),
        next_follow_up_on=timezone.localdate() + timedelta(days=2),
    )  # fmt: skip
    leaving = make_customer(company.sales_a_peer, name="交接中")
    handover_services.open_case(
        actor=company.manager_a,
        employee=company.sales_a_peer,
        last_day=timezone.localdate() + timedelta(days=5),
    )
    plain = make_customer(company.sales_a, name="普通")
    moved = {m["customer"] for m in recycle.run().moved}
    assert moved == {plain.pk}
    assert {key.pk, deal.pk, leaving.pk}.isdisjoint(moved)
    with pytest.raises(Forbidden):
        services.protect(actor=company.sales_a, customer=deal, reason="x")


def test_owner_departed_or_frozen(company, pools, make_customer):
    store, _region = pools
    services.add_rule(actor=company.manager_a, pool=store, kind="owner_gone")
    c = make_customer(company.sales_a_peer, name="冻结员工的客户", age=1)
    mine = make_customer(company.sales_a, name="在职员工的客户", age=1)
    org_services.freeze(actor=company.manager_a, employee=company.sales_a_peer, reason="离职")
    moved = {m["customer"] for m in recycle.run().moved}
    assert moved == {c.pk}
    e = Entry.objects.get(kind="customer.owner_changed", customer_id=c.pk)
    assert body(e)["rule_kind"] == "owner_gone"
    assert mine.pk not in moved


def test_the_job_resumes_after_a_stop_and_moves_each_once(company, pools, make_customer):
    store, _region = pools
    services.add_rule(actor=company.manager_a, pool=store, kind="no_follow_up", days=30, remind_days=0)
    made = [make_customer(company.sales_a, name=f"客户{i}") for i in range(9)]
    first = recycle.run(batch=2, limit_batches=2)  # stops half way, as a killed worker would
    assert not first.finished and len(first.moved) == 4
    run = RecycleRun.objects.get()
    assert run.finished_at is None and run.cursor == made[3].pk
    second = recycle.run(batch=50)  # resumes the unfinished run, in its own batch size
    assert second.run == run.pk and second.finished and len(second.moved) == 5
    assert Customer.objects.filter(status="in_pool").count() == 9
    assert Entry.objects.filter(kind="customer.owner_changed").count() == 9
    assert Entry.objects.filter(kind="pool.recycle_finished").count() == 1
    # a fresh run finds nothing left
    assert recycle.run().moved == []


def test_a_recently_claimed_customer_is_not_judged_on_the_previous_owner(company, pools, make_customer):
    store, _region = pools
    services.add_rule(actor=company.manager_a, pool=store, kind="no_follow_up", days=30, remind_days=0)
    c = make_customer(company.sales_a)
    assert {m["customer"] for m in recycle.run().moved} == {c.pk}
    services.claim(actor=company.sales_a_peer, customer_id=c.pk, reason="我来跟")
    assert recycle.run().moved == []
    c.refresh_from_db()
    assert c.owner_id == company.sales_a_peer.pk


def test_one_reminder_per_customer_until_the_move_and_the_nightly_task(company, pools, make_customer):
    from custos.pool import tasks

    store, _region = pools
    services.add_rule(actor=company.manager_a, pool=store, kind="no_follow_up", days=30, remind_days=5)
    c = make_customer(company.sales_a)
    activity.add_follow_up(
        actor=company.sales_a, customer=c, kind="call", content="回访", occurred_at=days_ago(27)
    )
    first = tasks.nightly_recycle.call_local()
    assert first["reminded"] == 1 and first["moved"] == 0
    # the next nights: no second reminder, then the move on the day
    assert recycle.run(now=timezone.now() + timedelta(days=1)).reminded == 0
    assert RecycleNotice.objects.count() == 1
    last = recycle.run(now=timezone.now() + timedelta(days=4))
    assert [m["customer"] for m in last.moved] == [c.pk]
    assert Entry.objects.filter(kind="pool.recycle_reminded").count() == 1


def test_an_abandoned_run_is_closed_and_a_new_one_starts(company, pools, make_customer):
    store, _region = pools
    services.add_rule(actor=company.manager_a, pool=store, kind="no_follow_up", days=30, remind_days=0)
    made = [make_customer(company.sales_a, name=f"客户{i}") for i in range(4)]
    recycle.run(batch=2, limit_batches=1)
    old = RecycleRun.objects.get()
    RecycleRun.objects.filter(pk=old.pk).update(started_at=timezone.now() - timedelta(days=2))
    report = recycle.run()
    assert report.run != old.pk and len(report.moved) == 2
    old.refresh_from_db()
    assert old.finished_at is not None
    assert Customer.objects.filter(pk__in=[c.pk for c in made], status="in_pool").count() == 4
