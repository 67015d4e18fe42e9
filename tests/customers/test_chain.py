"""A customer of store A walks into store B: found by full phone or member card, served with
preferences, sizes, purchases and service record; never the contact fields or chats; each
look-up recorded; the customer stays store A's."""

import json
from datetime import date

import pytest
from django.test import override_settings

from custos.customers import activity, chain
from custos.customers import services as customer_services
from custos.customers.services import NewContact
from custos.ledger.models import Entry


@pytest.fixture
def walk_in(company):
    customer = customer_services.create_customer(
        actor=company.sales_a, name="林晓雯", owner=company.sales_a, grade="A",
        contacts_in=[NewContact("phone", "13912345678"), NewContact("wechat", "lin_xw88")],
        profile={"preferences": {"sizes": "M / 鞋37码", "colors": ["米白", "藏青"], "budget": "800-1500元"}},
    )  # fmt: skip
    activity.add_purchase(actor=company.sales_a, customer=customer, product="羊绒大衣", amount="1299", purchased_on=date(2026, 11, 2))
    activity.add_follow_up(actor=company.sales_a, customer=customer, kind="call", content="她想要米白色大衣，下周再来试穿")
    chain.set_member_no(actor=company.sales_a, customer=customer, member_no="YS000888")
    return customer


def test_store_b_finds_and_serves_the_customer_without_contacts_or_chats(company, walk_in, api, console):
    b = api(company.sales_b)
    assert b.get(f"customers/{walk_in.pk}").status_code == 404  # not theirs
    assert b.get(f"chain/{walk_in.pk}").status_code == 404  # not without a look-up
    r = b.post("chain/look-up", {"phone": "139 1234 5678"})
    assert r.status_code == 200, r.content
    card = r.json()
    assert card["name"] == "林晓雯" and card["home_unit"] == "天河店" and not card["in_scope"]
    assert ["尺码", "M / 鞋37码"] in card["preferences"] or ["Sizes", "M / 鞋37码"] in card["preferences"]
    assert card["purchases"][0]["product"] == "羊绒大衣" and card["total_spent"] == "1299.00"
    assert card["service"] and all(set(s) == {"kind", "occurred_at"} for s in card["service"])
    text = json.dumps(card, ensure_ascii=False)
    assert "13912345678" not in text and "5678" not in text and "lin_xw88" not in text
    assert b.post("chain/look-up", {"member_no": "YS000888"}).json()["customer_id"] == walk_in.pk
    # the card stays open for the next hours; the customer stays store A's
    assert b.get(f"chain/{walk_in.pk}").status_code == 200
    walk_in.refresh_from_db()
    assert walk_in.owner_id == company.sales_a.pk and walk_in.unit_id == company.store_a.pk
    assert b.get(f"customers/{walk_in.pk}").status_code == 404
    # every look-up is in the ledger, the number masked, found or not
    assert b.post("chain/look-up", {"phone": "13900000000"}).status_code == 404
    rows = [json.loads(e.payload) for e in Entry.objects.filter(kind=chain.KIND, actor_id=company.sales_b.pk).order_by("seq")]
    assert [(p["by"], p["found"]) for p in rows] == [("phone", True), ("member_no", True), ("phone", False)]
    assert all("13912345678" not in json.dumps(p) for p in rows) and rows[0]["shown"].startswith("139")
    # the console: the form, the card, no chats or contacts
    page = console(company.sales_b)
    r = page.post("/customers/chain/", {"phone": "+86 139-1234-5678"})
    assert r.status_code == 302 and r["Location"] == f"/customers/chain/{walk_in.pk}/"
    html = page.get(r["Location"]).content.decode()
    assert "林晓雯" in html and "羊绒大衣" in html and "M / 鞋37码" in html
    assert "13912345678" not in html and "lin_xw88" not in html and "/conversations/c/" not in html
    assert page.get(f"/customers/chain/{walk_in.pk + 999}/").status_code == 404


def test_bad_input_roles_and_the_daily_cap(company, walk_in, api):
    b = api(company.sales_b)
    assert b.post("chain/look-up", {}).status_code == 400
    assert b.post("chain/look-up", {"phone": "139", "member_no": "YS000888"}).status_code == 400
    assert b.post("chain/look-up", {"phone": "not a number"}).status_code == 400
    assert api(company.auditor).post("chain/look-up", {"phone": "13912345678"}).status_code == 403
    with override_settings(CUSTOS_CHAIN_LOOKUPS_PER_DAY=2):
        assert b.post("chain/look-up", {"phone": "13912345678"}).status_code == 200
        assert b.post("chain/look-up", {"phone": "13900000001"}).status_code == 404
        r = b.post("chain/look-up", {"phone": "13912345678"})
        assert r.status_code == 403 and "2" in r.json()["message"]
    # member numbers: unique, set by those who may edit the customer
    other = customer_services.create_customer(actor=company.sales_a, name="另一位", owner=company.sales_a)
    a = api(company.sales_a)
    assert a.post(f"customers/{other.pk}/member-no", {"member_no": "YS000888"}).status_code == 400
    assert a.post(f"customers/{other.pk}/member-no", {"member_no": "YS 1"}).status_code == 400
    assert a.post(f"customers/{other.pk}/member-no", {"member_no": "YS000999"}).json()["member_no"] == "YS000999"
    assert b.post(f"customers/{other.pk}/member-no", {"member_no": "YS1"}).status_code == 404
