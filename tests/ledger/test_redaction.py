"""Redaction: the body goes, its hash and the tree stay, and a ledger entry says who and why."""

import json

import pytest

from custos.core.errors import InvalidInput, NotFound
from custos.ledger import heads, tree
from custos.ledger.models import Entry
from custos.ledger.services import REDACTED, redact, redacted_seqs
from custos.ledger.verify import verify
from tests.ledger.conftest import fill


def test_redact_erases_bodies_and_records_it(db):
    fill(10)
    head = heads.sign_head()
    root_before = tree.root(10)
    hashes_before = list(Entry.objects.filter(seq__in=[2, 5]).values_list("payload_hash", "leaf_hash"))

    entry = redact([5, 2, 5], "retention: chats older than 3 years", actor_id=42)

    assert entry.kind == REDACTED and entry.seq == 10 and entry.actor_id == 42 and entry.source == "retention"
    assert json.loads(entry.payload) == {"seqs": [2, 5], "reason": "retention: chats older than 3 years"}
    assert redacted_seqs(entry) == [2, 5]
    assert list(Entry.objects.filter(payload__isnull=True).values_list("seq", flat=True)) == [2, 5]
    assert (
        list(Entry.objects.filter(seq__in=[2, 5]).values_list("payload_hash", "leaf_hash")) == hashes_before
    )
    assert tree.root(10) == root_before == bytes(head.root_hash)
    assert verify().size == 11


def test_redacting_again_is_a_no_op(db):
    fill(3)
    redact([1], "retention")
    assert redact([1], "retention") is None
    assert Entry.objects.filter(kind=REDACTED).count() == 1
    second = redact([1, 2], "retention")
    assert redacted_seqs(second) == [2]


@pytest.mark.parametrize(
    ("seqs", "reason", "error"),
    [
        ([1], "  ", InvalidInput),
        ([], "r", InvalidInput),
        (["x"], "r", InvalidInput),
        ([1, 99], "r", NotFound),
    ],
)
def test_bad_redactions_are_refused_and_change_nothing(db, seqs, reason, error):
    fill(3)
    with pytest.raises(error):
        redact(seqs, reason)
    assert not Entry.objects.filter(payload__isnull=True).exists()
    assert Entry.objects.count() == 3


def test_a_redaction_entry_cannot_itself_be_redacted(db):
    fill(3)
    entry = redact([0], "retention")
    with pytest.raises(InvalidInput, match="cannot itself be redacted"):
        redact([entry.seq], "cover tracks")
    assert Entry.objects.get(seq=entry.seq).payload is not None
