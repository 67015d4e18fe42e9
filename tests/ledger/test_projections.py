"""Projections: fed inside the append transaction, rebuilt from the whole ledger on demand.

The projection here keeps its read model in a real table made for the test, so what a rollback
does to it is what the database does.
"""

import json

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from custos.core.errors import NotFound
from custos.ledger import projections
from custos.ledger.services import Event, append, append_batch

handled_batches: list[int] = []


def handle(entries):
    handled_batches.append(len(entries))
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO test_greeting (seq, who) VALUES (%s, %s)",
            [(e.seq, json.loads(e.payload)["who"]) for e in entries],
        )


def reset():
    with connection.cursor() as cursor:
        cursor.execute("DELETE FROM test_greeting")


def read_model() -> list[tuple[int, str]]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT seq, who FROM test_greeting ORDER BY seq")
        return [tuple(row) for row in cursor.fetchall()]


@pytest.fixture
def greetings(db):
    with connection.cursor() as cursor:
        cursor.execute("CREATE TABLE test_greeting (seq bigint PRIMARY KEY, who varchar(20) NOT NULL)")
    handled_batches.clear()
    projections.register("greetings", kinds=("greet.",), handle=handle, reset=reset)
    yield
    projections._registry.pop("greetings")


def test_projection_is_fed_only_the_kinds_it_wants_as_they_are_appended(greetings):
    append_batch(
        [Event("greet.hello", {"who": "a"}), Event("other.x", {"who": "z"}), Event("greet.bye", {"who": "a"})]
    )
    append("greet.hello", {"who": "b"})
    assert read_model() == [(0, "a"), (2, "a"), (3, "b")]


def test_rebuild_resets_and_replays_in_seq_order_in_batches(greetings):
    append_batch([Event("greet.hi" if i % 3 else "noise.x", {"who": f"p{i % 4}"}) for i in range(2500)])
    expected = read_model()
    assert len(expected) == 1666
    with connection.cursor() as cursor:  # the read model drifted, or was lost
        cursor.execute("DELETE FROM test_greeting WHERE seq < 1000")
        cursor.execute("INSERT INTO test_greeting (seq, who) VALUES (99999, 'stale')")
    handled_batches.clear()

    assert projections.rebuild("greetings", batch_size=700) == 1666
    assert read_model() == expected
    assert handled_batches == [700, 700, 266]


def test_a_failed_rebuild_leaves_the_read_model_as_it_was(greetings):
    append_batch([Event("greet.hi", {"who": f"p{i}"}) for i in range(30)])
    before = read_model()

    def failing(entries):
        handle(entries)  # writes some rows, then...
        raise RuntimeError("a bad entry")

    projections._registry["greetings"].handle = failing
    with pytest.raises(RuntimeError):
        projections.rebuild("greetings", batch_size=10)
    assert read_model() == before  # the reset and the first rows were rolled back


def test_rebuild_through_the_command(greetings, capsys):
    append_batch([Event("greet.hi", {"who": "a"}), Event("greet.hi", {"who": "b"})])
    reset()
    call_command("ledger", "rebuild", "greetings")
    assert capsys.readouterr().out.strip() == "projection greetings rebuilt from 2 entries"
    assert read_model() == [(0, "a"), (1, "b")]
    with pytest.raises(CommandError, match="no projection named 'nope' \\(known: .*greetings"):
        call_command("ledger", "rebuild", "nope")
    with pytest.raises(NotFound):
        projections.rebuild("nope")
