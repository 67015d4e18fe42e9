"""The pager's page number and the filters' ids and days: hostile text in, a value a database
takes (or none) out."""

import pytest

from custos.core import paging, query


@pytest.mark.parametrize(
    "raw,expected",
    [
        (None, 1), ("", 1), ("  ", 1), ("1", 1), (" 2 ", 2), ("7", 7), ("0", 1), ("-1", 1), ("-99999999999999999999", 1),
        ("1e9", 1), ("0x10", 1), ("+3", 1), ("3_0", 1), ("²", 1), ("١٢", 1), ("abc", 1), ("9" * 5000, "max"),
        ("9223372036854775807", "max"), ("99999999999999999999", "max"), ("40000001", "max"), ("40000000", 40000000),
    ],
)  # fmt: skip
def test_page_number(raw, expected):
    top = paging.max_page(25)
    assert top == 40_000_001 and (top - 1) * 25 == paging.MAX_OFFSET
    assert paging.page_number(raw, 25) == (top if expected == "max" else expected)


def test_page_number_default_and_the_offset_every_database_takes():
    assert paging.page_number(None, 200, default=paging.max_page(200)) == paging.max_page(200)
    for per_page in (1, 25, 200):
        start = (paging.page_number("9" * 30, per_page) - 1) * per_page
        assert start + paging.AHEAD + per_page < 2**63


@pytest.mark.parametrize(
    "raw,expected",
    [("12", 12), (" 12 ", 12), ("0", None), ("-3", None), ("²", None), ("١٢", None), ("1.0", None), ("", None),
     (None, None), (str(2**63 - 1), 2**63 - 1), (str(2**63), None), ("9" * 400, None)],
)  # fmt: skip
def test_id_or_none(raw, expected):
    assert query.id_or_none(raw) == expected


def test_whole_or_none_keeps_zero():
    assert query.whole_or_none("0") == 0 and query.id_or_none("0") is None


@pytest.mark.parametrize("raw", ["2024-02-30", "0000-00-00", "2024-13-01", "20240101", "2024-1-1", "x" * 10, "", None, "²" * 10])
def test_day_that_does_not_exist_is_none(raw):
    assert query.date_or_none(raw) is None and query.day_bound(raw) is None


def test_days_at_the_edges_of_the_calendar():
    assert query.day_bound("2024-02-29").isoformat().startswith("2024-02-29T00:00:00")
    assert query.day_bound("2024-02-29", end=True).isoformat().startswith("2024-02-29T23:59:59.999999")
    assert query.day_bound("0001-01-01") is None  # before year 1 once in UTC (the console runs in UTC+8)
    assert query.day_bound("9999-12-31", end=True) is not None
