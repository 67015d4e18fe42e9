"""Callbacks from the stub, signed and encrypted as WeCom does, through Custos's callback URL."""

import json
import time
from urllib.parse import urlencode

import pytest
from django.test import Client

from custos.alerts.models import Alert, Delivery
from custos.ledger.models import Entry
from custos.wecom.callback_crypto import CallbackCrypto
from custos.wecom.models import Callback, MemberLink

from .conftest import AES_KEY, TOKEN


def _entries(kind):
    return list(Entry.objects.filter(kind=kind, source="wecom").order_by("seq"))


def test_url_verification_answers_the_echostr(wecom):
    crypto = CallbackCrypto(TOKEN, AES_KEY, wecom.corp_id)
    echostr = crypto.encrypt("1616140317555161061")
    ts, nonce = str(int(time.time())), "abc123"
    query = {"msg_signature": crypto.signature(ts, nonce, echostr), "timestamp": ts, "nonce": nonce, "echostr": echostr}
    response = Client().get(f"/wecom/callback/?{urlencode(query)}")
    assert response.status_code == 200 and response.content == b"1616140317555161061"
    query["msg_signature"] = "0" * 40
    assert Client().get(f"/wecom/callback/?{urlencode(query)}").status_code == 403


def test_a_deletion_reaches_the_ledger_the_inbox_the_webhooks_and_the_managers_wecom(company, synced, django_capture_on_commit_callbacks):
    record = synced.delete_contact("sales_a", "wmCustomer0001")
    assert record["status"] == 200 and record["reply"] == "success"
    callback = Callback.objects.get()
    assert callback.status == Callback.Status.DONE, callback.outcome
    entry = _entries("contact.deleted_by_staff")[0]
    assert entry.actor_id == company.sales_a.pk and entry.unit_id == company.store_a.pk
    assert json.loads(entry.payload) == {"contact": "wmCustomer0001", "by_transfer": False}
    alert = Alert.objects.get(rule="customer_deleted")
    assert alert.employee_id == company.sales_a.pk and alert.evidence == [entry.seq]
    # The store's and the region's managers and the admin get it in WeCom; not the salesperson.
    sent = [m for m in synced.messages if "删除" in m["content"] or "Customer deleted" in m["content"]]
    assert sent, synced.messages
    assert set(sent[0]["touser"]) == {"manager_a", "region_south", "admin"}


def test_webhooks_get_the_deletion_too(company, synced):
    from custos.alerts import services as alert_services

    alert_services.create_webhook(actor=company.admin, unit=company.hq, kind="generic", name="总部", url="http://127.0.0.1:9/hook", secret="s3cret-s3cret")
    synced.delete_contact("sales_a", "wmCustomer0002")
    alert = Alert.objects.get(rule="customer_deleted")
    assert Delivery.objects.filter(alert=alert).exists()


def test_a_retried_callback_is_one_entry(synced):
    query, body = synced.signed_callback({"Event": "change_external_contact", "ChangeType": "del_external_contact", "UserID": "sales_a", "ExternalUserID": "wmX", "CreateTime": "1733300000"})
    assert synced.deliver(query, body).status_code == 200
    query2, body2 = synced.signed_callback({"Event": "change_external_contact", "ChangeType": "del_external_contact", "UserID": "sales_a", "ExternalUserID": "wmX", "CreateTime": "1733300000"})
    assert synced.deliver(query2, body2).status_code == 200
    assert Callback.objects.count() == 1
    assert len(_entries("contact.deleted_by_staff")) == 1


def test_the_customer_deleting_staff_is_recorded_without_a_deletion_alert(synced):
    synced.delete_contact("sales_a", "wmCustomer0003", by="customer")
    assert len(_entries("contact.deleted_by_customer")) == 1
    assert not Alert.objects.filter(rule="customer_deleted").exists()


def test_a_deletion_caused_by_a_transfer_is_not_an_alert(synced):
    synced.post_event({"Event": "change_external_contact", "ChangeType": "del_external_contact", "Source": "DELETE_BY_TRANSFER", "UserID": "sales_a", "ExternalUserID": "wmMoved"})
    entry = _entries("contact.deleted_by_staff")[0]
    assert json.loads(entry.payload)["by_transfer"] is True
    assert not Alert.objects.exists()


def test_an_added_contact_gets_its_name_from_wecom(company, synced):
    synced.add_contact("sales_a", "wmNew0001", "王小姐", notify=True)
    entry = _entries("contact.added")[0]
    assert json.loads(entry.payload)["name"] == "王小姐" and entry.actor_id == company.sales_a.pk


def test_a_group_without_a_company_observer_is_an_alert_and_one_with_is_not(company, synced):
    synced.create_group("wrPrivate01", "私聊群", "sales_a", [("wmC1", 2), ("wmC2", 2)])
    created = _entries("group.created")[0]
    payload = json.loads(created.payload)
    assert payload["has_company_observer"] is False and {"contact": "wmC1"} in payload["members"]
    assert Alert.objects.filter(rule="private_group").count() == 1
    synced.create_group("wrObserved", "VIP群", "sales_a", [("wmC3", 2), ("service_a", 1)])
    assert json.loads(_entries("group.created")[1].payload)["has_company_observer"] is True
    assert Alert.objects.filter(rule="private_group").count() == 1


def test_members_joining_and_leaving_a_group(company, synced):
    synced.create_group("wrG", "群", "sales_a", [("wmC1", 2)])
    synced.groups["wrG"]["member_list"].append({"userid": "wmC9", "type": 2})
    synced.post_event({"Event": "change_external_chat", "ChatId": "wrG", "ChangeType": "update", "UpdateDetail": "add_member", "MemChangeList": ["wmC9", "sales_a_peer"]})
    added = [json.loads(e.payload)["member"] for e in _entries("group.member_added")]
    assert added == [{"contact": "wmC9"}, {"employee": company.sales_a_peer.employee_no}]
    synced.post_event({"Event": "change_external_chat", "ChatId": "wrG", "ChangeType": "dismiss"})
    assert len(_entries("group.dismissed")) == 1


def test_an_unknown_member_waits_for_the_directory_sync(company, wecom, django_capture_on_commit_callbacks):
    from custos.org import services as org_services
    from custos.org.models import Role
    from custos.wecom import sync

    wecom.add_user("zhangwei", "张伟", 3)
    wecom.delete_contact("zhangwei", "wmC77")
    callback = Callback.objects.get()
    assert callback.status == Callback.Status.WAITING_MEMBER and "zhangwei" in callback.outcome
    assert not _entries("contact.deleted_by_staff")
    with django_capture_on_commit_callbacks(execute=True):
        sync.run(sync.start("directory").pk)
    callback.refresh_from_db()
    assert callback.status == Callback.Status.DONE
    hired = MemberLink.objects.get(userid="zhangwei").employee
    assert hired.name == "张伟" and hired.role == Role.SALES and not hired.user.has_usable_password()
    assert _entries("contact.deleted_by_staff")[0].actor_id == hired.pk
    assert org_services  # the sync hired through org.services (org.employee_created entry)
    assert any("zhangwei" in e.payload for e in Entry.objects.filter(kind="org.employee_created"))


@pytest.mark.parametrize("tamper", ["signature", "stale", "receiver", "xml", "doctype"])
def test_forged_callbacks_are_refused_and_never_stored_as_events(wecom, tamper):
    crypto = CallbackCrypto(TOKEN, AES_KEY, "wwSOMEONEELSE" if tamper == "receiver" else wecom.corp_id)
    xml = wecom.event_xml({"Event": "change_external_contact", "ChangeType": "del_external_contact", "UserID": "sales_a", "ExternalUserID": "wmF"})
    ts = str(int(time.time()) - (3600 if tamper == "stale" else 0))
    encrypted = crypto.encrypt(xml)
    body = f"<xml><ToUserName>x</ToUserName><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
    if tamper == "xml":
        body = "<xml><Encrypt>"
    if tamper == "doctype":
        body = f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e "e">]><xml><Encrypt>{encrypted}</Encrypt></xml>'
    signature = "f" * 40 if tamper == "signature" else crypto.signature(ts, "n1", encrypted)
    response = Client().post(f"/wecom/callback/?msg_signature={signature}&timestamp={ts}&nonce=n1", data=body, content_type="text/xml")
    assert response.status_code == 403
    refused = Callback.objects.get()
    assert refused.status == Callback.Status.REFUSED and refused.data == {} and refused.outcome
    assert not Entry.objects.filter(source="wecom").exists()


def test_a_callback_is_refused_when_none_is_configured(company):
    response = Client().post("/wecom/callback/?msg_signature=x&timestamp=1&nonce=1", data=b"<xml/>", content_type="text/xml")
    assert response.status_code == 403
    assert "未配置" in Callback.objects.get().outcome


def test_a_flood_of_forged_posts_adds_one_row_a_minute_and_old_callbacks_are_pruned(synced):
    from datetime import timedelta

    from django.utils import timezone

    from custos.wecom import services

    for _ in range(30):
        Client().post("/wecom/callback/?msg_signature=00&timestamp=1&nonce=1", data=b"<xml><Encrypt>AAAA</Encrypt></xml>", content_type="text/xml")
    assert Callback.objects.filter(status="refused").count() <= 2  # the minute may turn once
    synced.delete_contact("sales_a", "wmOld")
    assert services.prune_callbacks() == 0
    total = Callback.objects.count()
    assert total >= 2 and services.prune_callbacks(now=timezone.now() + timedelta(days=91)) == total
    assert not Callback.objects.exists()
    assert Entry.objects.filter(kind="contact.deleted_by_staff").exists()  # the fact stays in the ledger
