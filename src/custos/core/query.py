"""Values of a console page's query string, read the one way every page reads them.

A filter is a suggestion, never an error: a value that is no id or no date is dropped, as if the
field were left empty, and the page shows the list unfiltered by it. What reaches a query is
always something the database takes (a 63-bit integer, a real date).
"""

from datetime import UTC, date, datetime, time

from django.utils import timezone

MAX_ID = 2**63 - 1


def whole_or_none(value) -> int | None:
    """A whole number from 0 that a 64-bit column takes, or None: ASCII digits only
    (str.isdigit() accepts "²", which int() refuses, and "١٢", which no one typed as a number)."""
    text = "" if value is None else str(value).strip()
    if not text or len(text) > 19 or not text.isascii() or not text.isdigit():
        return None
    number = int(text)
    return number if number <= MAX_ID else None


def id_or_none(value) -> int | None:
    """A database id (from 1), or None."""
    number = whole_or_none(value)
    return number if number else None


def date_or_none(value) -> date | None:
    """A calendar day written YYYY-MM-DD, or None (for "2024-02-30" too, which Django's
    parse_date refuses with an exception rather than None)."""
    text = "" if value is None else str(value).strip()
    if len(text) != 10:
        return None
    try:
        return datetime.strptime(text, "%Y-%m-%d").date()
    except ValueError:
        return None


def day_bound(value, *, end: bool = False) -> datetime | None:
    """The first (or, with end, the last) moment of the day a query string names, or None."""
    day = date_or_none(value)
    if day is None:
        return None
    try:
        moment = timezone.make_aware(datetime.combine(day, time.max if end else time.min))
        moment.astimezone(UTC)  # the database stores UTC: 0001-01-01 in UTC+8 falls before year 1
    except (OverflowError, ValueError):
        return None
    return moment
