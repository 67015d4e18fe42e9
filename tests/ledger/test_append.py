"""Appending: seqs without gaps, idempotency by (source, source_id), one transaction per batch."""

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, connection

from custos.core.canonical import canonical_json
from custos.core.errors import InvalidInput
from custos.ledger import hashing, projections
from custos.ledger.models import Entry, LedgerState
from custos.ledger.services import Event, append, append_batch
from custos.ledger.verify import verify


def seqs():
    return list(Entry.objects.order_by("seq").values_list("seq", flat=True))


def test_seqs_start_at_zero_and_leave_no_gap(db):
    first = append_batch([Event("test.a", {"n": i}) for i in range(3)])
    one = append("test.b", {"x": "y"}, actor_id=7, unit_id=3, customer_id=11, source="console")
    assert [a.entry.seq for a in first] == [0, 1, 2]
    assert one.seq == 3
    assert seqs() == [0, 1, 2, 3]
    assert LedgerState.objects.get(pk=1).size == 4


def test_entry_returned_is_the_stored_row(db):
    occurred = datetime(2025, 3, 1, 8, 30, 15, 123456, tzinfo=UTC)
    entry = append(
        "chat.sent",
        {"text": "客户你好", "n": 1},
        actor_id=5,
        unit_id=2,
        source="wecom",
        source_id="m1",
        occurred_at=occurred,
    )
    stored = Entry.objects.get(seq=entry.seq)
    for field in (
        "kind",
        "occurred_at",
        "recorded_at",
        "actor_id",
        "unit_id",
        "customer_id",
        "source",
        "source_id",
        "payload",
        "payload_hash",
    ):
        assert getattr(stored, field) == getattr(entry, field), field
    assert bytes(stored.leaf_hash) == entry.leaf_hash == hashing.entry_leaf_hash(stored)
    assert stored.occurred_at == occurred
    assert stored.payload == '{"n":1,"text":"客户你好"}'  # canonical JSON: sorted keys, no spaces, UTF-8
    assert not entry._state.adding  # a saved row, not one to insert again


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"b": 1, "a": [1, 2.5, None, True]},
        {"文本": "客户\n你好\u0000", "嵌套": {"z": {"y": -0.0, "x": 1e300}}},
        {"s": '"\\/'},
    ],
)
def test_payload_is_stored_as_core_canonical_json(db, payload):
    entry = append("test.json", payload)
    assert Entry.objects.get(seq=entry.seq).payload.encode() == canonical_json(payload)
    assert entry.payload_hash == hashing.payload_hash(canonical_json(payload))


def test_append_is_idempotent_by_source(db):
    first = append_batch(
        [Event("test.a", {"x": 1}, source="t", source_id="1"), Event("test.b", {}, source="t", source_id="2")]
    )
    again = append_batch([Event("test.a", {"x": 1}, source="t", source_id="1")])
    assert [r.duplicate for r in first] == [False, False]
    assert again[0].duplicate and again[0].entry.seq == first[0].entry.seq
    assert seqs() == [0, 1]


def test_duplicates_are_reported_in_place_within_and_across_batches(db):
    append_batch([Event("test.a", {"v": "old"}, source="wecom", source_id="m1")])
    results = append_batch(
        [
            Event("test.a", {"v": "new"}, source="wecom", source_id="m2"),
            Event("test.a", {"v": "changed"}, source="wecom", source_id="m1"),  # seen in an earlier batch
            Event("test.a", {"v": "again"}, source="wecom", source_id="m2"),  # seen earlier in this batch
            Event("test.a", {"v": "other source"}, source="phone", source_id="m1"),  # same id, other source
        ]
    )
    assert [r.duplicate for r in results] == [False, True, True, False]
    assert [r.entry.seq for r in results] == [1, 0, 1, 2]
    assert results[1].entry.payload == '{"v":"old"}'  # the duplicate gets the entry already there
    assert seqs() == [0, 1, 2]


def test_source_id_is_generated_when_missing(db):
    a, b = append("test.a"), append("test.a")
    assert a.source_id and b.source_id and a.source_id != b.source_id


def test_a_bad_event_mid_batch_leaves_nothing(db):
    append("test.before")
    events = [Event("test.a", {"i": i}, source="t", source_id=str(i)) for i in range(100)]
    events[50] = Event("test.a", {"bad": float("nan")}, source="t", source_id="50")  # not JSON
    with pytest.raises(ValueError):
        append_batch(events)
    events[50] = Event("x" * 65, {}, source="t", source_id="50")
    with pytest.raises(InvalidInput):
        append_batch(events)
    assert seqs() == [0]
    assert LedgerState.objects.get(pk=1).size == 1


def test_a_database_error_mid_insert_rolls_the_batch_back(db):
    append("test.before")
    stray = Entry.objects.get(seq=0)
    with connection.cursor() as cursor:  # a row slipped in ahead of the log (INSERT is not refused)
        cursor.execute(
            "INSERT INTO ledger_entry (seq, kind, occurred_at, recorded_at, source, source_id, payload, payload_hash, leaf_hash)"
            " VALUES (151, 'stray', %s, %s, 'stray', 'x', '{}', 'x', %s)",
            [connection.ops.adapt_datetimefield_value(stray.occurred_at)] * 2 + [b"\x00" * 32],
        )
    events = [Event("test.a", {"i": i}, source="t", source_id=str(i)) for i in range(300)]
    with pytest.raises(IntegrityError):  # at the 151st row
        append_batch(events)
    assert seqs() == [0, 151]
    assert LedgerState.objects.get(pk=1).size == 1


@pytest.mark.parametrize("field", ["actor_id", "unit_id", "customer_id"])
@pytest.mark.parametrize("value", [2**63, "7", 1.5])
def test_ids_must_be_64_bit_integers(db, field, value):
    events = [Event("test.a", {"i": i}) for i in range(10)]
    setattr(events[5], field, value)
    with pytest.raises(InvalidInput):
        append_batch(events)
    assert seqs() == []


def test_a_failing_projection_rolls_the_batch_back(db):
    def handle(entries):
        raise RuntimeError("projection broke")

    projections.register("broken", kinds=("test.break",), handle=handle, reset=lambda: None)
    try:
        append("test.ok")
        with pytest.raises(RuntimeError):
            append_batch([Event("test.fine", {}), Event("test.break", {}), Event("test.fine", {})])
        assert seqs() == [0]
        assert append("test.ok").seq == 1
    finally:
        projections._registry.pop("broken")


def test_batches_crossing_blocks_store_the_nodes_they_complete(db):
    append_batch([Event("test.a", {"i": i}) for i in range(200)])
    append_batch([Event("test.a", {"i": i}) for i in range(200, 800)])
    with connection.cursor() as cursor:
        cursor.execute('SELECT level, "index" FROM ledger_node ORDER BY level, "index"')
        assert cursor.fetchall() == [(8, 0), (8, 1), (8, 2), (9, 0)]
    assert verify().size == 800
