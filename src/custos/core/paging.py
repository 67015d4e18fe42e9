"""Counting a list only as far as a pager needs.

An exact COUNT of a filtered list at a million rows costs more than the page itself (every
matching row is read; with a tag filter, every link of the tag is hashed). A pager needs the
total only near where the reader is: so the rows are counted up to `ahead` past the page's
start, and beyond that the list says "more than N".
"""

from functools import cached_property

from django.core.paginator import Paginator
from django.db.models import QuerySet

AHEAD = 1_000  # rows counted past a page's start


def known_count(queryset: QuerySet, count: int, *, exact: bool) -> QuerySet:
    """Mark a queryset whose selector already knows how many rows it has (exact), or that it has
    at least `count`, so that count_ahead need not count them again."""
    queryset._known_count = (count, exact)
    return queryset


def count_ahead(queryset: QuerySet, start: int, ahead: int | None = None) -> tuple[int, bool]:
    """(rows counted, whether that is all of them): at most start + ahead rows are counted."""
    limit = start + (AHEAD if ahead is None else ahead)
    known, exact = getattr(queryset, "_known_count", (0, False))
    if exact:
        return min(known, limit), known <= limit
    if known > limit:
        return limit, False
    seen = queryset.order_by().values("pk")[: limit + 1].count()
    return min(seen, limit), seen <= limit


class AheadPaginator(Paginator):
    """A Paginator whose count stops `ahead` rows past the page asked for.

    `exact` says whether `count` is the total; when it is not, Next still leads on, and the
    page asked for can always be reached.
    """

    def __init__(self, object_list, per_page, number, ahead: int | None = None):
        super().__init__(object_list, per_page)
        try:
            page = max(int(number), 1)
        except (TypeError, ValueError):
            page = 1
        self._start = (page - 1) * self.per_page
        # Past the page by one at least: "more than" then always leaves a next page to go to.
        self._ahead = max(AHEAD if ahead is None else ahead, self.per_page + 1)
        self.exact = True

    @cached_property
    def count(self):
        counted, self.exact = count_ahead(self.object_list, self._start, self._ahead)
        return counted


def page_ahead(object_list, per_page: int, number, ahead: int | None = None):
    """The page `number` (as the query string gave it) of an AheadPaginator."""
    return AheadPaginator(object_list, per_page, number, ahead).get_page(number)
