"""Signed tree heads: the key, what is signed, when the worker signs, and refusing a shrunk log."""

import base64
import stat
import struct
from datetime import datetime

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from huey.contrib.djhuey import HUEY

from custos.core.errors import Conflict
from custos.ledger import heads, tree, triggers
from custos.ledger.models import SignedHead
from custos.ledger.tasks import sign_ledger_head
from tests.ledger.conftest import fill


def test_key_is_generated_once_into_the_data_dir_readable_by_owner_only(signing_key_file):
    pem = heads.public_key_pem()
    assert signing_key_file.exists()
    assert stat.S_IMODE(signing_key_file.stat().st_mode) == 0o600
    assert len(base64.b64decode(signing_key_file.read_text())) == 32
    heads.signing_key.cache_clear()
    assert heads.public_key_pem() == pem  # reused, not regenerated
    loaded = serialization.load_pem_public_key(pem.encode())
    assert pem.startswith("-----BEGIN PUBLIC KEY-----")
    assert heads.key_id(loaded) == heads.key_id()


def test_key_from_the_environment_wins(signing_key_file, monkeypatch):
    private = Ed25519PrivateKey.generate()
    seed = private.private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
    )
    monkeypatch.setenv(heads.KEY_ENV, base64.b64encode(seed).decode())
    assert heads.key_id() == heads.key_id(private.public_key())
    assert not signing_key_file.exists()


def test_a_malformed_key_in_the_environment_says_so(signing_key_file, monkeypatch):
    monkeypatch.setenv(heads.KEY_ENV, base64.b64encode(b"short").decode())
    with pytest.raises(ImproperlyConfigured, match="32-byte"):
        heads.signing_key()


def test_a_head_signs_rfc6962_tree_head_bytes(db, signing_key_file):
    fill(300)
    head = heads.sign_head()
    assert head.size == 300 and bytes(head.root_hash) == tree.root(300)
    assert head.timestamp.microsecond % 1000 == 0  # milliseconds are what is signed
    stored = SignedHead.objects.get(pk=head.pk)
    ms = int(stored.timestamp.timestamp() * 1000)
    signed = struct.pack(">BBQQ", 0, 1, ms, 300) + bytes(
        stored.root_hash
    )  # v1, tree_hash, timestamp, size, root
    heads.public_key().verify(bytes(stored.signature), signed)  # raises if not
    assert heads.signature_ok(stored)
    assert stored.key_id == heads.key_id()


def test_the_empty_log_can_be_signed(db, signing_key_file):
    head = heads.sign_head()
    assert head.size == 0 and bytes(head.root_hash) == tree.root(0)


def test_worker_signs_every_five_minutes_only_when_the_log_grew(db, signing_key_file):
    def due(minute):
        return any(
            isinstance(t, sign_ledger_head.task_class)
            for t in HUEY.read_periodic(datetime(2026, 1, 1, 10, minute))
        )

    assert due(0) and due(5) and due(55)
    assert not due(7)
    fill(10)
    assert sign_ledger_head.call_local() == 10
    assert sign_ledger_head.call_local() is None
    fill(5, start=10)
    assert sign_ledger_head.call_local() == 15
    assert list(SignedHead.objects.values_list("size", flat=True)) == [10, 15]


def test_refuses_to_sign_a_log_that_does_not_extend_the_last_head(db, signing_key_file):
    fill(20)
    heads.sign_head()
    triggers.remove(connection)  # as a DBA would
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_entry SET kind = 'forged', leaf_hash = leaf_hash WHERE seq = 3")
        cursor.execute("DELETE FROM ledger_entry WHERE seq >= 15")
        cursor.execute("UPDATE ledger_ledgerstate SET size = 15")
    triggers.install(connection)
    with pytest.raises(Conflict, match="does not extend head #"):
        heads.sign_head()
    assert SignedHead.objects.count() == 1


def test_refuses_to_sign_a_rewritten_log_of_the_same_or_larger_size(db, signing_key_file):
    fill(20)
    heads.sign_head()
    triggers.remove(connection)
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_entry SET leaf_hash = %s WHERE seq = 3", [b"\x00" * 32])
    triggers.install(connection)
    with pytest.raises(Conflict):
        heads.sign_head()
    fill(5, start=20)
    with pytest.raises(Conflict):
        heads.sign_head()
