"""Monthly partitions of ledger_entry and archive_message on PostgreSQL (custos.core.partitioning)."""

from datetime import UTC, datetime
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from custos.core import partitioning
from custos.ledger import merkle, tree, triggers
from custos.ledger.models import Entry
from custos.ledger.services import Event, append_batch
from tests.ledger.conftest import fill

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="declarative partitioning is PostgreSQL's; SQLite keeps plain tables",
)

MONTHS = [
    datetime(2026, 9, 15, tzinfo=UTC),
    datetime(2026, 10, 15, tzinfo=UTC),
    datetime(2026, 11, 15, tzinfo=UTC),
]


def _where(table, column, value) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {table} WHERE {column} = %s", [value])
        return cursor.fetchone()[0]


def _append_in(month: datetime, n: int, start: int):
    with mock.patch("custos.ledger.services.timezone.now", return_value=month):
        return fill(n, start=start)


def _three_months():
    partitioning.ensure_ahead(connection, ahead=0, now=MONTHS[0])
    partitioning.ensure_ahead(connection, ahead=0, now=MONTHS[1])
    entries = []
    for i, month in enumerate(MONTHS):  # November's rows go to the default partition at first
        entries += _append_in(month, 120, start=i * 120)
    return entries


def test_both_tables_are_partitioned_with_a_default(db):
    with connection.cursor() as cursor:
        for table in ("ledger_entry", "archive_message"):
            assert partitioning.is_partitioned(cursor, table)
            assert f"{table}_default" in partitioning.partitions(cursor, table)
            cursor.execute("SELECT count(*) FROM pg_inherits WHERE inhparent = %s::regclass", [table])
            assert cursor.fetchone()[0] >= 2


def test_entries_land_in_their_month_and_the_default_catches_the_rest(db):
    entries = _three_months()
    assert _where("ledger_entry", "seq", entries[0].seq) == "ledger_entry_y2026m09"
    assert _where("ledger_entry", "seq", entries[130].seq) == "ledger_entry_y2026m10"
    assert _where("ledger_entry", "seq", entries[250].seq) == "ledger_entry_default"
    created = partitioning.ensure_ahead(connection, ahead=0, now=MONTHS[2])  # moves them out
    assert created == ["ledger_entry_y2026m11", "archive_message_y2026m11"]
    assert _where("ledger_entry", "seq", entries[250].seq) == "ledger_entry_y2026m11"
    assert Entry.objects.count() == 360
    # Moved rows keep their keys: the same source id again is still a duplicate.
    again = append_batch([Event("test.item", {"i": 250}, source="fill", source_id="250")])[0]
    assert again.duplicate and again.seq == entries[250].seq


def test_ahead_job_is_idempotent(db):
    now = timezone.now()
    partitioning.ensure_ahead(connection, ahead=3, now=now)
    with connection.cursor() as cursor:
        before = partitioning.partitions(cursor, "ledger_entry")
    assert partitioning.ensure_ahead(connection, ahead=3, now=now) == []
    call_command("partition", "ahead", "--months", "3")
    with connection.cursor() as cursor:
        assert partitioning.partitions(cursor, "ledger_entry") == before
    y, m = now.astimezone(UTC).year, now.astimezone(UTC).month
    for _ in range(3):
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    assert partitioning.partition_name("ledger_entry", y, m) in before


def test_append_only_triggers_still_refuse_update_and_delete(db):
    entries = _three_months()
    for sql in (
        "UPDATE ledger_entry SET kind = 'forged' WHERE seq = %s",
        "DELETE FROM ledger_entry WHERE seq = %s",
        "UPDATE ledger_entry_y2026m10 SET kind = 'forged' WHERE seq = %s",  # a partition directly
        "DELETE FROM ledger_entry_default WHERE seq = %s",
    ):
        with (
            pytest.raises(DatabaseError, match="append-only"),
            transaction.atomic(),
            connection.cursor() as c,
        ):
            c.execute(sql, [entries[130].seq if "m10" in sql else entries[250].seq])
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
        c.execute("TRUNCATE ledger_entry")


def test_duplicate_source_id_refused_by_the_database_and_idempotent_in_the_app(db):
    entries = _three_months()
    again = append_batch([Event("test.item", {"i": 5}, source="fill", source_id="5")])[0]
    assert again.duplicate and again.seq == entries[5].seq
    # Past the app, a raw insert of the same pair into another month fails as the constraint did.
    row = Entry.objects.values_list().get(seq=entries[5].seq)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_entry VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [9999, row[1], row[2], MONTHS[1], *row[4:]],
        )


def test_a_second_row_with_the_same_seq_is_refused_in_another_month(db):
    entries = _three_months()
    row = Entry.objects.values_list().get(seq=entries[5].seq)
    with pytest.raises(IntegrityError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_entry VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            [row[0], row[1], row[2], MONTHS[2], *row[4:8], "other", *row[9:]],
        )


def test_tree_and_verify_unchanged_over_three_months(db, capsys):
    entries = _three_months()
    leaves = [bytes(e.leaf_hash) for e in Entry.objects.order_by("seq")]
    assert leaves == [bytes(e.leaf_hash) for e in entries]
    assert tree.root(360) == merkle.mth(leaves)
    call_command("ledger", "head")
    call_command("ledger", "verify")
    out = capsys.readouterr()
    assert "360" in out.out + out.err


def _unpartition(cursor):
    """Rebuild ledger_entry as the plain table migrations 0001-0005 made, with the same rows."""
    cursor.execute("ALTER TABLE ledger_entry RENAME TO ledger_entry_p")
    cursor.execute("CREATE TABLE ledger_entry (LIKE ledger_entry_p INCLUDING DEFAULTS)")
    cursor.execute("ALTER TABLE ledger_entry ADD PRIMARY KEY (seq)")
    cursor.execute("ALTER TABLE ledger_entry ADD CONSTRAINT ledger_entry_u UNIQUE (source, source_id)")
    cursor.execute("CREATE INDEX ledger_entry_k ON ledger_entry (kind)")
    cursor.execute("INSERT INTO ledger_entry SELECT * FROM ledger_entry_p")
    cursor.execute("ALTER TABLE ledger_entry_p DISABLE TRIGGER USER")
    cursor.execute("DROP TABLE ledger_entry_p CASCADE")
    cursor.execute("DROP TABLE ledger_entry_key")
    triggers.install(connection, [triggers.ENTRY])


def test_converting_an_existing_table_keeps_every_row_and_leaf(db, capsys):
    entries = _three_months()
    with connection.cursor() as cursor:
        _unpartition(cursor)
        assert not partitioning.is_partitioned(cursor, "ledger_entry")
    call_command("partition", "apply", "--dry-run")
    assert "would convert 360 rows" in capsys.readouterr().out
    done = partitioning.apply(connection, ahead=1, now=MONTHS[2])
    assert done == ["ledger_entry: converted 360 rows"]
    assert partitioning.apply(connection, ahead=1, now=MONTHS[2]) == []  # re-run: nothing to do
    with connection.cursor() as cursor:
        assert partitioning.is_partitioned(cursor, "ledger_entry")
    assert [(e.seq, bytes(e.leaf_hash)) for e in Entry.objects.order_by("seq")] == [
        (e.seq, bytes(e.leaf_hash)) for e in entries
    ]
    assert _where("ledger_entry", "seq", entries[250].seq) == "ledger_entry_y2026m11"
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as c:
        c.execute("DELETE FROM ledger_entry WHERE seq = 0")
    assert append_batch([Event("test.item", {}, source="fill", source_id="7")])[0].duplicate
    call_command("ledger", "verify")
