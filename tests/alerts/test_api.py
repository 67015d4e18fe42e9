"""The alerts API: scoped lists and reads, transitions as ledger entries, lexicon per unit."""

import json

from custos.alerts.models import Alert, AllowedChannel, Hit, LexiconTerm
from custos.ledger.models import Entry

from .conftest import message_event


def _raise(company, send, employee=None, text="这单咱们私下交易吧"):
    send(message_event(employee or company.sales_a, text))
    return Alert.objects.latest("id")


def test_routed_to_managers_whose_scope_covers_the_employee(company, send, api):
    alert = _raise(company, send)
    for who in (company.manager_a, company.region_manager, company.executive, company.admin, company.auditor):
        r = api(who).get("alerts")
        assert [a["id"] for a in r.json()["items"]] == [alert.pk], who
    for who in (company.manager_b, company.sales_a, company.sales_a_peer):
        assert api(who).get("alerts").json()["items"] == []
        assert api(who).get(f"alerts/{alert.pk}").status_code == 404
    detail = api(company.manager_a).get(f"alerts/{alert.pk}").json()
    assert {r["id"] for r in detail["recipients"]} == {company.manager_a.pk, company.region_manager.pk}


def test_detail_has_the_evidence_and_the_exact_spans(company, send, api):
    text = "您好，这单咱们私下交易吧，我手机 13912345678"
    alert = _raise(company, send, text=text)
    body = api(company.manager_a).get(f"alerts/{alert.pk}").json()
    [item] = body["items"]
    assert item["kind"] == "message.sent" and item["sender_role"] == "staff"
    spans = {h["category"]: (h["start"], h["end"]) for h in item["hits"]}
    start, end = spans["private_deal"]
    assert item["text"][start:end] == text[start:end] and "私下交易" in text[start:end]
    assert "13912345678" not in json.dumps(body, ensure_ascii=False)  # a shared number stays masked


def test_filters_and_count(company, send, api):
    _raise(company, send)
    send(message_event(company.sales_a, None, msgtype="redpacket", amount=100))
    client = api(company.manager_a)
    assert client.get("alerts/count").json() == {"open": 2}
    assert [a["rule"] for a in client.get("alerts", rule="money_transfer").json()["items"]] == [
        "money_transfer"
    ]
    assert len(client.get("alerts", severity="high").json()["items"]) == 1
    assert client.get("alerts", unit_id=company.store_b.pk).status_code == 404
    assert len(client.get("alerts", unit_id=company.store_a.pk, state="open").json()["items"]) == 2
    assert client.get("alerts", state="bogus").status_code == 422


def test_lifecycle_each_change_a_ledger_entry(company, send, api):
    alert = _raise(company, send)
    client = api(company.manager_a)
    r = client.post(f"alerts/{alert.pk}/acknowledge", {"note": "在看"})
    assert r.status_code == 200 and r.json()["state"] == "acknowledged"
    assert client.post(f"alerts/{alert.pk}/acknowledge", {}).status_code == 409
    assert client.post(f"alerts/{alert.pk}/resolve", {"reason": ""}).status_code == 422
    r = client.post(f"alerts/{alert.pk}/resolve", {"reason": "已约谈，客户转回公司账户"})
    assert r.json()["state"] == "resolved" and r.json()["closed_by_id"] == company.manager_a.pk
    assert client.post(f"alerts/{alert.pk}/false-positive", {"reason": "x"}).status_code == 409
    kinds = list(
        Entry.objects.filter(kind__startswith="alert.").order_by("seq").values_list("kind", flat=True)
    )
    assert kinds == ["alert.raised", "alert.acknowledged", "alert.resolved"]
    last = json.loads(Entry.objects.filter(kind="alert.resolved").get().payload)
    assert last["reason"] == "已约谈，客户转回公司账户" and last["alert"] == alert.pk


def test_auditors_read_only_and_nobody_handles_their_own_alert(company, send, api):
    alert = _raise(company, send)
    assert api(company.auditor).post(f"alerts/{alert.pk}/acknowledge", {}).status_code == 403
    own = _raise(company, send, employee=company.manager_a)
    assert api(company.manager_a).post(f"alerts/{own.pk}/acknowledge", {}).status_code == 403
    assert api(company.region_manager).post(f"alerts/{own.pk}/acknowledge", {}).status_code == 200


def test_false_positive_offers_allow_list_candidates(company, send, api):
    text = "我们有回扣政策说明书，您看一下"
    alert = _raise(company, send, text=text)
    client = api(company.manager_a)
    body = client.get(f"alerts/{alert.pk}").json()
    assert body["allow_candidates"], body
    phrase = body["allow_candidates"][0]
    assert "回扣" in phrase
    r = client.post(f"alerts/{alert.pk}/false-positive", {"reason": "公司政策文件", "allow": [phrase]})
    assert r.status_code == 200 and r.json()["state"] == "false_positive"
    assert AllowedChannel.objects.filter(unit=company.store_a, value=phrase).exists()
    [again] = send(message_event(company.sales_a, text))
    assert not Hit.objects.filter(entry_seq=again.seq).exists()
    # Only inside that store: the other store's staff still raise it.
    [other] = send(message_event(company.sales_b, text))
    assert Hit.objects.filter(entry_seq=other.seq).exists()


def test_terms_per_unit_apply_to_the_subtree_and_invalidate_engines(company, send, api):
    [before] = send(message_event(company.sales_a, "下次用暗号蓝莓交货"))
    assert not Hit.objects.filter(entry_seq=before.seq).exists()
    client = api(company.region_manager)
    r = client.post(
        "lexicon/terms",
        {"unit_id": company.south.pk, "text": "暗号蓝莓", "category": "private_deal", "severity": "high"},
    )
    assert r.status_code == 201, r.content
    term_id = r.json()["id"]
    [inside] = send(message_event(company.sales_a, "下次用暗号蓝莓交货"))
    [outside] = send(message_event(company.sales_b, "下次用暗号蓝莓交货"))
    assert Hit.objects.filter(entry_seq=inside.seq, category="private_deal").exists()
    assert not Hit.objects.filter(entry_seq=outside.seq).exists()
    assert client.patch(f"lexicon/terms/{term_id}", {"enabled": False}).json()["enabled"] is False
    [off] = send(message_event(company.sales_a, "下次用暗号蓝莓交货"))
    assert not Hit.objects.filter(entry_seq=off.seq).exists()
    # Scope: the other region's manager neither sees nor changes it; an auditor reads it.
    assert api(company.manager_b).patch(f"lexicon/terms/{term_id}", {"enabled": True}).status_code == 404
    assert (
        api(company.manager_b)
        .post("lexicon/terms", {"unit_id": company.south.pk, "text": "x", "category": "kickback"})
        .status_code
        == 404
    )
    assert [t["id"] for t in api(company.auditor).get("lexicon/terms").json()["items"]] == [term_id]
    assert (
        api(company.auditor)
        .post("lexicon/terms", {"unit_id": company.hq.pk, "text": "x", "category": "kickback"})
        .status_code
        == 403
    )
    assert api(company.sales_a).get("lexicon/terms").json()["items"] == []
    # The store manager sees what the region above gave its store.
    assert [
        t["id"]
        for t in api(company.manager_a).get("lexicon/terms", unit_id=company.store_a.pk).json()["items"]
    ] == [term_id]


def test_import_terms(company, api):
    client = api(company.admin)
    lines = "暗号蓝莓\tprivate_deal\thigh\n# comment\n走后门\n茶水钱\tkickback\n"
    r = client.post("lexicon/import", {"unit_id": company.hq.pk, "lines": lines})
    assert r.json() == {"created": 3, "updated": 0, "unchanged": 0}
    r = client.post("lexicon/import", {"unit_id": company.hq.pk, "lines": "茶水钱\tkickback\thigh\n走后门\n"})
    assert r.json() == {"created": 0, "updated": 1, "unchanged": 1}
    assert LexiconTerm.objects.get(text="走后门").category == "custom"
    r = client.post("lexicon/import", {"unit_id": company.hq.pk, "lines": "x\tNot A Name\n"})
    assert r.status_code == 400 and "line 1" in r.json()["message"]


def test_allowed_channels_per_unit(company, send, api):
    client = api(company.manager_a)
    [before] = send(message_event(company.sales_a, "加我微信号 tianhe_store01 咨询"))
    assert Hit.objects.filter(entry_seq=before.seq, category="contact_leak").exists()
    r = client.post(
        "lexicon/allowed", {"unit_id": company.store_a.pk, "value": "tianhe_store01", "note": "门店官方号"}
    )
    assert r.status_code == 201
    [after] = send(message_event(company.sales_a, "加我微信号 tianhe_store01 咨询"))
    assert not Hit.objects.filter(entry_seq=after.seq, category="contact_leak").exists()


def _put(client, path, body):
    return client.post(path, body)


def test_thresholds_nearest_unit_wins(company, api):
    admin, manager = api(company.admin), api(company.manager_a)
    assert (
        _put(
            admin, "alert-thresholds", {"unit_id": company.hq.pk, "key": "deletions_count", "value": 5}
        ).status_code
        == 200
    )
    r = _put(
        manager, "alert-thresholds", {"unit_id": company.store_a.pk, "key": "deletions_count", "value": 2}
    )
    values = {t["key"]: t for t in r.json()}
    assert (
        values["deletions_count"]["value"] == 2 and values["deletions_count"]["unit_id"] == company.store_a.pk
    )
    region = {
        t["key"]: t
        for t in api(company.region_manager).get("alert-thresholds", unit_id=company.store_a2.pk).json()
    }
    assert region["deletions_count"]["value"] == 5 and region["deletions_count"]["unit_id"] == company.hq.pk
    assert region["dedupe_hours"]["unit_id"] is None
    assert (
        _put(
            manager, "alert-thresholds", {"unit_id": company.store_a.pk, "key": "deletions_count", "value": 1}
        ).status_code
        == 400
    )
    assert (
        _put(
            manager, "alert-thresholds", {"unit_id": company.store_b.pk, "key": "deletions_count", "value": 3}
        ).status_code
        == 404
    )
    assert (
        _put(
            manager, "alert-thresholds", {"unit_id": company.store_a.pk, "key": "nope", "value": 3}
        ).status_code
        == 400
    )
