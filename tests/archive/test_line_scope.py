"""The archive under a product-line or grade limit (issue 20 item 5): a manager limited to 童装
reads no chat with a 女装 customer, in the conversation list, the messages, the search or the API;
a chat with nobody's customer yet stays the manager's to read."""

from datetime import timedelta

from django.utils import timezone

from custos.archive import selectors
from custos.archive.models import Conversation, ExternalContact, Message
from custos.customers import services as customer_services
from custos.org import product_lines
from custos.org.models import Employee, ProductLine


def _t(minutes):
    return timezone.now() - timedelta(days=1) + timedelta(minutes=minutes)


def test_a_line_limited_manager_reads_only_their_lines_chats(company, device, ev, api):
    kids = ProductLine.objects.create(name="童装", code="kids")
    women = ProductLine.objects.create(name="女装", code="women")
    phone = device(company.sales_a)
    for key, text in (
        ("wm_kid", "童装新款到了"),
        ("wm_woman", "女装新款到了"),
        ("wm_nobody", "您好新款到了"),
    ):
        phone.send(
            ev.event("contact.added", f"{key}-add", at=_t(0), contact=key, name=key),
            ev.msg(f"{key}-1", text, contact=key, at=_t(1)),
        )
    for key, line in (("wm_kid", kids), ("wm_woman", women)):
        customer = customer_services.create_customer(actor=company.sales_a, name=key)
        customer.product_lines.add(line)
        contact = ExternalContact.objects.get(external_id=key)
        r = api(company.manager_a).post(f"archive/contacts/{contact.pk}/link", {"customer_id": customer.pk})
        assert r.status_code == 200, r.content
    product_lines.set_limits(actor=company.admin, employee=company.manager_a, lines=["kids"], grades=[])
    manager = Employee.objects.get(pk=company.manager_a.pk)

    convs = set(selectors.conversations_visible(manager).values_list("key", flat=True))
    assert convs == {"wm_kid", "wm_nobody"}
    texts = set(selectors.messages_visible(manager).values_list("contact_key", flat=True))
    assert texts == {"wm_kid", "wm_nobody"}
    for q in ("新款", "女装新款"):
        found = set(
            selectors.search(manager, selectors.SearchFilters(q=q)).values_list("contact_key", flat=True)
        )
        assert "wm_woman" not in found
    assert set(selectors.search(company.region_manager, selectors.SearchFilters(q="新款")).values_list("contact_key", flat=True)) == {
        "wm_kid", "wm_nobody", "wm_woman"}  # fmt: skip
    woman_conv = Conversation.objects.get(key="wm_woman")
    woman_msg = Message.objects.filter(contact_key="wm_woman").first()
    client = api(manager)
    assert client.get(f"archive/conversations/{woman_conv.pk}/messages").status_code == 404
    assert Message.objects.filter(pk=woman_msg.pk).exists() and not selectors.messages_visible(
        manager
    ).filter(pk=woman_msg.pk)
    assert "女装新款" not in client.get("archive/search", q="新款").content.decode()
    assert "女装新款" not in client.get("archive/conversations").content.decode()
