"""The many hits of a search, newest first, read one window of time at a time (PostgreSQL).

A page of the newest hits of common words, in a region manager's scope of hundreds of staff, had
no good plan: walking every message newest first until thirty hits turn up took seconds when the
words were rare in that scope (旗袍 in call notes: 4.5 million rows read), and fetching every hit
by the words' index to sort them read thousands of rows for a page of thirty. A page is instead
looked for among the newest WALK messages, walked one by one (words common in the scope are found
there at once), then through the words' index AND'ed with the last day, week, month and half
year, and only then in all time, until a window holds the whole page.

The result is the same as the plain query's, not an approximation: in this order every message
of a window (occurred_at >= its start) comes before every message outside it, so once a window
holds rows low..high of it, they are rows low..high of the whole list.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

ORDER = ("-occurred_at", "-entry_seq")
WALK = 10_000  # the newest messages walked first, for the words common in them
SPANS = (timedelta(days=1), timedelta(days=7), timedelta(days=30), timedelta(days=180))


@contextmanager
def planner(*, walks: bool = False) -> Iterator[None]:
    """Queries inside use the indexes through bitmap scans only (the words' GIN index AND'ed with
    the time's or a few staff's), or with walks=True only by walking the time index newest first.
    The settings end with the block, even inside a caller's transaction (a savepoint rolled back
    undoes SET LOCAL)."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute(f"SET LOCAL enable_{'bitmapscan' if walks else 'indexscan'} = off")
        # A common word's bitmap exact to the row, not lossy pages whose every row is rechecked.
        cursor.execute("SET LOCAL work_mem = '64MB'")
        yield
        transaction.set_rollback(True)  # nothing was written: this only ends the SET LOCALs


class NewestFirst(QuerySet):
    """A QuerySet in ORDER whose slices are read window by window (module docstring). Anything
    else (another order, a count, an open-ended slice) is an ordinary query."""

    windowed = False
    walk = False  # whether the newest messages are worth walking first (a large scope)
    since: datetime | None = None  # the search's own time bounds: no window reaches past them
    until: datetime | None = None

    def _clone(self):
        clone = super()._clone()
        clone.windowed, clone.walk, clone.since, clone.until = self.windowed, self.walk, self.since, self.until
        return clone

    def _fetch_all(self):
        query = self.query
        if (
            self._result_cache is None
            and self.windowed
            and query.high_mark is not None
            and tuple(query.order_by) == ORDER
        ):
            self._result_cache = self._read_windows(query.high_mark - query.low_mark)
        super()._fetch_all()

    def count(self) -> int:
        if not self.windowed:
            return super().count()
        with planner():  # a pager's count of a few hundred hits ahead: by the words' index too
            return super().count()

    def _read_windows(self, wanted: int) -> list:
        if wanted <= 0:
            return []
        end = self.until or timezone.now()
        newest = self._newest(WALK + wanted) if self.walk else None
        if newest is not None and (self.since is None or newest > self.since):
            with planner(walks=True):
                rows = self._window(Q(occurred_at__gte=newest))
            if len(rows) == wanted:
                return rows
        with planner():
            for span in SPANS:
                start = end - span
                if self.since is not None and start <= self.since:
                    break  # the search's own bound is the widest window
                if newest is not None and start >= newest:
                    continue  # the walk covered it
                rows = self._window(Q(occurred_at__gte=start))
                if len(rows) == wanted:
                    return rows
            return self._window(Q())

    def _newest(self, count: int) -> datetime | None:
        """When the newest `count` messages began (None: there are fewer)."""
        times = self.model.objects.order_by("-occurred_at")
        if self.until is not None:
            times = times.filter(occurred_at__lt=self.until)
        found = list(times.values_list("occurred_at", flat=True)[count - 1 : count])
        return found[0] if found else None

    def _window(self, condition: Q) -> list:
        trial = self._chain()
        trial.windowed = False
        trial._prefetch_related_lookups = ()  # done once, on the rows kept
        trial.query.add_q(condition)  # allowed on a sliced query, unlike filter()
        return list(trial)


def newest_first(queryset: QuerySet, *, walk: bool, since: datetime | None, until: datetime | None) -> NewestFirst:
    """queryset, in ORDER, read window by window; walk: first walk the newest messages (a scope
    holding a large share of them); since and until: the time bounds queryset already has."""
    windowed = NewestFirst(model=queryset.model, query=queryset.query.chain(), using=queryset.db, hints=queryset._hints)
    windowed = windowed.order_by(*ORDER)
    windowed.windowed, windowed.walk, windowed.since, windowed.until = True, walk, since, until
    return windowed
