"""WeChat ids a work phone names its contacts by are kept as keyed pseudonyms (issue #20 item 3)."""

import base64
import importlib

from django.db import connection
from django.utils import timezone

from custos.archive import pseudonym, selectors
from custos.archive.models import Conversation, ExternalContact, Message
from custos.core import crypto
from custos.customers import contacts
from custos.customers import services as customers


def test_the_same_id_gives_the_same_key_and_wecom_ids_stay_as_they_are():
    key = pseudonym.of("wxid_Zhang3")
    assert key.startswith("wx:") and len(key) == 3 + 64 and "zhang" not in key.lower()
    assert pseudonym.of("wxid_zhang3") == key  # WeChat ids are case-insensitive, as customers' are
    assert pseudonym.of(key) == key  # already a pseudonym
    assert pseudonym.of("wxid_li4") != key
    for clear in ("wmAbCdEf", "woXyz", "wrRoom1", "tel_0123456789ab", None):
        assert pseudonym.of(clear) == clear
    # the same HMAC as the customers' WeChat blind index
    assert pseudonym.wechat_index(key) == contacts.index(contacts.Kind.WECHAT, "wxid_zhang3")


def _under(monkeypatch, key: bytes) -> str:
    monkeypatch.setenv("CUSTOS_INDEX_KEY", base64.urlsafe_b64encode(key).decode())
    crypto.index_key.cache_clear()
    return pseudonym.of("wxid_zhang3")


def test_another_index_key_gives_another_pseudonym(monkeypatch):
    try:
        first, second, again = _under(monkeypatch, b"a" * 32), _under(monkeypatch, b"b" * 32), _under(monkeypatch, b"a" * 32)
    finally:
        monkeypatch.undo()
        crypto.index_key.cache_clear()
    assert first != second and first.startswith("wx:") and second.startswith("wx:")
    assert again == first


def _all_rows() -> str:
    out = []
    with connection.cursor() as cursor:
        for table in ("archive_externalcontact", "archive_conversation", "archive_message", "ledger_entry"):
            cursor.execute(f"SELECT * FROM {table}")  # noqa: S608
            out.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(out)


def test_a_work_phone_s_wechat_contact_is_kept_pseudonymous_matched_and_deduplicated(company, device, ev):
    zhang = customers.create_customer(
        actor=company.sales_a, name="张三", owner=company.sales_a,
        contacts_in=[customers.NewContact("wechat", "wxid_Zhang3")],
    )  # fmt: skip
    phone = device(company.sales_a)
    sent = phone.send(
        ev.event("contact.added", "add", contact="wxid_zhang3", name="张三"),
        ev.msg("m1", "张总您好，新款到了", contact="wxid_zhang3"),
        ev.event("message.recalled", "r1", message="m1", conversation="wxid_zhang3"),
    ).json()
    assert sent["accepted"] == 3, sent
    key = pseudonym.of("wxid_zhang3")
    contact = ExternalContact.objects.get()
    assert contact.external_id == key and contact.customer_id == zhang.pk  # matched through the blind index
    conversation = Conversation.objects.get()
    assert conversation.key == key and conversation.customer_id == zhang.pk
    assert set(Message.objects.values_list("contact_key", flat=True)) == {key}
    assert "zhang3" not in _all_rows().lower()
    # the same id re-sent (in another case) is the same contact: a duplicate, and no second contact
    again = phone.send(ev.msg("m1", "张总您好，新款到了", contact="WXID_ZHANG3"), ev.msg("m2", "在吗", contact="WXID_ZHANG3")).json()
    assert again["duplicates"] == 1 and again["accepted"] == 1, again
    assert ExternalContact.objects.count() == 1 and Conversation.objects.count() == 1
    assert Message.objects.get(source_id="m2").customer_id == zhang.pk


def test_the_console_s_chat_page_shows_the_contact_s_wechat_id_to_who_may_read_it(company, device, ev, console):
    device(company.sales_a).send(ev.msg("m1", "李先生您好", contact="wxid_li4"))
    conversation = Conversation.objects.get()
    assert conversation.contact.wechat_id == "wxid_li4"
    with connection.cursor() as cursor:  # sealed in its column
        cursor.execute("SELECT wechat_id FROM archive_externalcontact")
        assert "wxid_li4" not in cursor.fetchone()[0]
    page = console(company.manager_a).get(f"/conversations/c/{conversation.pk}/").content.decode()
    assert 'data-wechat-id="1">wxid_li4<' in page
    assert console(company.manager_b).get(f"/conversations/c/{conversation.pk}/").status_code == 404


def test_the_upgrade_rewrites_clear_wechat_ids_to_pseudonyms(company, device, ev):
    from django.apps import apps

    migration = importlib.import_module("custos.archive.migrations.0011_wechat_ids_to_pseudonyms")
    zhang = customers.create_customer(
        actor=company.sales_a, name="张三", owner=company.sales_a,
        contacts_in=[customers.NewContact("wechat", "wxid_old1")],
    )  # fmt: skip
    device(company.sales_a).send(
        ev.event("contact.added", "add", contact="wxid_old1", name="张三"), ev.msg("m1", "你好", contact="wxid_old1")
    )
    key = pseudonym.of("wxid_old1")
    # as an older Custos left them: the id in clear as the contact's, conversation's and messages' key
    with connection.cursor() as cursor:
        cursor.execute("UPDATE archive_externalcontact SET external_id = 'wxid_old1', wechat_id = ''")
        cursor.execute("UPDATE archive_conversation SET key = 'wxid_old1', title = 'wxid_old1'")
        cursor.execute("UPDATE archive_message SET contact_key = 'wxid_old1'")
    from custos.alerts.models import Alert

    now = timezone.now()
    Alert.objects.create(
        rule="keyword", category="private_deal", severity="high", employee=company.sales_a, contact="wxid_old1",
        unit=company.sales_a.unit, summary="私下交易", dedupe_key=f"keyword:private_deal:{company.sales_a.pk}:wxid_old1",
        raised_at=now, last_seen_at=now,
    )  # fmt: skip
    assert "wxid_old1" in _all_rows()
    migration.forwards(apps, None)
    alert = Alert.objects.get()
    assert (alert.contact, alert.dedupe_key) == (key, f"keyword:private_deal:{company.sales_a.pk}:{key}")
    assert "wxid_old1" not in _all_rows()
    contact = ExternalContact.objects.get()
    assert (contact.external_id, contact.wechat_id, contact.customer_id) == (key, "wxid_old1", zhang.pk)
    assert Conversation.objects.get().key == key
    assert set(Message.objects.values_list("contact_key", flat=True)) == {key}


def test_a_rebuild_of_entries_appended_with_clear_ids_keeps_pseudonyms(company, device, ev):
    from custos.ledger import projections
    from custos.ledger.services import append

    append("message.sent", {"msgtype": "text", "conversation": "wxid_old2", "contact": "wxid_old2", "text": "你好"},
           actor_id=company.sales_a.pk, unit_id=company.sales_a.unit_id, source="test-archive", source_id="old-1")  # fmt: skip
    projections.rebuild("archive")
    contact = ExternalContact.objects.get()
    assert (contact.external_id, contact.wechat_id) == (pseudonym.of("wxid_old2"), "wxid_old2")
    conversation = Conversation.objects.get()
    assert conversation.key == pseudonym.of("wxid_old2")
    # an alert's entry of that time still leads to its chat
    old = {"conversation": "wxid_old2", "contact": "wxid_old2"}
    assert selectors.conversation_of_entry(company.sales_a, company.sales_a.pk, old) == conversation
