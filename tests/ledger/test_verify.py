"""`verify` against a DBA who drops the triggers and edits the tables: each change is caught and named."""

from datetime import UTC, datetime

import pytest
from django.core.management import CommandError, call_command
from django.core.management.base import CommandParser
from django.db import connection

from custos.core import sealed
from custos.core.command import run_command
from custos.ledger import hashing, heads, services
from custos.ledger.models import PAYLOAD_SEAL, Entry, SignedHead
from custos.ledger.services import Event, append_batch
from custos.ledger.verify import Problem, verify
from tests.ledger.conftest import dba, fill

PAYLOAD_AAD = sealed.aad_of(PAYLOAD_SEAL)


def problem() -> str:
    with pytest.raises(Problem) as caught:
        verify()
    return str(caught.value)


@pytest.fixture
def log(db):
    """600 entries (nodes (8,0), (8,1), (9,0)), heads at 300 and 600, awkward timestamps among them."""
    fill(300)
    heads.sign_head()
    odd_times = [
        datetime(2025, 3, 1, 8, 30, 15, tzinfo=UTC),  # no microseconds: SQLite stores no fraction
        datetime(2025, 3, 1, 8, 30, 15, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 58, 500000, tzinfo=UTC),  # before the epoch
    ]
    append_batch(
        [
            Event("test.time", {"n": i}, source="odd", source_id=str(i), occurred_at=t)
            for i, t in enumerate(odd_times)
        ]
    )
    fill(297, start=300)
    return heads.sign_head()  # heads #1 and #2 on SQLite; PostgreSQL's ids go on across rolled back tests


def test_an_untouched_log_verifies(log):
    report = verify()
    assert (report.size, report.heads, report.nodes) == (600, 2, 3)


def test_the_empty_log_verifies(db):
    assert verify().size == 0
    heads.sign_head()
    assert verify().heads == 1


def test_one_byte_of_a_payload_changed(log):
    # Payloads are sealed at rest: this DBA holds the field key too, and seals the changed text.
    changed = Entry.objects.get(seq=5).payload.replace('"i":5,', '"i":6,')
    with dba() as cursor:
        cursor.execute(
            "UPDATE ledger_entry SET payload = %s WHERE seq = 5", [sealed.seal(changed, PAYLOAD_AAD)]
        )
    assert Entry.objects.get(seq=5).payload.startswith('{"i":6,')
    assert problem() == "entry 5: payload does not match its payload_hash"


def test_a_payload_replaced_by_clear_text(log):
    with dba() as cursor:
        cursor.execute("UPDATE ledger_entry SET payload = %s WHERE seq = 5", ['{"i":6,"text":"第5条"}'])
    assert problem() == "entry 5: payload does not match its payload_hash"


def test_a_sealed_payload_damaged_or_moved(log):
    with dba() as cursor:
        cursor.execute("SELECT payload FROM ledger_entry WHERE seq = 6")
        other = cursor.fetchone()[0]
        cursor.execute(
            "UPDATE ledger_entry SET payload = %s WHERE seq = 5",
            [other[:-2] + ("A" if other[-2] != "A" else "B") + other[-1]],
        )
    assert problem() == "entry 5: payload does not open under its field key (replaced or damaged)"
    with dba() as cursor:
        cursor.execute("UPDATE ledger_entry SET payload = %s WHERE seq = 5", [other])  # another entry's
    assert problem() == "entry 5: payload does not match its payload_hash"


def test_payloads_are_sealed_at_rest_and_the_leaf_commits_to_the_plain_text(log):
    with connection.cursor() as cursor:
        cursor.execute("SELECT payload, payload_hash FROM ledger_entry WHERE seq = 5")
        stored, digest = cursor.fetchone()
    assert stored.startswith("v1:") and "第5条" not in stored
    plain = Entry.objects.get(seq=5).payload
    assert hashing.payload_hash(plain.encode()) == digest


def test_payload_and_its_hash_changed_together(log):
    body = b'{"i":5,"text":"changed"}'
    with dba() as cursor:
        cursor.execute(
            "UPDATE ledger_entry SET payload = %s, payload_hash = %s WHERE seq = 5",
            [body.decode(), hashing.payload_hash(body)],
        )
    assert problem() == "entry 5: leaf_hash does not match its columns"


def test_a_row_deleted(log):
    with dba() as cursor:
        cursor.execute("DELETE FROM ledger_entry WHERE seq = 5")
    assert problem() == "entry 5: missing (the next entry is 6)"


def test_two_rows_swapped(log):
    with dba() as cursor:
        cursor.execute("UPDATE ledger_entry SET seq = -1 WHERE seq = 3")
        cursor.execute("UPDATE ledger_entry SET seq = 3 WHERE seq = 4")
        cursor.execute("UPDATE ledger_entry SET seq = 4 WHERE seq = -1")
    assert problem() == "entry 3: leaf_hash does not match its columns"


def test_two_rows_swapped_with_their_leaves_recomputed(log):
    with dba() as cursor:
        cursor.execute("UPDATE ledger_entry SET seq = -1 WHERE seq = 3")
        cursor.execute("UPDATE ledger_entry SET seq = 3 WHERE seq = 4")
        cursor.execute("UPDATE ledger_entry SET seq = 4 WHERE seq = -1")
        for entry in Entry.objects.filter(seq__in=[3, 4]):
            cursor.execute(
                "UPDATE ledger_entry SET leaf_hash = %s WHERE seq = %s",
                [hashing.entry_leaf_hash(entry), entry.seq],
            )
    assert problem() == "node (8, 0) does not match the entries 0..255"


def test_a_small_log_rewritten_consistently_is_caught_by_its_head(db):
    fill(20)
    head = heads.sign_head()
    with dba() as cursor:
        cursor.execute("UPDATE ledger_entry SET actor_id = 99 WHERE seq = 7")
        cursor.execute(
            "UPDATE ledger_entry SET leaf_hash = %s WHERE seq = 7",
            [hashing.entry_leaf_hash(Entry.objects.get(seq=7))],
        )
    assert problem() == f"head #{head.pk} (size 20): its root does not match the log's first 20 entries"


def test_a_timestamp_moved_by_a_microsecond(log):
    with dba() as cursor:
        entry = Entry.objects.get(seq=301)
        entry.occurred_at = entry.occurred_at.replace(microsecond=2)
        cursor.execute(
            "UPDATE ledger_entry SET occurred_at = %s WHERE seq = 301",
            [connection.ops.adapt_datetimefield_value(entry.occurred_at)],
        )
    assert problem() == "entry 301: leaf_hash does not match its columns"


def test_a_column_no_entry_could_have(log):
    if connection.vendor == "postgresql":  # the column types keep out all but this
        with dba() as cursor:
            cursor.execute("UPDATE ledger_entry SET occurred_at = 'infinity' WHERE seq = 7")
        assert problem().startswith("entries 0..599: a timestamp no entry could have")
        return
    with dba() as cursor:
        cursor.execute("UPDATE ledger_entry SET occurred_at = 'yesterday' WHERE seq = 7")
    assert problem() == "entry 7: a column no entry could have (not a timestamp, too long)"
    with dba() as cursor:
        cursor.execute(
            "UPDATE ledger_entry SET occurred_at = recorded_at, kind = %s WHERE seq = 7", ["k" * 70000]
        )
    assert problem() == "entry 7: a column no entry could have (not a timestamp, too long)"


def test_the_log_truncated_rows_and_state(log):
    with dba() as cursor:
        cursor.execute("DELETE FROM ledger_entry WHERE seq >= 500")
        cursor.execute("UPDATE ledger_ledgerstate SET size = 500")
    assert (
        problem()
        == f"head #{log.pk} (size 600): the log has only 500 entries: entries were removed after it was signed"
    )


def test_the_log_truncated_rows_and_state_and_nodes(log):
    with dba() as cursor:
        cursor.execute("DELETE FROM ledger_entry WHERE seq >= 200")
        cursor.execute("DELETE FROM ledger_node")
        cursor.execute("UPDATE ledger_ledgerstate SET size = 200")
    assert (
        problem()
        == f"head #{log.pk - 1} (size 300): the log has only 200 entries: entries were removed after it was signed"
    )


def test_the_log_truncated_rows_only(log):
    with dba() as cursor:
        cursor.execute("DELETE FROM ledger_entry WHERE seq >= 590")
    assert problem() == "entry 590: missing (the log ends at 589, the ledger state says 600 entries)"


def test_the_log_and_its_heads_truncated_leaves_stray_nodes(log):
    with dba() as cursor:
        cursor.execute("DELETE FROM ledger_entry WHERE seq >= 400")
        cursor.execute("DELETE FROM ledger_signedhead WHERE size > 400")
        cursor.execute("UPDATE ledger_ledgerstate SET size = 400")
    assert problem() == "node (8, 1) is beyond the log"


def test_an_entry_slipped_in_beyond_the_state(log):
    entry = Entry.objects.get(seq=599)
    with dba() as cursor:
        cursor.execute(
            "INSERT INTO ledger_entry (seq, kind, occurred_at, recorded_at, source, source_id, payload, payload_hash, leaf_hash)"
            " VALUES (600, 'x', %s, %s, 'x', 'x', '{}', 'x', %s)",
            [connection.ops.adapt_datetimefield_value(entry.occurred_at)] * 2 + [b"\x00" * 32],
        )
    assert problem() == "entry 600: beyond the ledger state's size 600"


def test_an_entry_with_a_negative_seq(log):
    entry = Entry.objects.get(seq=10)
    with dba() as cursor:
        cursor.execute("UPDATE ledger_entry SET seq = -5 WHERE seq = 599")
        cursor.execute("UPDATE ledger_ledgerstate SET size = 599")
    assert entry.seq == 10
    assert problem().startswith("head #")  # the head of 600 entries goes first: the log shrank
    with dba() as cursor:
        cursor.execute("DELETE FROM ledger_signedhead WHERE size = 600")
    assert problem() == "entry -5: a seq outside the log"


def test_a_head_altered(log):
    with dba() as cursor:
        cursor.execute("UPDATE ledger_signedhead SET size = 299 WHERE id = %s", [log.pk - 1])
    assert problem() == f"head #{log.pk - 1} (size 299): its signature does not verify"


def test_a_head_forged_without_the_key(log):
    forged = SignedHead.objects.create(
        size=600,
        root_hash=b"\x01" * 32,
        timestamp=datetime.now(UTC),
        signature=b"\x02" * 64,
        key_id=heads.key_id(),
    )
    assert problem() == f"{forged}: its signature does not verify"


def test_a_head_signed_by_another_key(log):
    forged = SignedHead.objects.create(
        size=600,
        root_hash=b"\x01" * 32,
        timestamp=datetime.now(UTC),
        signature=b"\x02" * 64,
        key_id="ab" * 32,
    )
    assert problem().startswith(f"{forged}: signed by key abababababababab…, not this log's key")


def forge(size, root):
    """A head signed with the log's own key, as someone who stole it could."""
    now = datetime.now(UTC).replace(microsecond=0)
    signature = heads.signing_key().sign(heads.tree_head_bytes(heads.timestamp_ms(now), size, root))
    return SignedHead.objects.create(
        size=size, root_hash=root, timestamp=now, signature=signature, key_id=heads.key_id()
    )


def test_a_head_forged_with_the_key_but_the_wrong_root(log):
    forged = forge(600, b"\x03" * 32)
    assert problem() == f"head #{forged.pk} (size 600): its root does not match the log's first 600 entries"


def test_a_later_head_of_a_smaller_log(log):
    from custos.ledger import tree

    forged = forge(450, tree.root(450))
    assert problem() == f"{forged}: smaller than {log}, signed before it: the log shrank"


def test_a_stored_node_altered_or_deleted(log):
    with dba() as cursor:
        cursor.execute("""UPDATE ledger_node SET hash = %s WHERE level = 8 AND "index" = 1""", [b"\x00" * 32])
    assert problem() == "node (8, 1) does not match the entries 256..511"
    with dba() as cursor:
        cursor.execute("""DELETE FROM ledger_node WHERE level = 9""")
    assert problem() == "node (8, 1) does not match the entries 256..511"  # still the first problem
    with dba() as cursor:
        cursor.execute("""DELETE FROM ledger_node WHERE level = 8 AND "index" = 1""")
    assert problem() == "node (8, 1) is missing from ledger_node"


def test_a_leaf_hash_altered(log):
    with dba() as cursor:
        cursor.execute("UPDATE ledger_entry SET leaf_hash = %s WHERE seq = 123", [b"\x00" * 32])
    assert problem() == "entry 123: leaf_hash does not match its columns"


def test_a_payload_nulled_without_a_redaction_entry(log):
    with connection.cursor() as cursor:  # the triggers allow it: it is what a redaction does
        cursor.execute("UPDATE ledger_entry SET payload = NULL WHERE seq = 42")
    assert problem() == "entry 42: payload removed without a retention.redacted entry naming it"


def test_a_redaction_verifies_and_its_own_entry_is_protected(log):
    entry = services.redact([42, 43], "retention: 3 years", actor_id=1)
    heads.sign_head()
    assert verify().heads == 3
    with dba() as cursor:
        cursor.execute(
            "UPDATE ledger_entry SET payload = %s WHERE seq = %s",
            ['{"reason":"x","seqs":[42,43,44]}', entry.seq],
        )
        cursor.execute("UPDATE ledger_entry SET payload = NULL WHERE seq = 44")
    assert problem() == f"entry {entry.seq}: payload does not match its payload_hash"


def test_the_command_prints_one_line_and_exits_non_zero(log, capsys, monkeypatch):
    # run_command patches CommandParser.error for good; undo it after this test
    monkeypatch.setattr(CommandParser, "error", CommandParser.error)
    call_command("ledger", "verify")
    assert capsys.readouterr().out.strip() == "ledger verified: 600 entries, 3 stored nodes, 2 signed heads"
    with dba() as cursor:
        cursor.execute("DELETE FROM ledger_entry WHERE seq = 77")
    with pytest.raises(CommandError, match=r"^entry 77: missing \(the next entry is 78\)$"):
        call_command("ledger", "verify")
    assert run_command("ledger", ["verify"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == "custos ledger: entry 77: missing (the next entry is 78)"
    assert "Traceback" not in err
