"""The customers API, end to end with personal tokens, on both databases."""

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from custos.customers.models import Customer
from custos.ledger.models import Entry

PERSON = {
    "name": "陈静",
    "grade": "B",
    "source": "进店",
    "tags": ["新客"],
    "profile": {"birthday": "1992-07-19", "preferences": {"sizes": "S", "styles": ["法式"]}},
    "contacts": [
        {"kind": "phone", "value": "139 1234 5678", "label": "本人"},
        {"kind": "wechat", "value": "chenjing92"},
    ],
}


@pytest.fixture
def created(company, api):
    response = api(company.sales_a).post("customers", PERSON)
    assert response.status_code == 201, response.content
    return response.json()


def test_create_answers_the_file_with_masked_contacts(company, api, created):
    assert created["owner_id"] == company.sales_a.pk and created["unit_name"] == "天河店"
    assert created["phone"] == "139****5678" and created["tags"] == ["新客"]
    assert {c["kind"]: c["masked"] for c in created["contacts"]} == {
        "phone": "139****5678",
        "wechat": "ch******92",
    }
    assert "13912345678" not in json.dumps(created) and "chenjing92" not in json.dumps(created)
    assert Entry.objects.get(kind="customer.created").source == "api"


def test_a_duplicate_phone_is_a_409_naming_the_unit(company, api, created):
    response = api(company.sales_b).post(
        "customers", {"name": "别人", "contacts": [{"kind": "phone", "value": "+8613912345678"}]}
    )
    assert response.status_code == 409
    body = response.json()
    assert (
        body["error"] == "duplicate_contact" and "天河店" in body["message"] and "陈静" not in body["message"]
    )


def test_an_invalid_phone_is_a_400_saying_so(company, api):
    response = api(company.sales_a).post(
        "customers", {"name": "x", "contacts": [{"kind": "phone", "value": "12345"}]}
    )
    assert response.status_code == 400 and "12345" in response.json()["message"]
    assert not Customer.objects.exists()


def test_list_filters(company, api, created, make_customer):
    from custos.customers import activity, services

    other = make_customer(company.sales_a, name="吴磊", grade="A", kind="company")
    activity.add_follow_up(
        actor=company.sales_a,
        customer=other,
        kind="visit",
        content="拜访",
        occurred_at=timezone.now() - timedelta(days=40),
    )
    services.update_customer(actor=company.sales_a, customer=other, next_follow_up_on=timezone.localdate())
    client = api(company.sales_a)

    def names(**params):
        response = client.get("customers", **params)
        assert response.status_code == 200, response.content
        return sorted(c["name"] for c in response.json()["items"])

    assert names() == ["吴磊", "陈静"]
    assert names(grade="A") == ["吴磊"]
    assert names(tag="新客") == ["陈静"]
    assert names(kind="company") == ["吴磊"]
    assert names(q="陈") == ["陈静"]
    assert names(phone="139-1234-5678") == ["陈静"]
    assert names(phone="13900000000") == []
    assert names(follow_up_due=True) == ["吴磊"]
    assert names(follow_up_due=False) == ["陈静"]
    assert names(contacted_before=(timezone.now() - timedelta(days=30)).isoformat()) == ["吴磊"]
    assert names(contacted_after=(timezone.now() - timedelta(days=30)).isoformat()) == []
    assert names(owner_id=company.sales_a.pk) == ["吴磊", "陈静"]
    assert names(unit_id=company.store_a.pk) == ["吴磊", "陈静"]
    assert client.get("customers", unit_id=company.store_b.pk).status_code == 404
    assert client.get("customers", phone="not a phone").status_code == 400
    services.archive(actor=company.manager_a, customer=other, reason="测试")
    assert names() == ["陈静"]
    assert names(status="archived") == ["吴磊"]


def test_scope_of_the_list(company, api, created, make_customer):
    make_customer(company.sales_b, name="上海客户")
    make_customer(company.sales_a2, name="佛山客户")

    def names(who):
        return sorted(c["name"] for c in api(who).get("customers").json()["items"])

    assert names(company.sales_a) == ["陈静"]
    assert names(company.sales_a_peer) == []
    assert names(company.manager_a) == ["陈静"]
    assert names(company.region_manager) == ["佛山客户", "陈静"]
    assert names(company.manager_b) == ["上海客户"]
    assert names(company.auditor) == names(company.executive) == ["上海客户", "佛山客户", "陈静"]


def test_patch_profile(company, api, created):
    client = api(company.sales_a)
    response = client.patch(
        f"customers/{created['id']}",
        {
            "grade": "A",
            "profile": {"family": {"children": [{"name": "小宝", "school": "华阳小学"}]}},
            "next_follow_up_on": "2030-01-01",
        },
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["grade"] == "A" and body["profile"]["family"]["children"][0]["school"] == "华阳小学"
    assert body["profile"]["birthday"] == "1992-07-19" and body["next_follow_up_on"] == "2030-01-01"
    response = client.patch(f"customers/{created['id']}", {"next_follow_up_on": None})
    assert response.json()["next_follow_up_on"] is None and response.json()["grade"] == "A"
    bad = client.patch(f"customers/{created['id']}", {"profile": {"notes": "电话13812345678"}})
    assert bad.status_code == 400


def test_contacts_add_list_remove(company, api, created):
    client = api(company.sales_a)
    cid = created["id"]
    added = client.post(f"customers/{cid}/contacts", {"kind": "address", "value": "广州市天河区天河路385号"})
    assert added.status_code == 201 and added.json()["masked"] == "广州市天河区****"
    assert len(client.get(f"customers/{cid}/contacts").json()) == 3
    removed = client.delete(f"customers/{cid}/contacts/{added.json()['id']}?reason=搬家")
    assert removed.status_code == 200
    assert len(client.get(f"customers/{cid}/contacts").json()) == 2


def test_reveal(company, api, created):
    cid, contact = created["id"], created["contacts"][0]["id"]
    url = f"customers/{cid}/contacts/{contact}/reveal"
    assert api(company.sales_a).post(url, {"reason": ""}).status_code == 422
    response = api(company.manager_a).post(url, {"reason": "客户投诉回电"})
    assert response.status_code == 200 and response.json()["value"] in ("+8613912345678", "chenjing92")
    assert api(company.auditor).post(url, {"reason": "审计"}).status_code == 403
    assert api(company.service_a).post(url, {"reason": "x"}).status_code == 404
    assert Entry.objects.filter(kind="access.revealed").count() == 1


def test_reveal_limit_over_the_api(company, api, make_customer, settings):
    settings.CUSTOS_REVEAL_LIMIT_PER_HOUR = 2
    client = api(company.sales_a)
    urls = []
    for _ in range(3):
        c = make_customer(company.sales_a)
        urls.append(f"customers/{c.pk}/contacts/{c.contacts.get().pk}/reveal")
    assert [client.post(u, {"reason": "回访"}).status_code for u in urls] == [200, 200, 403]
    assert client.post(urls[2], {"reason": "回访"}).json()["error"] == "reveal_limit"
    assert Entry.objects.filter(kind="risk.bulk_reveal", actor_id=company.sales_a.pk).count() == 1


def test_owner_changes_over_the_api(company, api, created):
    cid = created["id"]
    sales = api(company.sales_a)
    response = sales.post(
        f"customers/{cid}/owner", {"change": "transfer", "owner_id": company.sales_a_peer.pk}
    )
    assert response.status_code == 404  # a salesperson does not even see their peer
    response = api(company.manager_a).post(
        f"customers/{cid}/owner",
        {"change": "transfer", "owner_id": company.sales_a_peer.pk, "reason": "调岗"},
    )
    assert response.status_code == 200 and response.json()["owner_id"] == company.sales_a_peer.pk
    assert sales.get(f"customers/{cid}").status_code == 404
    peer = api(company.sales_a_peer)
    assert peer.post(f"customers/{cid}/owner", {"change": "recycle"}).json()["status"] == "in_pool"
    assert [c["id"] for c in sales.get("customers/pool").json()["items"]] == [cid]
    assert api(company.sales_b).get("customers/pool").json()["count"] == 0
    assert api(company.sales_b).post(f"customers/{cid}/owner", {"change": "claim"}).status_code == 404
    claimed = sales.post(f"customers/{cid}/owner", {"change": "claim"})
    assert claimed.status_code == 200 and claimed.json()["owner_id"] == company.sales_a.pk
    changes = [
        json.loads(e.payload)["change"]
        for e in Entry.objects.filter(kind="customer.owner_changed").order_by("seq")
    ]
    assert changes == ["transfer", "recycle", "claim"]


def test_archive_restore_and_merge(company, api, created, make_customer):
    cid = created["id"]
    manager = api(company.manager_a)
    assert api(company.sales_a).post(f"customers/{cid}/archive", {"reason": "x"}).status_code == 403
    assert manager.post(f"customers/{cid}/archive", {"reason": "客户要求"}).json()["status"] == "archived"
    assert manager.post(f"customers/{cid}/archive", {"reason": "again"}).status_code == 409
    assert manager.post(f"customers/{cid}/restore", {}).json()["status"] == "active"
    duplicate = make_customer(company.sales_a, name="陈静（重复）")
    response = manager.post(f"customers/{cid}/merge", {"duplicate_id": duplicate.pk, "reason": "同一客户"})
    assert response.status_code == 200 and len(response.json()["contacts"]) == 3
    assert Customer.objects.get(pk=duplicate.pk).merged_into_id == cid


def test_follow_ups_purchases_feedback_and_timeline(company, api, created):
    cid = created["id"]
    client = api(company.sales_a)
    response = client.post(
        f"customers/{cid}/follow-ups",
        {
            "kind": "wechat",
            "content": "发了新品图",
            "outcome": "有兴趣",
            "next_follow_up_on": str(timezone.localdate() + timedelta(days=3)),
        },
    )
    assert response.status_code == 201 and response.json()["author_name"] == company.sales_a.name
    assert client.post(f"customers/{cid}/follow-ups", {"kind": "fax", "content": "x"}).status_code == 422
    assert (
        client.post(f"customers/{cid}/purchases", {"product": "连衣裙", "amount": "459.00"}).status_code
        == 201
    )
    assert client.post(f"customers/{cid}/purchases", {"product": "x", "amount": "-1"}).status_code == 422
    assert client.post(f"customers/{cid}/feedback", {"rating": 4, "complaint": "尺码偏小"}).status_code == 201
    assert client.post(f"customers/{cid}/feedback", {"rating": 9}).status_code == 422
    assert client.get(f"customers/{cid}/follow-ups").json()["count"] == 1
    assert client.get(f"customers/{cid}/purchases").json()["items"][0]["amount"] in ("459.00", 459.0, "459")
    assert client.get(f"customers/{cid}/feedback").json()["items"][0]["rating"] == 4
    detail = client.get(f"customers/{cid}").json()
    assert detail["last_contact_at"] is not None and detail["next_follow_up_on"] == str(
        timezone.localdate() + timedelta(days=3)
    )
    items = client.get(f"customers/{cid}/timeline").json()
    # Newest first; a purchase has a day, not a time, so it sorts at the start of today.
    assert [i["type"] for i in items] == ["feedback", "follow_up", "event", "purchase"]
    assert items[2]["kind"] == "customer.created" and items[3]["data"]["amount"] == "459.00"
    assert client.get(f"customers/{cid}/timeline", limit=1).json()[0]["type"] == "feedback"


def test_completeness_per_owner(company, api, created):
    rows = api(company.manager_a).get("customers/completeness").json()
    assert rows == [
        {
            "owner_id": company.sales_a.pk,
            "owner_name": company.sales_a.name,
            "unit_name": "天河店",
            "customers": 1,
            "average": created["completeness"],
        }
    ]
    assert api(company.manager_b).get("customers/completeness").json() == []


@pytest.mark.parametrize("bad", ["0", "-1", "99999999999999999999999", "abc"])
def test_bad_ids_are_422_or_404_never_500(company, api, bad):
    response = api(company.admin).get(f"customers/{bad}")
    assert response.status_code in (404, 422), response.content
    assert response.json()["error"] in ("invalid", "not_found")


def test_nul_characters_and_impossible_dates_are_422(company, api, created):
    client = api(company.admin)
    assert client.get("customers", q="a\x00b").status_code == 422
    assert client.post("customers", {"name": "a\x00b"}).status_code == 422
    assert client.get("customers", contacted_before="0001-01-01T00:00:00+14:00").status_code == 422


ROW_FIELDS = (
    "id", "kind", "name", "grade", "status", "source", "owner_id", "owner_name", "unit_id", "unit_name",
    "tags", "phone", "completeness", "last_contact_at", "next_follow_up_on", "created_at", "updated_at",
)  # fmt: skip


def test_a_list_row_says_what_the_customer_page_says(company, api, created):
    # The list is built from plain rows (selectors.page_rows), the page from the object: a customer
    # with several phones, one of them removed, several tags, and one in the pool with no owner.
    client = api(company.manager_a)
    cid = created["id"]
    first_phone = next(c for c in created["contacts"] if c["kind"] == "phone")
    assert client.post(f"customers/{cid}/contacts", {"kind": "phone", "value": "13800001111"}).status_code == 201
    assert client.delete(f"customers/{cid}/contacts/{first_phone['id']}?reason=空号").status_code == 200
    assert client.post(f"customers/{cid}/contacts", {"kind": "phone", "value": "13800002222"}).status_code == 201
    assert client.patch(f"customers/{cid}", {"tags": ["团购", "VIP", "新客"]}).status_code == 200
    pooled = client.post("customers", {"name": "林海", "owner_id": company.sales_a.pk}).json()
    response = client.post(f"customers/{pooled['id']}/owner", {"change": "recycle", "reason": "久未跟进"})
    assert response.status_code == 200, response.content

    rows = {row["id"]: row for row in client.get("customers", status="active").json()["items"]}
    rows |= {row["id"]: row for row in client.get("customers/pool").json()["items"]}
    assert set(rows) == {cid, pooled["id"]}
    for customer_id, row in rows.items():
        detail = client.get(f"customers/{customer_id}").json()
        assert row == {field: detail[field] for field in ROW_FIELDS}
    assert rows[cid]["phone"] == "138****1111" and rows[cid]["tags"] == ["VIP", "团购", "新客"]
    assert rows[pooled["id"]]["owner_id"] is None and rows[pooled["id"]]["owner_name"] is None
