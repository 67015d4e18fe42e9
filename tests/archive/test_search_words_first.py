"""Search on PostgreSQL fetches the hits by their words first (selectors.search): whichever way
it goes, fewer hits than HITS_CAP or more, a large scope or a small one, the viewer sees exactly
the messages and the order a plain filtered query gives, and the pager's count is right."""

import dataclasses
import re
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.utils import timezone

from custos.archive import search_keys, selectors
from custos.core.paging import count_ahead, page_ahead

TEXTS = [
    "这款大衣到货了，驼色和黑色都有",
    "大衣的面料是羊毛混纺",
    "明天顺丰发出，单号SF1234567",
    "加我私人微信，私下给你便宜点",
    "顺丰到付可以吗",
    "大衣退款什么时候到账",
]


@pytest.fixture
def corpus(company, device, ev):
    now = timezone.now()
    for n, who in enumerate((company.sales_a, company.sales_b)):
        phone = device(who)
        events = []
        for i, text in enumerate(TEXTS * 3):
            at = now - timedelta(days=(i * 7 + n) % 60, minutes=i)
            kind = "message.received" if i % 3 == 1 else "message.sent"
            events.append(ev.msg(f"w{n}-{i}", text, contact=f"wm_{n}_{i % 4}", at=at, kind=kind))
        events.append(ev.event("call.logged", f"c{n}", direction="out", number="13900001111", duration_s=30, note="客户问顺丰到付", at=now - timedelta(days=n)))
        phone.send(*events)
    return company


def plain(viewer, f):
    """What a search must find: every message in scope under the other filters whose opened text
    or file name holds every word (no index of any kind involved)."""
    ordered = ("-occurred_at", "-entry_seq")
    rest = dataclasses.replace(f, q="")
    plain = selectors._filtered(selectors.messages_visible(viewer), rest, selectors._unit_staff(viewer, f))
    rows = plain.order_by(*ordered).values_list("pk", "text", "attachment_name")
    return [pk for pk, text, name in rows if selectors.holds(text, name, f.q.split())]


def cases(company):
    f = selectors.SearchFilters
    since = timezone.now() - timedelta(days=30)
    return [
        f(q="大衣"),
        f(q="顺丰"),
        f(q="顺丰", kind="call.logged"),
        f(q="顺丰", kind="message.received"),
        f(q="大衣", since=since),
        f(q="羊毛混纺"),
        f(q="私人微信 便宜"),
        f(q="没有的词"),
        f(q="大衣", employee_id=company.sales_b.pk),
        f(q="大衣", unit_id=company.store_a.pk),
        f(q="衣"),  # one character: no index for the words, the plain query
    ]


@pytest.mark.parametrize("cap", [2, 2000])
@pytest.mark.parametrize("few_staff", [0, 64])
def test_search_finds_what_a_plain_query_finds_in_the_same_order(corpus, monkeypatch, cap, few_staff):
    monkeypatch.setattr(selectors, "HITS_CAP", cap)
    monkeypatch.setattr(selectors, "FEW_STAFF", few_staff)
    company = corpus
    for viewer in (company.executive, company.region_manager, company.manager_a, company.sales_a):
        for f in cases(company):
            expected = plain(viewer, f)
            found = list(selectors.search(viewer, f).values_list("pk", flat=True))
            assert found == expected, (viewer, f)
            assert count_ahead(selectors.search(viewer, f), 0, 1000) == (len(expected), True)
            if connection.vendor == "postgresql" and len(f.q.split()[0]) > 1:  # the words went first
                assert selectors.search(viewer, f)._known_count == (
                    (len(expected), True) if len(expected) <= cap else (cap + 1, False)
                )
    assert plain(company.executive, selectors.SearchFilters(q="大衣")), "the corpus holds hits"


def test_a_search_with_more_hits_than_it_fetches_says_more_than_without_counting(corpus, monkeypatch):
    monkeypatch.setattr(selectors, "HITS_CAP", 2)
    f = selectors.SearchFilters(q="大衣")
    expected = plain(corpus.executive, f)
    assert len(expected) > 3
    # the capped count comes from the hits fetched: at most 2 past the start of page 1
    assert count_ahead(selectors.search(corpus.executive, f), 0, 1) == (1, False)
    page = page_ahead(selectors.search(corpus.executive, f), 2, 1)
    assert [m.pk for m in page] == expected[:2] and page.has_next()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner settings are PostgreSQL's")
@pytest.mark.parametrize("cap", [2, 2000])  # windows of time read, or not
def test_the_planner_settings_of_a_search_end_with_it(corpus, monkeypatch, cap):
    from custos.archive import windows

    monkeypatch.setattr(selectors, "HITS_CAP", cap)
    monkeypatch.setattr(windows, "WALK", 1)
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SHOW work_mem")
        work_mem = cursor.fetchone()
        found = selectors.search(corpus.executive, selectors.SearchFilters(q="大衣"))
        list(found[:3])
        assert count_ahead(found, 6, 100)[0] == len(plain(corpus.executive, selectors.SearchFilters(q="大衣")))
        for setting in ("enable_seqscan", "enable_indexscan", "enable_bitmapscan"):
            cursor.execute(f"SHOW {setting}")
            assert cursor.fetchone() == ("on",)
        cursor.execute("SHOW work_mem")
        assert cursor.fetchone() == work_mem


def test_the_api_says_whether_its_count_is_exact(corpus, api, monkeypatch):
    body = api(corpus.executive).get("archive/search", q="大衣", limit=2).json()
    assert body["count"] == len(plain(corpus.executive, selectors.SearchFilters(q="大衣")))
    assert body["count_exact"] is True and len(body["items"]) == 2
    monkeypatch.setattr(selectors, "HITS_CAP", 2)
    from custos.api import pagination

    monkeypatch.setattr(pagination, "COUNT_CAP", 2)
    body = api(corpus.executive).get("archive/search", q="大衣", limit=2).json()
    assert (body["count"], body["count_exact"], len(body["items"])) == (2, False, 2)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="search_keys is PostgreSQL's index")
def test_the_kind_is_a_key_of_the_index_beside_the_words(corpus):
    from custos.archive.models import Message

    message = Message.objects.filter(kind="call.logged").first()
    with connection.cursor() as cursor:
        cursor.execute("SELECT search_keys FROM archive_message WHERE id = %s", [message.pk])
        keys = cursor.fetchone()[0]
    fk = search_keys.filter_key
    assert {fk("k", "call.logged"), fk("t", message.msgtype), fk("e", message.employee_id)} <= set(keys)
    assert set(search_keys.term_keys("顺丰")) <= set(keys)
    assert (fk("c", message.customer_id) in keys) == (message.customer_id is not None)
    # keyed hashes only: no word, no kind, no id in clear
    assert all(len(k) == search_keys.LENGTH and int(k, 16) >= 0 for k in keys)
    f = selectors.SearchFilters(q="顺丰 到付", kind="call.logged")
    sql, params = selectors.words_first(corpus.executive, f).query.sql_with_params()
    assert any(isinstance(p, list) and fk("k", "call.logged") in p for p in params) and "search_keys @>" in sql
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_indexscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert re.search(r"archive_message_\w*search_keys", plan)
    assert [m.source_id for m in selectors.search(corpus.executive, f)] == ["c0", "c1"]
    # a store manager's few staff are keys too: any of them
    sql, params = selectors.words_first(corpus.manager_a, f).query.sql_with_params()
    staff = (corpus.manager_a.pk, corpus.sales_a.pk, corpus.sales_a_peer.pk, corpus.service_a.pk)
    any_of = sorted(fk("e", pk) for pk in staff)
    assert "search_keys &&" in sql and any(isinstance(p, list) and sorted(p) == any_of for p in params)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the hits are read window by window on PostgreSQL")
@pytest.mark.parametrize("walk", [2, 10_000])
def test_a_page_read_window_by_window_is_the_page_of_the_whole_list(corpus, monkeypatch, walk):
    """The corpus spans 60 days: pages of 1 to 5 are found in the last day, week, month, half
    year or only in all time, after a walk of the newest messages or without one."""
    from django.db.models import Q
    from django.test.utils import CaptureQueriesContext

    from custos.archive import windows

    monkeypatch.setattr(selectors, "HITS_CAP", 2)
    monkeypatch.setattr(windows, "WALK", walk)
    if walk == 2:  # every scope large enough to walk
        monkeypatch.setattr(selectors, "FEW_STAFF", 0)
    company = corpus
    now = timezone.now()
    extra = [
        selectors.SearchFilters(q="大衣", until=now - timedelta(days=10)),
        selectors.SearchFilters(q="顺丰", since=now - timedelta(days=20), until=now - timedelta(days=2)),
    ]
    windowed = 0
    for viewer in (company.executive, company.region_manager, company.manager_a):
        for f in cases(company) + extra:
            expected = plain(viewer, f)
            for size in (1, 2, 3, 5):
                for start in (0, size, 2 * size, 7):
                    qs = selectors.search(viewer, f)
                    with CaptureQueriesContext(connection) as queries:
                        got = [m.pk for m in qs[start : start + size]]
                    assert got == expected[start : start + size], (viewer, f, start, size)
                    windowed += any('"archive_message"."occurred_at" >=' in q["sql"] for q in queries)
    assert windowed > 50, "pages were read through windows of time"
    # values() and the like are windowed too; another order is an ordinary query
    f = selectors.SearchFilters(q="大衣")
    expected = plain(company.executive, f)
    assert list(selectors.search(company.executive, f).values_list("pk", flat=True)[1:4]) == expected[1:4]
    oldest = list(selectors.search(company.executive, f).order_by("occurred_at", "entry_seq").values_list("pk", flat=True)[:3])
    assert oldest == expected[::-1][:3]
    assert selectors.search(company.executive, f).filter(Q(pk__in=expected[:2])).count() == 2
