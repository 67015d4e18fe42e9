"""Pages of console lists: the page number read once, here, and a list counted only as far as a
pager needs.

An exact COUNT of a filtered list at a million rows costs more than the page itself (every
matching row is read; with a tag filter, every link of the tag is hashed). A pager needs the
total only near where the reader is: so the rows are counted up to `ahead` past the page's
start, and beyond that the list says "more than N".
"""

from functools import cached_property

from django.core.paginator import Page, Paginator
from django.db.models import QuerySet

AHEAD = 1_000  # rows counted past a page's start
# The deepest row a page may start at: the API's bound too (custos.api.pagination.MAX_OFFSET).
# A page number from the address is an offset the database must take as a 64-bit integer, and
# start + ahead must stay one as well, far past any list a person pages through.
MAX_OFFSET = 10**9


def max_page(per_page: int) -> int:
    return MAX_OFFSET // per_page + 1


def page_number(value, per_page: int, default: int = 1) -> int:
    """The page a query string asked for, as a number every database can take.

    Nothing given: `default`. Anything that is not a plain decimal number (negative, "1e9",
    "²", which str.isdigit() accepts and int() refuses, text) is the first page; a number past
    the deepest page is the deepest page, which the paginator turns into the last one there is.
    """
    text = "" if value is None else str(value).strip()
    if not text:
        return default
    if not text.isascii() or not text.isdigit():
        return 1
    if len(text) > 12:
        return max_page(per_page)  # past any end, and not worth int() (4,300 digits raise)
    return min(max(int(text), 1), max_page(per_page))


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

    def __init__(self, object_list, per_page, number: int, ahead: int | None = None):
        super().__init__(object_list, per_page)
        self._start = (number - 1) * self.per_page
        # Past the page by one at least: "more than" then always leaves a next page to go to.
        self._ahead = max(AHEAD if ahead is None else ahead, self.per_page + 1)
        self.exact = True

    @cached_property
    def count(self):
        counted, self.exact = count_ahead(self.object_list, self._start, self._ahead)
        return counted


def page_ahead(object_list, per_page: int, number, ahead: int | None = None) -> Page:
    """The page `number` (as the query string gave it) of an AheadPaginator: past the end, the
    last page."""
    number = page_number(number, per_page)
    return AheadPaginator(object_list, per_page, number, ahead).get_page(number)


def page_of(object_list, per_page: int, number, *, last_by_default: bool = False) -> Page:
    """The page `number` (as the query string gave it) of a list counted in full; past the end,
    the last page. last_by_default: a list read from its end (a chat opens on its newest)."""
    number = page_number(number, per_page, default=max_page(per_page) if last_by_default else 1)
    return Paginator(object_list, per_page).get_page(number)
