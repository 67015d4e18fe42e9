"""Limit/offset pagination with bounds, so a client cannot ask for an offset the database
cannot represent or a page that loads the whole table."""

from typing import Any

from ninja import Field, Schema
from ninja.pagination import LimitOffsetPagination

from custos.core import paging

MAX_LIMIT = 500
MAX_OFFSET = paging.MAX_OFFSET
COUNT_CAP = 1_000


class Page(LimitOffsetPagination):
    class Input(Schema):
        limit: int = Field(50, ge=1, le=MAX_LIMIT, description=f"items per page, at most {MAX_LIMIT}")
        offset: int = Field(0, ge=0, le=MAX_OFFSET)

    def __init__(self, **kwargs):
        super().__init__(max_limit=MAX_LIMIT, **kwargs)


class CountAheadPage(Page):
    """A page whose total is counted only up to COUNT_CAP rows past its offset (core.paging).

    Counting every row of a large list on every page costs more than the page (100-400 ms at a
    million customers, seconds for a common word among ten million messages); a list needs to
    know "more than a thousand", not the exact figure, and the filters narrow it from there.
    """

    class Output(Schema):
        items: list[Any]
        count: int = Field(..., description=f"how many match, counted up to {COUNT_CAP:,} past `offset` (an archive search: 300)")
        count_exact: bool = Field(..., description="false when more than `count` match")

    def cap(self) -> int:
        return COUNT_CAP

    def page_items(self, queryset, offset: int, limit: int) -> list:
        return list(queryset[offset : offset + limit])

    def paginate_queryset(self, queryset, pagination, request, **params):
        offset = pagination.offset
        limit = min(pagination.limit, self.max_limit)
        items = self.page_items(queryset, offset, limit)
        if len(items) < limit and (items or offset == 0):
            count, exact = offset + len(items), True  # the last page says the total
        else:
            count, exact = paging.count_ahead(queryset, offset, max(self.cap(), limit))
        return {"items": items, "count": count, "count_exact": exact}
