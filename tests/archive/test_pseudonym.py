"""WeChat ids a work phone names its contacts by are kept as keyed pseudonyms (issue #20 item 3)."""

import base64

from django.db import connection

from custos.archive import pseudonym
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
