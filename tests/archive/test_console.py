from django.core.management import call_command

from custos.archive.models import Conversation, Message
from custos.customers import services as customer_services
from custos.ledger.models import Entry


def _setup(company, device, ev):
    phone = device(company.sales_a)
    img = b"\x89PNG\r\n\x1a\n fake"
    sha = phone.upload(img)
    phone.send(
        ev.event("contact.added", "add", contact="wm_zhao", name="赵女士"),
        ev.msg("t1", "赵女士，这款是新到的羊绒大衣", contact="wm_zhao"),
        ev.msg("i1", None, contact="wm_zhao", msgtype="image", attachment={"sha256": sha, "name": "大衣.png", "size": len(img), "mime": "image/png"}),
        ev.msg("h1", None, contact="wm_zhao", msgtype="file", attachment={"sha256": sha, "name": "x.html", "size": len(img), "mime": "text/html"}),
        ev.msg("rp", "恭喜发财", contact="wm_zhao", msgtype="redpacket", amount=8800),
        ev.event("message.recalled", "rc", message="t1", conversation="wm_zhao"),
    )
    return Conversation.objects.get(key="wm_zhao"), img


def test_chat_page_reads_like_a_chat(company, device, ev, console):
    conversation, img = _setup(company, device, ev)
    client = console(company.manager_a)
    page = client.get(f"/conversations/c/{conversation.pk}/").content.decode()
    assert "羊绒大衣" in page and 'data-recalled="1"' in page
    image = Message.objects.get(source_id="i1")
    assert f"/conversations/m/{image.pk}/attachment/" in page and "<img" in page
    assert "¥88.00" in page
    assert "data-unlinked" in page  # a manager sees the link form
    client.get(f"/conversations/c/{conversation.pk}/")
    assert Entry.objects.filter(kind="access.conversation_viewed", actor_id=company.manager_a.pk).count() == 1
    r = client.get(f"/conversations/m/{image.pk}/attachment/")
    assert r.status_code == 200 and b"".join(r.streaming_content) == img
    assert r["Content-Type"] == "image/png"
    assert Entry.objects.filter(kind="access.attachment_viewed", actor_id=company.manager_a.pk).count() == 1
    client.get(f"/conversations/m/{image.pk}/attachment/")  # the same day again: one entry
    assert Entry.objects.filter(kind="access.attachment_viewed", actor_id=company.manager_a.pk).count() == 1
    # HTML is never served as HTML
    html = Message.objects.get(source_id="h1")
    r = client.get(f"/conversations/m/{html.pk}/attachment/")
    assert r["Content-Type"] == "application/octet-stream" and r["Content-Disposition"].startswith("attachment")


def test_outside_scope_is_404(company, device, ev, console):
    conversation, _img = _setup(company, device, ev)
    image = Message.objects.get(source_id="i1")
    for who in (company.manager_b, company.sales_a_peer):
        client = console(who)
        assert client.get(f"/conversations/c/{conversation.pk}/").status_code == 404
        assert client.get(f"/conversations/m/{image.pk}/attachment/").status_code == 404
    assert console(company.manager_b).get("/conversations/").content.decode().count("data-conversation=") == 0
    assert console(company.sales_a).get("/conversations/").content.decode().count("data-conversation=") == 1


def test_link_button_and_search_page(company, device, ev, console):
    conversation, _img = _setup(company, device, ev)
    customer = customer_services.create_customer(actor=company.sales_a, kind="person", name="赵女士")
    client = console(company.manager_a)
    r = client.post(f"/conversations/contacts/{conversation.contact_id}/link/", {"customer_id": customer.pk, "conversation": conversation.pk})
    assert r.status_code == 302
    conversation.refresh_from_db()
    assert conversation.customer_id == customer.pk
    page = client.get("/conversations/search/", {"q": "羊绒"}).content.decode()
    assert 'data-hits="1"' in page
    page = client.get("/conversations/search/", {"q": "大"}).content.decode()  # one character: the fallback
    assert 'data-hits="2"' in page
    # messages after the link carry the customer and show in the customer's timeline
    device(company.sales_a).send(ev.msg("after", "周六下午到店试穿", contact="wm_zhao"))
    assert "周六下午到店试穿" in client.get(f"/customers/{customer.pk}/").content.decode()
    assert console(company.manager_b).get("/conversations/search/", {"q": "羊绒"}).content.decode().count('data-hits="0"') == 1


def test_verify_command_still_passes_with_attachments(company, device, ev):
    _setup(company, device, ev)
    call_command("ledger", "verify")


def test_the_list_names_customers_and_titles_nameless_chats_by_their_customer(company, device, ev, console):
    from custos.customers import services as customers

    zhang = customers.create_customer(
        actor=company.sales_a, name="张三丰", owner=company.sales_a,
        contacts_in=[customers.NewContact("wechat", "wxid_zsf")],
    )  # fmt: skip
    # no contact.added event: the source never told us the contact's name
    assert device(company.sales_a).send(ev.msg("n1", text="您好", contact="wxid_zsf")).json()["accepted"] == 1
    page = console(company.manager_a).get("/conversations/").content.decode()
    assert "张三丰" in page and ">wxid_zsf<" not in page
    assert f'href="/customers/{zhang.pk}/">张三丰</a>' in page


def test_search_counts_hits_only_ahead_of_the_page(company, device, ev, console, monkeypatch):
    from custos.archive import selectors

    device(company.sales_a).send(*(ev.msg(f"w{i}", f"第{i}件羊绒大衣到了", contact="wm_qian") for i in range(5)))
    monkeypatch.setattr(selectors, "HITS_CAP", 1)  # a search's pager counts as far as its words fetch
    monkeypatch.setattr("custos.archive.views.PAGE_SIZE", 1)
    client = console(company.manager_a)
    first = client.get("/conversations/search/", {"q": "羊绒大衣"}).content.decode()
    assert 'data-hits="2+"' in first and "超过 2 条结果" in first and "1 / 2+" in first
    last = client.get("/conversations/search/", {"q": "羊绒大衣", "page": "5"}).content.decode()
    assert 'data-hits="5"' in last and "5 条结果" in last and "5 / 5" in last and "5 / 5+" not in last
