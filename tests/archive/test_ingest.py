import json
import time

import pytest

from custos.access import tokens
from custos.access.models import ApiToken
from custos.archive import signing
from custos.archive.models import Message, SeenNonce
from custos.customers import services as customer_services
from custos.customers.services import NewContact
from custos.ledger.models import Entry

URL = "/api/v1/ingest/events"


def test_batch_results_per_event_and_bad_one_does_not_sink_the_rest(company, device, ev):
    phone = device(company.sales_a)
    r = phone.send(
        ev.msg("m1", "您好，我是天河店的小王"),
        ev.msg("m2", kind="message.received", text="这件大衣还有货吗"),
        {"kind": "message.sent", "source_id": "bad1", "occurred_at": "not a date", "payload": {}},
        ev.event("nonsense.kind", "bad2"),
        ev.msg("bad3", sender_role="customer"),
        ev.msg("m3", msgtype="redpacket", text=None),
    )
    assert r.status_code == 200, r.content
    data = r.json()
    statuses = [x["status"] for x in data["results"]]
    assert statuses == ["accepted", "accepted", "rejected", "rejected", "rejected", "rejected"]
    assert "occurred_at" in data["results"][2]["reason"]
    assert "unknown kind" in data["results"][3]["reason"]
    assert "amount" in data["results"][5]["reason"]
    assert (data["accepted"], data["rejected"]) == (2, 4)
    entries = Entry.objects.filter(source=f"device:{company.sales_a.pk}")
    assert sorted(entries.values_list("source_id", flat=True)) == ["m1", "m2"]
    assert all(e.actor_id == company.sales_a.pk and e.unit_id == company.store_a.pk for e in entries)


def test_same_batch_twice_is_duplicates(company, device, ev):
    phone = device(company.sales_a)
    batch = [ev.msg(f"x{i}", f"消息{i}") for i in range(5)]
    first = phone.send(*batch).json()
    again = phone.send(*batch).json()
    assert first["accepted"] == 5 and again["duplicates"] == 5
    assert [r["seq"] for r in first["results"]] == [r["seq"] for r in again["results"]]
    assert Message.objects.count() == 5


def test_every_wecom_msgtype_and_unknown_ones_are_kept(company, device, ev):
    from custos.archive.schemas import KNOWN_MSGTYPES, MONEY_TYPES

    phone = device(company.sales_a)
    events = [
        # the customer's words on archiving from another contact: a refusal would withhold what follows
        ev.msg(f"t-{t}", None, msgtype=t, amount=888 if t in MONEY_TYPES else None,
               contact="wm_words" if t in ("agree", "disagree") else "wm_cust_1")
        for t in KNOWN_MSGTYPES
    ]  # fmt: skip
    events.append(ev.msg("t-new", None, msgtype="hologram", raw={"beam": {"x": 1}}))
    data = phone.send(*events).json()
    assert data["accepted"] == len(events), data
    entry = Entry.objects.get(source_id="t-new")
    assert json.loads(entry.payload)["raw"] == {"beam": {"x": 1}}


def test_too_large_a_batch_is_refused(company, device, ev):
    phone = device(company.sales_a)
    r = phone.send(*[ev.msg(f"b{i}") for i in range(1001)])
    assert r.status_code == 413
    assert "1000" in r.json()["message"]


def test_phone_number_never_clear_in_the_ledger(company, device, ev):
    phone = device(company.sales_a)
    data = phone.send(
        ev.event("call.logged", "c1", direction="out", number="138 1234 5678", duration_s=95, note="约到店试衣")
    ).json()
    assert data["accepted"] == 1
    entry = Entry.objects.get(source_id="c1")
    assert "12345678" not in entry.payload and "5678" in entry.payload
    payload = json.loads(entry.payload)
    assert payload["number_masked"] == "138****5678" and len(payload["number_index"]) == 64


def test_customer_matched_by_phone_and_by_wecom_id(company, device, ev):
    customer = customer_services.create_customer(
        actor=company.sales_a,
        kind="person",
        name="陈女士",
        contacts_in=[NewContact("phone", "13812345678"), NewContact("wecom", "wmCHEN01")],
    )
    phone = device(company.sales_a)
    phone.send(
        ev.event("call.logged", "c2", direction="in", number="+86 138-1234-5678", duration_s=10),
        ev.msg("w1", contact="wmchen01"),
        ev.msg("w2", contact="wm_stranger"),
    )
    assert Entry.objects.get(source_id="c2").customer_id == customer.pk
    assert Entry.objects.get(source_id="w1").customer_id == customer.pk
    assert Entry.objects.get(source_id="w2").customer_id is None


def test_integration_names_employees_of_its_unit(company, device, ev):
    connector = device(company.admin, actor=company.admin, kind=ApiToken.Kind.INTEGRATION, unit=company.south)
    a = ev.msg("i1")
    a["employee"] = company.sales_a.employee_no
    b = ev.msg("i2")
    b["employee"] = company.sales_b.employee_no  # 华东区: outside the connector's unit
    c = ev.msg("i3")
    data = connector.send(a, b, c).json()
    assert [r["status"] for r in data["results"]] == ["accepted", "rejected", "rejected"]
    assert Entry.objects.get(source_id="i1").actor_id == company.sales_a.pk


def test_signature_required_and_checked(company, device, ev, api):
    phone = device(company.sales_a)
    body = json.dumps({"events": [ev.msg("s1")]}).encode()
    # No signature at all
    r = phone.client.post(URL, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {phone.token}")
    assert r.status_code == 401 and "Sign the request" in r.json()["message"]
    # A body changed after signing
    headers = phone.headers("POST", URL, body)
    r = phone.client.post(URL, body + b" ", content_type="application/json", **headers)
    assert r.status_code == 401 and "signature" in r.json()["message"]
    # Replay of a good request
    headers = phone.headers("POST", URL, body)
    assert phone.client.post(URL, body, content_type="application/json", **headers).status_code == 200
    r = phone.client.post(URL, body, content_type="application/json", **headers)
    assert r.status_code == 401 and "nonce" in r.json()["message"]
    # Stale timestamp
    stamp = str(int(time.time()) - 301)
    nonce = "n" * 20
    sig = signing.sign(phone.secret, "POST", URL, stamp, nonce, body)
    r = phone.client.post(
        URL,
        body,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {phone.token}",
        HTTP_X_CUSTOS_TIMESTAMP=stamp,
        HTTP_X_CUSTOS_NONCE=nonce,
        HTTP_X_CUSTOS_SIGNATURE=sig,
    )
    assert r.status_code == 401 and "stale" in r.json()["message"]


def test_personal_tokens_and_sessions_are_refused(company, console, ev):
    _t, personal = tokens.issue(actor=company.sales_a, kind=ApiToken.Kind.PERSONAL, name="p")
    body = json.dumps({"events": [ev.msg("p1")]}).encode()
    headers = signing.signed_headers(personal, "whatever", "POST", URL, body)
    client = console(company.sales_a)
    r = client.post(URL, body, content_type="application/json", **{f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()})
    assert r.status_code == 401 and "personal" in r.json()["message"]
    r = client.post(URL, body, content_type="application/json")
    assert r.status_code == 401


def test_nonces_are_pruned(company, device, ev):
    from datetime import timedelta

    from django.utils import timezone

    phone = device(company.sales_a)
    phone.send(ev.msg("q1"))
    assert SeenNonce.objects.count() == 1
    assert signing.prune(timezone.now() + timedelta(minutes=11)) == 1


def test_credentials_api_and_rules(company, api):
    client = api(company.manager_a)
    r = client.post("ingest/credentials", {"name": "小王的工作手机", "employee_id": company.sales_a.pk})
    assert r.status_code == 201, r.content
    assert r.json()["secret"] and r.json()["token"].startswith("cst_")
    r = client.post("ingest/credentials", {"name": "x", "employee_id": company.sales_b.pk})
    assert r.status_code == 404
    r = api(company.sales_a).post("ingest/credentials", {"name": "x", "kind": "integration", "unit_id": company.store_a.pk})
    assert r.status_code in (403, 404)
    # A salesperson's own phone: a departing one could sign made-up chats into the archive.
    r = api(company.sales_a).post("ingest/credentials", {"name": "我的手机", "employee_id": company.sales_a.pk})
    assert r.status_code == 403 and r.json()["error"] == "forbidden", r.content
    assert not ApiToken.objects.filter(created_by=company.sales_a, kind="device").exists()


def test_ingest_command_reports_bad_lines(company, device, ev, tmp_path, capsys):
    import pytest
    from django.core.management import call_command
    from django.core.management.base import CommandError

    phone = device(company.sales_a)
    lines = [json.dumps(ev.msg("f1", "文件导入一")), "{not json", json.dumps(ev.msg("f2", sender_role="customer")), "", json.dumps(ev.msg("f3"))]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(CommandError, match="2 line"):
        call_command("ingest", str(path), "--token", phone.token)
    err = capsys.readouterr().err
    assert "line 2: not JSON" in err and "line 3: sender_role" in err
    assert Entry.objects.filter(source_id__in=["f1", "f3"]).count() == 2
    good = tmp_path / "good.jsonl"
    good.write_text(json.dumps(ev.msg("f1")) + "\n")
    call_command("ingest", str(good), "--token", phone.token)
    assert "1 duplicates" in capsys.readouterr().out


def test_credential_command(company, capsys):
    from django.core.management import call_command

    call_command("archive", "credential", "--as", "manager_a", "--employee", "sales_a", "--name", "手机")
    out = capsys.readouterr().out
    assert "token:  cst_" in out and "secret: " in out
    issued = Entry.objects.filter(kind="auth.token_issued").latest("seq")
    assert (issued.actor_id, issued.source) == (company.manager_a.pk, "cli")
    assert '"signing":true' in issued.payload and f'"employee":{company.sales_a.pk}' in issued.payload


@pytest.mark.parametrize("actor,employee", [("sales_a", "sales_a"), ("sales_a", "sales_a_peer"), ("manager_a", "manager_a"),
                                            ("manager_a", "sales_b"), ("auditor", "sales_a")])  # fmt: skip
def test_credential_command_refuses_who_may_not_issue(company, actor, employee):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    with pytest.raises(CommandError):
        call_command("archive", "credential", "--as", actor, "--employee", employee, "--name", "手机")
    assert not ApiToken.objects.filter(kind="device").exists()


def test_odd_time_offsets_are_normalised_or_rejected_alone(company, device, ev):
    phone = device(company.sales_a)
    odd = ev.msg("odd")
    odd["occurred_at"] = "2026-01-01T10:00:00+22:43"
    ancient = ev.msg("ancient")
    ancient["occurred_at"] = "0001-01-01T00:00:00+01:00"
    data = phone.send(odd, ancient, ev.msg("fine")).json()
    assert [r["status"] for r in data["results"]] == ["accepted", "rejected", "accepted"]


def test_a_frozen_employees_phone_keeps_reporting_until_revoked(company, device, ev):
    from custos.org import services as org_services

    phone = device(company.sales_a)
    org_services.freeze(actor=company.manager_a, employee=company.sales_a, reason="离职")
    assert phone.send(ev.msg("after-freeze", "还在吗")).json()["accepted"] == 1
    tokens.revoke(actor=company.manager_a, token_id=phone.token_row.pk)
    r = phone.send(ev.msg("after-revoke"))
    assert r.status_code == 401 and "revoked" in r.json()["message"]
