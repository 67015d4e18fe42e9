"""Bulk appends keep the planner's picture of the ledger current (PostgreSQL): without it, a
source that was rare when the table was last analyzed is taken for a handful of rows, and the
duplicate check walks every entry of it (bench.pool)."""

import json

import pytest
from django.db import connection

from custos.ledger import services
from custos.ledger.services import Event, append_batch

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="planner statistics and ANALYZE are PostgreSQL's"
)


def _estimated_rows(source: str) -> float:
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (FORMAT JSON) SELECT seq FROM ledger_entry WHERE source = %s", [source])
        plan = cursor.fetchone()[0]
    plan = json.loads(plan) if isinstance(plan, str) else plan
    return plan[0]["Plan"]["Plan Rows"]


def _events(n: int, start: int) -> list[Event]:
    return [Event(kind="test.bulk", payload={"i": i}, source="bulk", source_id=f"b:{i}") for i in range(start, start + n)]


@pytest.mark.django_db(transaction=True)
def test_the_ledger_is_analyzed_once_bulk_appends_outgrow_its_statistics(monkeypatch):
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE ledger_entry")
    monkeypatch.setattr(services, "ANALYZE_AFTER", 300)
    monkeypatch.setitem(services._grown, "rows", 0)
    monkeypatch.setitem(services._grown, "floor", 300)
    append_batch(_events(200, 0))
    assert _estimated_rows("bulk") < 20  # not analyzed yet: the source is unknown to the planner
    append_batch(_events(200, 200))
    assert _estimated_rows("bulk") > 300
    # the next analysis waits for the table to grow by half again
    assert services._grown == {"rows": 0, "floor": 300}
    # duplicates are still found after it
    again = append_batch(_events(50, 380))
    assert [a.duplicate for a in again] == [True] * 20 + [False] * 30
