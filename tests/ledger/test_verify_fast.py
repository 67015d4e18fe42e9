"""On PostgreSQL verify lets the server check each chunk of entries first: it gives the very leaves
the row-by-row check gives, or steps aside (None) for the row-by-row check to name what is wrong."""

import pytest
from django.db import connection

from custos.ledger import scan
from custos.ledger.services import Event, append_batch, redact
from tests.ledger.conftest import dba, fill

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the server's own check is PostgreSQL's (SQLite reads rows)"
)


def row_by_row(lo: int, hi: int, covered=frozenset()) -> list[bytes]:
    return scan.check_laid_out(scan._fetch(connection, lo, hi), lo, set(covered))


def fast(lo: int, hi: int):
    """The path verify takes first on PostgreSQL: the server's own check."""
    return scan.check_checked(scan._fetch_checked(connection, lo, hi), lo, hi)


def stored_leaves(lo, hi):
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT leaf_hash FROM ledger_entry WHERE seq >= %s AND seq < %s ORDER BY seq", [lo, hi]
        )
        return [bytes(row[0]) for row in cursor.fetchall()]


def test_the_fast_path_gives_the_leaves_of_the_row_by_row_check(db):
    fill(700)
    append_batch(
        [
            Event("test.text", {"t": "大衣 驼色 🧥", "n": i}, source="utf8", source_id=f"长-{i}")
            for i in range(30)
        ]
    )
    append_batch(
        [
            Event("test.ids", {"n": i}, source="ids", source_id=str(i), **dict.fromkeys(present, 10**12 + i))
            for i, present in enumerate(
                [("actor_id",), ("unit_id",), ("customer_id",), ("actor_id", "unit_id", "customer_id")]
            )
        ]
    )
    leaves = row_by_row(0, 734)
    assert leaves == stored_leaves(0, 734)
    assert fast(0, 734) == leaves
    assert fast(100, 612) == leaves[100:612]


@pytest.mark.parametrize(
    "tamper",
    [
        "UPDATE ledger_entry SET kind = 'test.other' WHERE seq = 7",
        "UPDATE ledger_entry SET occurred_at = '2001-02-03 04:05:06' WHERE seq = 9",
        "UPDATE ledger_entry SET payload_hash = upper(payload_hash) WHERE seq = 11",
        "UPDATE ledger_entry SET leaf_hash = decode(repeat('00', 32), 'hex') WHERE seq = 13",
        "UPDATE ledger_entry SET leaf_hash = substr(leaf_hash, 2) WHERE seq = 13",
        "UPDATE ledger_entry SET source_id = 'x' || source_id WHERE seq = 14",
        "DELETE FROM ledger_entry WHERE seq = 15",
        "UPDATE ledger_entry SET seq = 1000 WHERE seq = 299",
    ],
)
def test_the_fast_path_steps_aside_when_anything_is_wrong(db, tamper):
    fill(300)
    assert fast(0, 300) is not None
    with dba() as cursor:
        cursor.execute(tamper)
    assert fast(0, 300) is None
    try:
        leaves = row_by_row(0, 300)
    except scan.Problem:
        return
    assert len(leaves) < 300  # the last entry gone: check_range names it missing


def test_payloads_are_opened_and_hashed_beside_the_servers_check(db):
    """Payloads are sealed at rest, so the server checks the leaves only; each chunk's payloads are
    then opened and hashed here (scan.check_payloads), which names a changed one."""
    fill(300)
    with dba() as cursor:
        cursor.execute("""UPDATE ledger_entry SET payload = '{"i":6}' WHERE seq = 5""")
    assert fast(0, 300) is not None  # the leaves are sound
    with pytest.raises(scan.Problem, match="entry 5: payload does not match its payload_hash"):
        scan.check_range(connection.alias, 0, 300, 300, set(), [])


def test_a_redacted_payload_is_left_to_the_row_by_row_check(db):
    fill(40)
    redact([3], reason="retention")
    size = 41  # the redaction is an entry of its own
    assert fast(0, size) is None
    assert row_by_row(0, size, covered={3}) == stored_leaves(0, size)


def test_microseconds_in_double_precision_are_exact_where_they_are_used(db):
    """date_part()'s double gives back every microsecond between 1900 and 2040, checked against
    extract()'s numeric on two hundred thousand timestamps from all over that span and its edges."""
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH t AS ("
            " SELECT timestamptz '1900-01-01 00:00:00.000001+00'"
            "  + (random() * (timestamptz '2039-12-31 23:59:59.999999+00' - timestamptz '1900-01-01+00')) AS ts"
            " FROM generate_series(1, 200000)"
            " UNION ALL SELECT timestamptz '2039-12-31 23:59:59.999999+00' - n * interval '1 microsecond'"
            " FROM generate_series(0, 999) AS n"
            " UNION ALL SELECT timestamptz '1900-01-01 00:00:00.000001+00' + n * interval '1 microsecond'"
            " FROM generate_series(0, 999) AS n"
            " UNION ALL SELECT timestamptz '1970-01-01+00' + n * interval '1 microsecond' FROM generate_series(-999, 999) AS n"
            ") SELECT count(*), count(*) FILTER (WHERE "
            + scan._MICROS.format(ts="ts")
            + " <> (extract(epoch FROM ts) * 1000000)::int8) FROM t"
        )
        assert cursor.fetchone() == (203999, 0)
        # and outside those years the numeric branch is taken, exact as ever
        cursor.execute(
            "SELECT "
            + scan._MICROS.format(ts="ts")
            + " FROM (VALUES (timestamptz '1800-01-01 00:00:00.000001+00'),"
            " (timestamptz '2200-06-30 12:00:00.999999+00')) AS v(ts)"
        )
        assert [row[0] for row in cursor.fetchall()] == [-5364662399999999, 7273713600999999]
