"""The database itself refuses to change history, whoever connects: raw SQL, not the ORM."""

import pytest
from django.db import DatabaseError, connection, transaction

from custos.ledger import heads
from custos.ledger.models import Entry, Node, SignedHead
from tests.ledger.conftest import fill


def refused(sql, params=()):
    """Run sql and report whether the database refused it (inside a savepoint, so the test goes on)."""
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError as exc:
        assert "append-only" in str(exc) or "never shrinks" in str(exc), exc
        return True
    return False


@pytest.fixture
def log(db):
    fill(300)  # crosses a block: one stored node
    heads.sign_head()


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_entry SET kind = 'forged' WHERE seq = 3",
        "UPDATE ledger_entry SET payload = '{\"i\":999}' WHERE seq = 3",
        "UPDATE ledger_entry SET payload = payload WHERE seq = 3",
        "UPDATE ledger_entry SET seq = seq + 1000 WHERE seq = 3",
        "UPDATE ledger_entry SET payload_hash = 'x' WHERE seq = 3",
        "UPDATE ledger_entry SET actor_id = 1 WHERE seq = 3",
        "UPDATE ledger_entry SET payload = NULL, kind = 'other' WHERE seq = 3",
        "UPDATE ledger_entry SET payload = NULL, leaf_hash = leaf_hash || leaf_hash WHERE seq = 3",
        "DELETE FROM ledger_entry WHERE seq = 3",
        "DELETE FROM ledger_entry",
        "UPDATE ledger_node SET hash = hash || hash",
        "DELETE FROM ledger_node",
        "UPDATE ledger_signedhead SET size = size + 1",
        "UPDATE ledger_signedhead SET root_hash = signature",
        "DELETE FROM ledger_signedhead",
        "UPDATE ledger_ledgerstate SET size = size - 1",
        "DELETE FROM ledger_ledgerstate",
    ],
)
def test_database_refuses_changing_history(log, sql):
    before = list(Entry.objects.values_list("seq", "kind", "payload", "payload_hash", "leaf_hash"))
    assert refused(sql)
    assert list(Entry.objects.values_list("seq", "kind", "payload", "payload_hash", "leaf_hash")) == before
    assert Node.objects.count() == 1 and SignedHead.objects.count() == 1


def test_the_one_change_allowed_is_a_payload_set_to_null(log):
    assert not refused("UPDATE ledger_entry SET payload = NULL WHERE seq = 3")
    entry = Entry.objects.get(seq=3)
    assert entry.payload is None and entry.payload_hash  # the hash, and so the leaf, stay
    assert refused("UPDATE ledger_entry SET payload = '{}' WHERE seq = 3")  # and it cannot come back
    assert refused("UPDATE ledger_entry SET payload = NULL WHERE seq = 3")  # nor be "redacted" twice


def test_the_size_may_grow(log):
    assert not refused("UPDATE ledger_ledgerstate SET size = size")


@pytest.mark.postgres_only
@pytest.mark.parametrize("table", ["ledger_entry", "ledger_node", "ledger_signedhead", "ledger_ledgerstate"])
def test_postgres_refuses_truncate(log, table):
    assert refused(f"TRUNCATE {table} CASCADE")
