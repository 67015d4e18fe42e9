"""Console pages, API and CLI of the pool; statistics."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from custos.customers import activity
from custos.customers.models import Customer
from custos.ledger.models import Entry
from custos.pool import recycle, selectors, services
from custos.pool.models import Allocation, RecycleRule, Shift


@pytest.fixture
def setup(company, make_customer):
    pool = services.create_pool(actor=company.manager_a, unit=company.store_a, name="天河公海")
    services.add_rule(actor=company.manager_a, pool=pool, kind="no_follow_up", days=30, remind_days=3)
    stale = [make_customer(company.sales_a, name=f"沉睡{i}") for i in range(3)]
    fresh = make_customer(company.sales_a, name="活跃", age=2)
    return pool, stale, fresh


def test_cli_dry_run_lists_what_would_move_and_why_then_the_run(company, setup):
    pool, stale, fresh = setup
    out = StringIO()
    call_command("pool", "recycle", "--dry-run", stdout=out)
    text = out.getvalue()
    for c in stale:
        assert c.name in text
    assert fresh.name not in text and "no follow-up for 30 days" in text and "3 customers would move" in text
    assert Customer.objects.filter(status="in_pool").count() == 0
    out = StringIO()
    call_command("pool", "recycle", "--dry-run", "--json", stdout=out)
    assert {r["customer"] for r in json.loads(out.getvalue())["would_move"]} == {c.pk for c in stale}
    out = StringIO()
    call_command("pool", "recycle", "--json", stdout=out)
    assert json.loads(out.getvalue())["moved"] == 3
    out = StringIO()
    call_command("pool", "rules", stdout=out)
    assert "天河公海" in out.getvalue() and "no follow-up for 30 days" in out.getvalue()
    with pytest.raises(CommandError):
        call_command("pool", "recycle", "--batch", "0")
    call_command(
        "pool",
        "claim",
        str(stale[0].pk),
        "--as",
        company.sales_a_peer.user.username,
        "--reason",
        "接手",
        stdout=StringIO(),
    )
    with pytest.raises(CommandError, match="[Aa]lready|领取"):
        call_command(
            "pool", "claim", str(stale[0].pk), "--as", company.service_a.user.username, "--reason", "x"
        )
    out = StringIO()
    call_command("pool", "stats", "--as", company.manager_a.user.username, "--json", stdout=out)
    data = json.loads(out.getvalue())
    assert data["size"] == 2 and data["recycled"][0]["recycled"] == 3
    assert data["claims"][0]["employee_id"] == company.sales_a_peer.pk


def test_stats_conversion_and_recycled_per_owner(company, setup):
    pool, stale, _fresh = setup
    recycle.run()
    services.claim(actor=company.sales_a_peer, customer_id=stale[0].pk, reason="试试")
    services.claim(actor=company.sales_a_peer, customer_id=stale[1].pk, reason="试试")
    c = Customer.objects.get(pk=stale[0].pk)
    activity.add_purchase(actor=company.sales_a_peer, customer=c, product="外套", amount="299")
    s = selectors.stats(company.manager_a)
    assert s.size == 1 and s.oldest is not None and sum(s.age_buckets.values()) == 1
    (row,) = s.claims
    assert row["claimed"] == 2 and row["converted"] == 1 and row["conversion"] == 0.5
    assert s.recycled == [
        {
            "employee_id": company.sales_a.pk,
            "name": company.sales_a.name,
            "recycled": 3,
            "last": s.recycled[0]["last"],
        }
    ]
    # outside the scope, nothing
    other = selectors.stats(company.manager_b)
    assert other.size == 0 and other.claims == [] and other.recycled == []


def test_console_list_claim_settings_allocate(company, setup, console):
    pool, stale, _fresh = setup
    recycle.run()
    sales = console(company.sales_a_peer)
    page = sales.get("/pool/")
    assert page.status_code == 200
    html = page.content.decode()
    assert stale[0].name in html and "30" in html and 'id="pool-list"' in html
    r = sales.post(f"/pool/claim/{stale[0].pk}/", {"reason": "我来跟进"})
    assert r.status_code == 302
    assert Customer.objects.get(pk=stale[0].pk).owner_id == company.sales_a_peer.pk
    # a second claim of the same customer: the message, not a crash
    r = console(company.service_a).post(f"/pool/claim/{stale[0].pk}/", {"reason": "x"}, follow=True)
    assert r.status_code == 200 and Customer.objects.get(pk=stale[0].pk).owner_id == company.sales_a_peer.pk
    # sales see no settings; the outside manager sees no pool customers of this store
    assert sales.get("/pool/settings/").status_code in (302, 403)
    assert stale[1].name not in console(company.manager_b).get("/pool/").content.decode()
    manager = console(company.manager_a)
    assert manager.get("/pool/settings/").status_code == 200
    manager.post(
        "/pool/settings/rule/",
        {"pool": pool.pk, "kind": "no_purchase", "days": "90", "grade": "A", "remind_days": "5"},
    )
    assert RecycleRule.objects.filter(pool=pool, kind="no_purchase", grade="A", days=90).exists()
    manager.post(
        "/pool/settings/shift/",
        {"unit": company.store_a.pk, "weekday": "2", "starts": "09:00", "ends": "21:00"},
    )
    shift = Shift.objects.get(unit=company.store_a, weekday=2)
    # a schedule makes the store off shift outside it; this test allocates at any hour, so it goes again
    manager.post("/pool/settings/unshift/", {"shift": shift.pk})
    assert not Shift.objects.exists()
    r = manager.post(
        "/pool/settings/rule/", {"pool": pool.pk, "kind": "no_follow_up", "days": "abc"}, follow=True
    )
    assert r.status_code == 200 and RecycleRule.objects.count() == 2
    # (not sales_a: they are the previous owner, in the cooldown)
    manager.post(
        "/pool/settings/member/",
        {"pool": pool.pk, "employee": company.service_a.pk, "can_receive": "on", "weight": "2"},
    )
    assert manager.get("/pool/allocate/").status_code == 200
    r = manager.post("/pool/allocate/", {"pool": pool.pk, "strategy": "round_robin", "count": "2"})
    assert r.status_code == 302
    a = Allocation.objects.get()
    detail = manager.get(f"/pool/allocations/{a.pk}/").content.decode()
    assert company.service_a.name in detail and 'id="commit"' in detail and len(a.assigned) == 2
    manager.post(f"/pool/allocations/{a.pk}/commit/")
    a.refresh_from_db()
    assert a.status == "committed"
    assert manager.get("/pool/stats/").status_code == 200
    assert Entry.objects.filter(kind="pool.allocation_committed").count() == 1


def test_notices_reach_the_owner_in_the_console_and_api(company, make_customer, console, api):
    pool = services.create_pool(actor=company.manager_a, unit=company.store_a)
    services.add_rule(actor=company.manager_a, pool=pool, kind="no_follow_up", days=30, remind_days=5)
    c = make_customer(company.sales_a, name="快回收")
    from datetime import timedelta

    from django.utils import timezone

    activity.add_follow_up(
        actor=company.sales_a,
        customer=c,
        kind="call",
        content="x",
        occurred_at=timezone.now() - timedelta(days=27),
    )
    recycle.run()
    assert "快回收" in console(company.sales_a).get("/pool/").content.decode()
    assert [n["customer"] for n in api(company.sales_a).get("pool/notices").json()] == [c.pk]
    assert api(company.sales_a_peer).get("pool/notices").json() == []


def test_api_pools_rules_members_and_recycle(company, setup, api):
    pool, stale, _fresh = setup
    manager = api(company.manager_a)
    assert [p["id"] for p in manager.get("pool/pools").json()] == [pool.pk]
    assert api(company.sales_b).get("pool/pools").json() == []
    r = manager.post(f"pool/pools/{pool.pk}/rules", {"kind": "no_reply", "days": 60, "remind_days": 7})
    assert r.status_code == 201 and r.json()["description"].startswith("no reply")
    assert manager.post(f"pool/pools/{pool.pk}/rules", {"kind": "whatever"}).status_code == 400
    assert api(company.sales_a).post(f"pool/pools/{pool.pk}/rules", {"kind": "no_reply"}).status_code == 403
    assert manager.patch(f"pool/pools/{pool.pk}", {"claims_per_day": 3}).json()["claims_per_day"] == 3
    assert (
        manager.post(
            f"pool/pools/{pool.pk}/members", {"employee_id": company.sales_a.pk, "weight": 2}
        ).status_code
        == 201
    )
    assert (
        manager.post(f"pool/pools/{pool.pk}/members", {"employee_id": company.sales_b.pk}).status_code == 404
    )
    # the job from the API: administrators and executives only
    assert manager.post("pool/recycle", {"dry_run": True}).status_code == 403
    admin = api(company.admin)
    dry = admin.post("pool/recycle", {"dry_run": True}).json()
    assert {r["customer"] for r in dry["would_move"]} == {c.pk for c in stale}
    assert admin.post("pool/recycle", {"dry_run": False}).json()["moved"] == 3
    listed = api(company.sales_a_peer).get("pool/customers").json()
    assert {r["id"] for r in listed} == {c.pk for c in stale}
    assert all(
        "30 days" in r["why"] and r["since"] and r["previous_owner"] == company.sales_a.name for r in listed
    )
    assert api(company.sales_b).get("pool/customers").json() == []
    assert manager.get("pool/stats").json()["size"] == 3


def test_removing_a_rule_and_a_member_from_the_api_and_the_console(company, setup, api, console):
    pool, stale, _fresh = setup
    manager = api(company.manager_a)
    unused = manager.post(f"pool/pools/{pool.pk}/rules", {"kind": "no_reply", "days": 60, "remind_days": 7}).json()
    used = RecycleRule.objects.get(pool=pool, kind="no_follow_up")
    assert len(recycle.run().moved) == len(stale)  # the 30-day rule has now moved customers: its history stays
    # neither a salesperson nor the manager of another store may remove it
    assert api(company.sales_a).delete(f"pool/rules/{used.pk}").status_code == 403
    assert api(company.manager_b).delete(f"pool/rules/{used.pk}").status_code == 404
    assert manager.delete(f"pool/rules/{unused['id']}").status_code == 204
    assert not RecycleRule.objects.filter(pk=unused["id"]).exists()
    assert manager.delete(f"pool/rules/{used.pk}").status_code == 204
    used.refresh_from_db()
    assert used.removed_at is not None and not used.enabled  # kept: the moves still name it
    assert manager.get(f"pool/pools/{pool.pk}/rules").json() == []
    assert manager.delete(f"pool/rules/{used.pk}").status_code == 404
    assert manager.post(f"pool/rules/{used.pk}/enabled", {"enabled": True}).status_code == 404
    removed = [json.loads(e.payload) for e in Entry.objects.filter(kind="pool.rule_removed").order_by("seq")]
    assert [(p["rule"], p["kept_for_history"]) for p in removed] == [(unused["id"], False), (used.pk, True)]
    assert all(e.actor_id == company.manager_a.pk for e in Entry.objects.filter(kind="pool.rule_removed"))
    assert recycle.dry_run().would_move == []  # a removed rule moves nobody

    # members: the API and the console page
    manager.post(f"pool/pools/{pool.pk}/members", {"employee_id": company.sales_a.pk})
    manager.post(f"pool/pools/{pool.pk}/members", {"employee_id": company.sales_a_peer.pk})
    assert api(company.manager_b).delete(f"pool/pools/{pool.pk}/members/{company.sales_a.pk}").status_code == 404
    assert manager.delete(f"pool/pools/{pool.pk}/members/{company.sales_b.pk}").status_code == 404
    assert manager.delete(f"pool/pools/{pool.pk}/members/{company.sales_a.pk}").status_code == 204
    assert manager.delete(f"pool/pools/{pool.pk}/members/{company.sales_a.pk}").status_code == 404
    assert [m["employee_id"] for m in manager.get(f"pool/pools/{pool.pk}/members").json()] == [
        company.sales_a_peer.pk
    ]
    page = console(company.manager_a)
    assert 'action="/pool/settings/unmember/"' in page.get("/pool/settings/").content.decode()
    r = page.post("/pool/settings/unmember/", {"pool": pool.pk, "employee": company.sales_a_peer.pk})
    assert r.status_code == 302
    assert manager.get(f"pool/pools/{pool.pk}/members").json() == []
    assert Entry.objects.filter(kind="pool.member_removed").count() == 2
    rule = services.add_rule(actor=company.manager_a, pool=pool, kind="no_purchase", days=90)
    assert page.post("/pool/settings/unrule/", {"rule": rule.pk}).status_code == 302
    assert not RecycleRule.objects.filter(pk=rule.pk).exists()
