"""`custos keys rotate` re-encrypts archived attachments: atomically, resumably, hash unchanged."""

import hashlib
import io
import json
import os
import struct

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection

from custos.archive import blobs
from custos.archive.models import Blob, Message
from custos.core import crypto, keyring
from custos.core.models import KeyRotation
from custos.evidence import offline
from custos.ledger.models import Entry

SIZES = (0, 10, 999, 1000, 2500, 5000)  # empty, under, at and over a chunk, several chunks


def _rotate(*args) -> str:
    out = io.StringIO()
    call_command("keys", "rotate", "--quiet", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _header_version(sha: str) -> int:
    return struct.unpack(">H", blobs.path_for(sha).read_bytes()[len(blobs.MAGIC) : len(blobs.MAGIC) + 2])[0]


def _store(n: int, seed: int = 0) -> dict[str, bytes]:
    stored = {}
    for i in range(n):
        data = os.urandom(SIZES[(i + seed) % len(SIZES)]) + bytes([i, seed])
        stored[blobs.store_bytes(data).sha256] = data
    return stored


def _payload(kind: str) -> dict:
    return json.loads(Entry.objects.get(kind=kind).payload)


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr(blobs, "CHUNK", 1000)  # several sealed chunks per file


def test_rotation_reencrypts_attachments_under_the_new_key_and_keeps_their_hash(
    own_keys, small_chunks, company, device, ev, tmp_path
):
    phone = device(company.sales_a)
    contract = b"photo of the signed contract " * 200
    sha = phone.upload(contract)
    attachment = {"sha256": sha, "name": "合同.jpg", "size": len(contract), "mime": "image/jpeg"}
    assert phone.send(ev.msg("img1", None, msgtype="image", attachment=attachment)).json()["accepted"] == 1
    stored = {sha: contract, **_store(5)}
    old_key = crypto.field_keys()[1]
    assert {_header_version(s) for s in stored} == {1}
    assert set(Blob.objects.values_list("key_version", flat=True)) == {1}
    before = {s: blobs.path_for(s).read_bytes() for s in stored}

    # The device's signing secret, the message's sealed file name and body, its ledger entries...
    sealed_rows = sum(sum(keyring.rows_by_version(f).values()) for f in keyring.registered())
    out = _rotate()
    assert f"new key v2 is current; re-encrypting {sealed_rows} rows and 6 files" in out
    with connection.cursor() as cursor:
        cursor.execute("SELECT attachment_name FROM archive_message")
        assert [r[0][:3] for r in cursor.fetchall()] == ["v2:"]
    assert Message.objects.get().attachment_name == "合同.jpg"
    assert "re-encrypted 6 attachment files under v2" in out
    assert "every row and file is now under v2; v1 may be removed" in out
    for s, data in stored.items():
        assert _header_version(s) == 2 and blobs.path_for(s).read_bytes() != before[s]
        assert blobs.read_bytes(s) == data and hashlib.sha256(data).hexdigest() == s
        blobs.verify_blob(s)
        # Sealed under the new key: read as if it were under v1 (its header says so), it does not decrypt.
        raw = blobs.path_for(s).read_bytes()
        as_v1 = tmp_path / "as-v1"
        as_v1.write_bytes(raw[: len(blobs.MAGIC)] + struct.pack(">H", 1) + raw[len(blobs.MAGIC) + 2 :])
        with pytest.raises(blobs.BlobProblem, match="does not decrypt"):
            b"".join(blobs._read(open(as_v1, "rb"), s))  # noqa: SIM115 - closed by the reader
    assert set(Blob.objects.values_list("key_version", flat=True)) == {2}
    assert not list(blobs.root().rglob("*.tmp"))  # no temporary file left behind

    # The ledger still verifies (it re-hashes the attachment its message names), and an evidence
    # package built now carries the attachment and checks offline.
    call_command("ledger", "verify", stdout=io.StringIO())
    package = tmp_path / "package.zip"
    call_command(
        "evidence",
        "build",
        "--employee",
        str(company.sales_a.pk),
        "--from",
        "2000-01-01",
        "--to",
        "2100-01-01",
        "--out",
        str(package),
        stdout=io.StringIO(),
    )
    report = offline.verify_package(package)
    assert report.ok and report.attachments == 1, report.problems

    started, rotated = _payload("keys.rotation_started"), _payload("keys.rotated")
    assert started["from_versions"] == [1] and started["to_version"] == 2
    assert started["files"] == {"archive.blobs": 6, "archive.uploads": 0}
    assert rotated["files"] == {"archive.blobs": 6, "archive.uploads": 0} and rotated["to_version"] == 2
    assert rotated["started_seq"] == Entry.objects.get(kind="keys.rotation_started").seq
    text = "".join(Entry.objects.filter(kind__startswith="keys.").values_list("payload", flat=True))
    for key in crypto.field_keys().values():  # never key material, in any spelling
        assert crypto._b64(key) not in text and key.hex() not in text
    assert crypto._b64(old_key) not in text


def test_an_interrupted_rotation_resumes_and_counts_every_file_once(
    own_keys, small_chunks, company, monkeypatch
):
    stored = _store(7)
    # A crash of an earlier process left a temporary file beside a blob: harmless, never read.
    first = sorted(stored)[0]
    stray = blobs.path_for(first).with_name(f".{first}.dead.tmp")
    stray.write_bytes(b"half a file")

    # 1. Stopped by --limit after three files (rows go first: the company's sealed ledger payloads).
    rows = keyring.stale_rows() or Entry.objects.exclude(payload=None).count()
    out = _rotate("--limit", str(rows + 3))
    assert "re-encrypted 3 attachment files under v2" in out
    assert "0 rows and 4 files still under older keys" in out
    assert sorted(_header_version(s) for s in stored) == [1, 1, 1, 1, 2, 2, 2]
    for s, data in stored.items():  # both versions read meanwhile
        assert blobs.read_bytes(s) == data
    assert KeyRotation.objects.get().counts == {"ledger.payload": rows, "archive.blobs": 3}
    assert not Entry.objects.filter(kind="keys.rotated").exists()

    # 2. Killed at the worst moment: the next file's new copy is written, the rename not yet done.
    real_replace = os.replace

    def killed(src, dst):
        raise KeyboardInterrupt

    monkeypatch.setattr(blobs.os, "replace", killed)
    with pytest.raises(KeyboardInterrupt):
        _rotate()
    monkeypatch.setattr(blobs.os, "replace", real_replace)
    assert sorted(_header_version(s) for s in stored) == [1, 1, 1, 1, 2, 2, 2]  # the old file, whole
    for s, data in stored.items():
        assert blobs.read_bytes(s) == data

    # 3. Stopped between the rename and its record: the file is new, the record says v1.
    pending = next(s for s in sorted(stored) if _header_version(s) == 1)
    assert blobs.reseal(pending) == 1
    assert _header_version(pending) == 2 and Blob.objects.get(pk=pending).key_version == 1

    # Run again: it continues the same rotation (no v3), finishes it, and counts each file once.
    out = _rotate()
    assert "continuing the rotation to v2: 0 rows and 4 files to go" in out
    assert "every row and file is now under v2" in out
    assert set(crypto.field_keys()) == {1, 2}
    assert {_header_version(s) for s in stored} == {2}
    assert set(Blob.objects.values_list("key_version", flat=True)) == {2}
    for s, data in stored.items():
        assert blobs.read_bytes(s) == data
    assert Entry.objects.filter(kind="keys.rotation_started").count() == 1
    assert _payload("keys.rotated")["files"] == {"archive.blobs": 7, "archive.uploads": 0}
    assert stray.exists()  # not ours to remove: it may be another process's upload in flight
    call_command("ledger", "verify", stdout=io.StringIO())


def test_a_missing_or_altered_attachment_keeps_the_rotation_open(own_keys, small_chunks, company):
    stored = _store(4)
    gone, altered, *fine = sorted(stored)
    kept = blobs.path_for(gone).read_bytes()
    blobs.path_for(gone).unlink()
    raw = bytearray(blobs.path_for(altered).read_bytes())
    raw[-1] ^= 1
    blobs.path_for(altered).write_bytes(bytes(raw))

    with pytest.raises(CommandError, match="2 attachment files could not be re-encrypted") as raised:
        _rotate()
    assert "\n" not in str(raised.value) and "custos ledger verify" in str(raised.value)
    assert {_header_version(s) for s in fine} == {2}
    assert _header_version(altered) == 1  # left as it was
    assert not Entry.objects.filter(kind="keys.rotated").exists()
    assert KeyRotation.objects.get().finished_at is None

    # Restored from a backup, the next run finishes the same rotation.
    blobs.path_for(gone).write_bytes(kept)
    raw[-1] ^= 1
    blobs.path_for(altered).write_bytes(bytes(raw))
    out = _rotate()
    assert "continuing the rotation to v2" in out and "every row and file is now under v2" in out
    assert _payload("keys.rotated")["files"] == {"archive.blobs": 4, "archive.uploads": 0}
    for s, data in stored.items():
        assert blobs.read_bytes(s) == data


def test_blobs_stored_before_their_version_was_recorded(own_keys, company):
    stored = _store(3)
    Blob.objects.update(key_version=None)  # as the migration leaves existing blobs
    out = io.StringIO()
    call_command("keys", "status", stdout=out)
    assert "archive.blobs" in out.getvalue() and "not yet read: 3 files" in out.getvalue()
    assert keyring.stale_files() == 3
    # Still under the current key: the rotation reads their header, records it, rewrites nothing.
    assert blobs.reencrypt() == 0
    assert set(Blob.objects.values_list("key_version", flat=True)) == {1}
    assert {_header_version(s) for s in stored} == {1}


def test_a_new_upload_during_a_rotation_is_under_the_new_key(own_keys, company):
    _store(2)
    _rotate("--limit", str(Entry.objects.exclude(payload=None).count() + 1))  # the ledger's rows, one file
    data = b"uploaded while the rotation was half done"
    sha = blobs.store_bytes(data).sha256
    assert _header_version(sha) == 2 and Blob.objects.get(pk=sha).key_version == 2
    out = _rotate()
    assert "re-encrypted 1 attachment files" in out
    assert _payload("keys.rotated")["files"] == {"archive.blobs": 2, "archive.uploads": 0}


def test_a_half_finished_upload_is_resealed_and_resumes_once_the_old_key_is_gone(own_keys, company, device):
    from custos.archive import uploads

    phone = device(company.sales_a)
    data = os.urandom(5000)
    sha = hashlib.sha256(data).hexdigest()
    upload = phone.post("/api/v1/ingest/uploads", {"sha256": sha, "size": len(data)}).json()["id"]
    assert phone.put(f"/api/v1/ingest/uploads/{upload}?offset=0", data[:2000]).json()["offset"] == 2000
    assert phone.put(f"/api/v1/ingest/uploads/{upload}?offset=2000", data[2000:3500]).json()["offset"] == 3500
    part = uploads._part(upload)
    before = part.read_bytes()
    assert uploads._versions(part, 3500) == {1} and uploads.by_key_version() == {1: 1}

    rows = (
        1 + Entry.objects.exclude(payload=None).count()
    )  # the device's signing secret, the ledger's payloads
    out = _rotate()
    assert f"new key v2 is current; re-encrypting {rows} rows and 1 files" in out
    assert "every row and file is now under v2; v1 may be removed" in out
    assert uploads._versions(part, 3500) == {2} and part.read_bytes() != before
    assert uploads.stale_count() == 0 and uploads.by_key_version() == {2: 1}
    assert _payload("keys.rotated")["files"] == {"archive.blobs": 0, "archive.uploads": 1}
    assert not list(part.parent.glob("*.tmp"))

    # v1 removed, as the rotation said it may be: the upload resumes where it stood and finishes whole.
    own_keys.write_text(
        "".join(line + "\n" for line in own_keys.read_text().splitlines() if not line.startswith("1:"))
    )
    crypto.reset_cache()
    assert set(crypto.field_keys()) == {2}
    assert phone.get(f"/api/v1/ingest/uploads/{upload}").json()["offset"] == 3500
    assert phone.put(f"/api/v1/ingest/uploads/{upload}?offset=3500", data[3500:]).json()["offset"] == 5000
    r = phone.post(f"/api/v1/ingest/uploads/{upload}/finish", {})
    assert r.status_code == 200, r.content
    assert blobs.read_bytes(sha) == data
