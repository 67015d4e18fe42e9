"""A customer who refuses archiving (WeCom's disagree message): from that moment Custos keeps who
wrote and when, not the words or the files, in the ledger, the archive and its search; an
agreement lets the content in again; the customer's page shows the word."""

import json
from datetime import timedelta

from django.utils import timezone

from custos.archive import search_keys, services
from custos.archive.models import ExternalContact, Message
from custos.customers import services as customer_services
from custos.ledger.models import Entry


def _payload(source_id):
    return json.loads(Entry.objects.get(source_id=source_id).payload)


def test_after_a_refusal_only_who_and_when_are_kept_until_the_customer_agrees(company, device, ev, console):
    phone = device(company.sales_a)
    t = timezone.now() - timedelta(hours=5)
    minute = timedelta(minutes=1)
    other = "wm_other"
    r = phone.send(
        ev.msg("m1", "第一次聊天，报价 599", at=t),
        ev.msg("w1", None, kind="message.received", msgtype="disagree", at=t + minute),
        ev.msg("m2", "私下加我微信 abc123", at=t + 2 * minute),
        ev.msg("m3", "图片", msgtype="image", at=t + 3 * minute,
               attachment={"sha256": phone.upload(b"\x89PNG fake"), "name": "报价单.png", "mime": "image/png", "size": 9}),
        ev.msg("o1", "另一位客户的消息照常存档", contact=other, at=t + 2 * minute),
    )  # fmt: skip
    assert [x["status"] for x in r.json()["results"]] == ["accepted"] * 5
    assert _payload("m1")["text"] == "第一次聊天，报价 599"
    for withheld in ("m2", "m3"):
        p = _payload(withheld)
        assert p["text"] == "" and p["attachment"] is None and p["withheld"] == "customer_refused_archiving"
    assert _payload("o1")["text"] == "另一位客户的消息照常存档"
    contact = ExternalContact.objects.get(external_id="wm_cust_1")
    assert contact.consent == "refused" and contact.consent_at == t + minute

    # a later batch: the stored word still holds; the words are nowhere, not in the archive's search either
    phone.send(ev.msg("m4", "下单了吗", at=t + 10 * minute))
    assert _payload("m4")["text"] == ""
    row = Message.objects.get(source_id="m4")
    assert row.text == "" and row.extra["withheld"]
    assert not set(search_keys.term_keys("下单")) <= set(row.search_keys)
    assert not any("abc123" in (e.payload or "") for e in Entry.objects.all())  # payloads opened
    assert not any(set(search_keys.term_keys("下单")) <= set(m.search_keys) for m in Message.objects.all())

    # the customer agrees again: content is kept from then on
    phone.send(
        ev.msg("a1", None, kind="message.received", msgtype="agree", at=t + 20 * minute),
        ev.msg("m5", "谢谢您同意，我们保留服务记录", at=t + 21 * minute),
    )
    assert _payload("m5")["text"] == "谢谢您同意，我们保留服务记录"
    contact.refresh_from_db()
    assert contact.consent == "agreed"
    # a word delivered late does not overturn a newer one
    phone.send(ev.msg("w0", None, kind="message.received", msgtype="disagree", at=t - minute))
    contact.refresh_from_db()
    assert contact.consent == "agreed"

    # the customer's page shows it, once the contact is linked to the customer
    customer = customer_services.create_customer(
        actor=company.sales_a, name="拒绝存档的客户", owner=company.sales_a
    )
    services.link_contact(actor=company.manager_a, contact_id=contact.pk, customer_id=customer.pk)
    page = console(company.sales_a).get(f"/customers/{customer.pk}/").content.decode()
    assert 'id="archive-consent"' in page and 'data-consent="agreed"' in page
    conversation = Message.objects.get(source_id="m2").conversation_id
    chat = console(company.manager_a).get(f"/conversations/c/{conversation}/").content.decode()
    assert "abc123" not in chat and 'data-msgtype="disagree"' in chat
