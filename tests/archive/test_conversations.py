import re
from datetime import timedelta

import pytest
from django.utils import timezone

from custos.archive import selectors
from custos.archive.models import Conversation, ExternalContact, Message
from custos.core.errors import NotFound
from custos.customers import services as customer_services
from custos.ledger import projections
from custos.ledger.models import Entry


def _t(minutes):
    return timezone.now() - timedelta(days=1) + timedelta(minutes=minutes)


def _chat(device, ev, employee, contact="wm_li"):
    phone = device(employee)
    phone.send(
        ev.event("contact.added", f"{contact}-add", at=_t(0), contact=contact, name="李先生"),
        ev.msg(f"{contact}-1", "李先生您好，新款到了", contact=contact, at=_t(1)),
        ev.msg(f"{contact}-2", "我私下给你便宜点，加我私人微信", contact=contact, at=_t(2)),
        ev.msg(f"{contact}-3", "好的，周末过来看看", kind="message.received", contact=contact, at=_t(3)),
        ev.event("message.recalled", f"{contact}-r", at=_t(4), message=f"{contact}-2", conversation=contact),
        ev.event("chat.deleted_on_device", f"{contact}-d", at=_t(5), conversation=contact, contact=contact),
    )
    return phone


def test_projection_builds_the_chat(company, device, ev):
    _chat(device, ev, company.sales_a)
    conversation = Conversation.objects.get(employee=company.sales_a, key="wm_li")
    assert conversation.title == "李先生"
    items = list(conversation.items.order_by("occurred_at"))
    assert [m.msgtype for m in items] == ["system", "text", "text", "text"]
    recalled = next(m for m in items if m.source_id == "wm_li-2")
    assert recalled.recalled_at is not None and "私人微信" in recalled.text  # still readable
    assert all(m.deleted_on_device for m in items)
    assert conversation.deleted_on_device_at is not None


def test_rebuild_gives_the_same_read_model(company, device, ev):
    _chat(device, ev, company.sales_a)

    def snapshot():
        return sorted(
            (m.entry_seq, m.text, m.recalled_at is not None, m.deleted_on_device, m.customer_id)
            for m in Message.objects.all()
        )

    before = snapshot()
    projections.rebuild("archive")
    assert snapshot() == before


def test_scope_store_manager_sees_own_subtree_only(company, device, ev):
    _chat(device, ev, company.sales_a, "wm_a")
    _chat(device, ev, company.sales_b, "wm_b")
    conv_b = Conversation.objects.get(key="wm_b")
    assert selectors.conversations_visible(company.manager_a).filter(key="wm_b").count() == 0
    with pytest.raises(NotFound):
        selectors.get_conversation(company.manager_a, conv_b.pk)
    with pytest.raises(NotFound):
        selectors.get_conversation(company.sales_a_peer, Conversation.objects.get(key="wm_a").pk)
    assert selectors.get_conversation(company.manager_b, conv_b.pk)
    assert selectors.get_conversation(company.auditor, conv_b.pk)


def test_linking_back_fills_history(company, device, ev, api):
    phone = _chat(device, ev, company.sales_a, "wm_unknown")
    customer = customer_services.create_customer(actor=company.sales_a, kind="person", name="李先生")
    contact = ExternalContact.objects.get(external_id="wm_unknown")
    assert contact.customer_id is None
    r = api(company.sales_a).post(f"archive/contacts/{contact.pk}/link", {"customer_id": customer.pk})
    assert r.status_code == 403
    r = api(company.manager_b).post(f"archive/contacts/{contact.pk}/link", {"customer_id": customer.pk})
    assert r.status_code == 404
    r = api(company.manager_a).post(f"archive/contacts/{contact.pk}/link", {"customer_id": customer.pk})
    assert r.status_code == 200, r.content
    assert set(Message.objects.filter(contact_key="wm_unknown").values_list("customer_id", flat=True)) == {customer.pk}
    assert Entry.objects.filter(kind="conversation.linked", customer_id=customer.pk).count() == 1
    # A search by the customer finds the history too (PostgreSQL: its key moved with the link)
    by_customer = selectors.SearchFilters(q=Message.objects.filter(contact_key="wm_unknown").exclude(text="").first().text[:2], customer_id=customer.pk)
    assert selectors.search(company.auditor, by_customer).exists()
    # Later messages match through the link at ingestion
    phone.send(ev.msg("later", "到店了吗", contact="wm_unknown"))
    assert Entry.objects.get(source_id="later").customer_id == customer.pk
    # And the link survives a rebuild
    projections.rebuild("archive")
    assert set(Message.objects.filter(contact_key="wm_unknown").values_list("customer_id", flat=True)) == {customer.pk}


@pytest.mark.parametrize("query,expected", [("私人微信", {"wm_s-2"}), ("微信", {"wm_s-2"}), ("周末", {"wm_s-3"}), ("李", {"wm_s-1"})])
def test_search_chinese(company, device, ev, query, expected):
    _chat(device, ev, company.sales_a, "wm_s")
    found = {m.source_id for m in selectors.search(company.auditor, selectors.SearchFilters(q=query))}
    assert found == expected


def test_search_filters_and_scope(company, device, ev, api):
    _chat(device, ev, company.sales_a, "wm_a")
    _chat(device, ev, company.sales_b, "wm_b")
    phone = device(company.sales_a)
    phone.send(ev.event("call.logged", "call-1", direction="out", number="13900001111", duration_s=30, note="客户要求退定金"))
    f = selectors.SearchFilters
    assert selectors.search(company.manager_a, f(q="新款到了")).count() == 1
    assert selectors.search(company.executive, f(q="新款到了")).count() == 2
    assert selectors.search(company.executive, f(q="新款到了", unit_id=company.east.pk)).count() == 1
    assert selectors.search(company.executive, f(q="新款到了", employee_id=company.sales_b.pk)).count() == 1
    assert selectors.search(company.executive, f(q="退定金", kind="call.logged")).count() == 1
    assert selectors.search(company.executive, f(q="新款", since=timezone.now())).count() == 0
    r = api(company.manager_a).get("archive/search", q="新款到了")
    assert r.status_code == 200 and r.json()["count"] == 1


def test_search_uses_the_index_of_its_words(company, device, ev):
    from django.db import connection

    _chat(device, ev, company.sales_a, "wm_idx")
    f = selectors.SearchFilters(q="私人微信")
    # PostgreSQL: the query search() runs first, under the settings it runs it with
    qs = selectors.words_first(company.auditor, f)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("SET LOCAL enable_seqscan = off")
            cursor.execute("SET LOCAL enable_indexscan = off")
        sql, params = qs.query.sql_with_params()
        cursor.execute(("EXPLAIN " if connection.vendor == "postgresql" else "EXPLAIN QUERY PLAN ") + sql, params)
        plan = "\n".join(str(row) for row in cursor.fetchall())
    # On PostgreSQL the index of a month's partition: archive_message_<month>_search_keys_idx.
    used = r"archive_message_\w*search_keys" if connection.vendor == "postgresql" else "archive_message_fts"
    assert re.search(used, plan)
    if connection.vendor == "postgresql":  # migration 0006: nothing reads the trigram index, so it is gone
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM pg_indexes WHERE indexname = 'archive_message_search_trgm'")
            assert cursor.fetchone() == (0,)


def test_group_chat(company, device, ev):
    phone = device(company.sales_a)
    phone.send(
        ev.event("group.created", "g0", group="grp1", name="天河店VIP群", members=[{"contact": "wm_a"}, {"employee": "sales_a"}], has_company_observer=True),
        ev.msg("g1", "大家好，本周六VIP专场", conversation="grp1", group="grp1", contact=None),
        ev.msg("g2", "几点开始？", kind="message.received", conversation="grp1", group="grp1", contact="wm_a"),
        ev.event("group.member_added", "g3", group="grp1", member={"contact": "wm_b"}),
        ev.event("group.member_removed", "g4", group="grp1", member={"contact": "wm_a"}),
    )
    conversation = Conversation.objects.get(key="grp1")
    assert conversation.title == "天河店VIP群" and conversation.contact is None and conversation.group.has_company_observer
    assert conversation.group.members == [{"contact": None, "employee": "sales_a"}, {"contact": "wm_b", "employee": None}]
    assert conversation.items.count() == 2


TWO_CHARACTER_TEXTS = ["加我VX聊", "加我 vx 聊", "打折100%_真的", "哈哈哈", "大衣到了🧥", "ab", "A", ""]


@pytest.mark.parametrize("query", ["vx", "VX", "我 ", "%_", "0%", "哈哈", "大衣", "衣到", "AB", "聊了"])
def test_two_character_terms_find_what_a_substring_search_finds(company, device, ev, query):
    # On PostgreSQL two characters go through the bigram column and its index (migration 0004),
    # not LIKE: they must find exactly what a case-blind substring search finds, wildcards literal.
    device(company.sales_a).send(*(ev.msg(f"two-{i}", text, contact="wm_two") for i, text in enumerate(TWO_CHARACTER_TEXTS)))
    found = {m.source_id for m in selectors.search(company.auditor, selectors.SearchFilters(q=query))}
    expected = {f"two-{i}" for i, text in enumerate(TWO_CHARACTER_TEXTS) if query.strip().upper() in text.upper()}
    assert found == expected


@pytest.mark.postgres_only
def test_two_character_terms_use_the_bigram_index_and_follow_changes(company, device, ev):
    from django.db import connection

    device(company.sales_a).send(ev.msg("bi-1", "这款大衣有货", contact="wm_bi"))
    qs = selectors.words_first(company.auditor, selectors.SearchFilters(q="大衣"))
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        sql, params = qs.query.sql_with_params()
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(str(row) for row in cursor.fetchall())
    assert re.search(r"archive_message_\w*search_keys", plan)
    # The keys are what is searched: without them (a body redacted under retention) nothing is found.
    Message.objects.filter(source_id="bi-1").update(search_keys=[])
    assert not selectors.search(company.auditor, selectors.SearchFilters(q="大衣")).exists()


def test_the_kind_filter_reads_an_entry_kind_or_a_msgtype(company, device, ev):
    phone = _chat(device, ev, company.sales_a, "wm_k")
    sha = phone.upload(b"\x89PNG\r\n\x1a\n kind")
    phone.send(
        ev.msg("wm_k-img", None, contact="wm_k", msgtype="image", attachment={"sha256": sha, "name": "新款大衣.png", "size": 14, "mime": "image/png"}),
        ev.msg("wm_k-red", "新款红包", contact="wm_k", msgtype="redpacket", amount=666),
    )

    def found(kind):
        return {m.source_id for m in selectors.search(company.auditor, selectors.SearchFilters(q="新款", kind=kind))}

    assert found(None) == {"wm_k-1", "wm_k-img", "wm_k-red"}
    assert found("image") == {"wm_k-img"}
    assert found("redpacket") == {"wm_k-red"}
    assert found("message.sent") == {"wm_k-1", "wm_k-img", "wm_k-red"}
    assert found("message.received") == set()
    assert found("call.logged") == set()
