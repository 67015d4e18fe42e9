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

from collections.abc import Callable, Iterator
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



class NewestKept(QuerySet):
    """The rows of candidates (a QuerySet) that a check on the opened rows keeps, in ORDER.

    A slice, a count and a list read the candidates band of time by band, newest first (kept()),
    as far as they need and no further than `cap` candidates opened; what was read is shared by
    the clones (a pager's count, then its page)."""

    kept_by = None  # (candidates, columns, keep, cap, since, until, {"pks": [...], "state": str}: what was read)

    def _clone(self):
        clone = super()._clone()
        clone.kept_by = self.kept_by
        return clone

    def kept(self, wanted: int | None) -> tuple[list, str]:
        """The pks of the newest `wanted` rows kept (None: as many as the cap allows), and how far
        the candidates were read: "all", "cap" or "wanted" (there may be more)."""
        candidates, columns, keep, cap, since, until, read = self.kept_by
        if "pks" not in read or (read["state"] == "wanted" and (wanted is None or wanted > len(read["pks"]))):
            read["pks"], read["state"] = newest_kept(
                candidates, columns, keep, wanted=wanted, cap=cap, since=since, until=until
            )
        return read["pks"][:wanted], read["state"]

    def _page(self) -> list:
        low, high = self.query.low_mark, self.query.high_mark
        return self.kept(high)[0][low:high]

    def _fetch_all(self):
        if self._result_cache is None and self.kept_by is not None:
            rows = self._chain()
            rows.kept_by = None
            rows.query.clear_limits()
            self._result_cache = list(rows.filter(pk__in=self._page()))
        super()._fetch_all()

    def count(self) -> int:
        if self._result_cache is not None or self.kept_by is None:
            return super().count()
        return len(self._page())

    def exists(self) -> bool:
        if self._result_cache is not None or self.kept_by is None:
            return super().exists()
        low, high = self.query.low_mark, self.query.high_mark
        return len(self.kept(low + 1 if high is None else min(high, low + 1))[0]) > low


def kept_newest_first(queryset, candidates, columns, keep, *, cap, since, until) -> NewestKept:
    """queryset (whose rows are shown) limited to the rows of candidates that keep keeps, read as
    columns (the pk first): see NewestKept."""
    kept = NewestKept(model=queryset.model, query=queryset.query.chain(), using=queryset.db, hints=queryset._hints)
    kept = kept.order_by(*ORDER)
    kept.kept_by = (candidates, columns, keep, cap, since, until, {})
    return kept


def newest_kept(
    queryset: QuerySet,
    columns: tuple[str, ...],
    keep: Callable[[tuple], bool],
    *,
    wanted: int | None,
    cap: int,
    since: datetime | None,
    until: datetime | None,
) -> tuple[list, str]:
    """The pks (the first of `columns`) of the newest rows of queryset that `keep` keeps, read as
    `columns` band of time by band, newest first: the last day, the six before it, and so on as
    SPANS go, then the rest; at most `cap` rows in all, and no further once `wanted` are kept.
    With how far they were read: "all" (the pks are all there are), "cap" or "wanted".

    For a phrase confirmed on opened rows (a sealed text): sorting all of a common phrase's
    candidates to open the newest read every one of them (200,000 rows at 10M messages); a band
    of time holds a few hundred. Exact in the same way as the windows above: every row of a band
    comes before every row of the next, so the rows kept are the newest that hold."""
    end = until or timezone.now()
    lowers: list[datetime | None] = [end - span for span in SPANS if since is None or end - span > since]
    lowers.append(since)  # the search's own start, or the beginning
    kept: list = []
    opened, upper = 0, None
    with planner():
        for lower in lowers:
            band = queryset.order_by(*ORDER)
            if upper is not None:
                band = band.filter(occurred_at__lt=upper)
            if lower is not None:
                band = band.filter(occurred_at__gte=lower)
            rows = list(band.values_list(*columns)[: cap - opened])
            opened += len(rows)
            kept += [row[0] for row in rows if keep(row)]
            if wanted is not None and len(kept) >= wanted:
                return kept, "wanted"
            if opened >= cap:
                return kept, "cap"
            upper = lower
    return kept, "all"
