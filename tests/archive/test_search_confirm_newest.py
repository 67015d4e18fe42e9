"""A phrase longer than two characters, which the index's keys cannot tell apart from messages
holding its pairs of characters, is confirmed on opened rows (selectors.search): newest first,
band of time by band (windows.newest_kept), stopping at HITS_CAP + 1 hits or CONFIRM_CAP opened."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from custos.archive import selectors, windows
from custos.core.paging import count_ahead

# Days ago, newest first, across every band (a day, a week, a month, half a year, the rest):
# a hit, then a message with 大衣 and 衣服 but not 大衣服, in turn.
DAYS = [0, 0.5, 2, 3, 10, 12, 40, 45, 200, 300]


@pytest.fixture
def phrases(company, device, ev):
    now = timezone.now()
    events = []
    for i, days in enumerate(DAYS):
        text = "这件大衣服帖" if i % 2 == 0 else "大衣和衣服都有"
        events.append(ev.msg(f"m{i}", text, contact=f"wm_{i % 3}", at=now - timedelta(days=days, minutes=i)))
    device(company.sales_a).send(*events)
    ordered = selectors.messages_visible(company.auditor).order_by(*windows.ORDER)
    return [m.pk for m in ordered if "大衣服" in m.text]


def found(viewer, q="大衣服"):
    result = selectors.search(viewer, selectors.SearchFilters(q=q))
    return [m.pk for m in result], result


def test_every_hit_when_the_candidates_are_few(company, phrases):
    pks, result = found(company.auditor)
    assert pks == phrases and len(phrases) == 5
    assert count_ahead(result, 0, 100) == (5, True)
    fresh = lambda q="大衣服": selectors.search(company.auditor, selectors.SearchFilters(q=q))  # noqa: E731
    assert fresh().exists() and fresh()[4:].exists()
    assert not fresh()[5:].exists() and not fresh("大衣服装").exists()


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite opens every candidate")
def test_the_newest_hits_when_the_first_bands_hold_enough(company, phrases, monkeypatch):
    monkeypatch.setattr(selectors, "HITS_CAP", 1)  # two hits wanted: the day's and the week's
    result = selectors.search(company.auditor, selectors.SearchFilters(q="大衣服"))
    assert getattr(result, "_known_count") == (2, False)
    with CaptureQueriesContext(connection) as queries:
        assert [m.pk for m in result[:2]] == phrases[:2]
    assert len(queries) == 1, "the candidates were read once, for the count; the page is one query"
    # a page further on reads further
    assert [m.pk for m in result[3:5]] == phrases[3:5]
    assert count_ahead(result, 3, 100) == (5, True)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite opens every candidate")
@pytest.mark.parametrize("cap", [1, 3, 6, 9])
def test_no_more_than_the_cap_are_opened_and_those_newest_first(company, phrases, monkeypatch, cap):
    monkeypatch.setattr(selectors, "CONFIRM_CAP", cap)
    pks, result = found(company.auditor)
    # the candidates alternate hit, miss newest first: the newest `cap` of them hold this many
    assert pks == phrases[: (cap + 1) // 2]
    assert getattr(result, "_known_count") == ((cap + 1) // 2, False)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the bands are PostgreSQL's")
def test_a_search_bounded_in_time_reads_no_band_past_its_bounds(company, phrases):
    f = selectors.SearchFilters(q="大衣服", since=timezone.now() - timedelta(days=20), until=timezone.now() - timedelta(days=1))
    result = selectors.search(company.auditor, f)
    assert [m.pk for m in result] == phrases[1:3]
    assert getattr(result, "_known_count") == (2, True)
