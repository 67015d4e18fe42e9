"""The attachment store on an S3-compatible server (moto's, on loopback): only ciphertext reaches
it, large files go up in resumable parts, `custos blobs migrate` moves a local store onto it."""

import hashlib
import io
import json
import logging
import os
import struct

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from custos.archive import blob_migration, blobs, blobstore
from custos.archive.models import Blob, Message
from custos.core import crypto
from custos.core.command import run_command
from custos.ledger import verify as ledger_verify
from tests.scale.conftest import SECRET_KEY, free_port

BIG = os.urandom(2 * blobstore.PART_SIZE + 12345)  # three parts; many sealed chunks


def _object(s3, sha: str) -> bytes:
    return s3.client.get_object(Bucket=s3.bucket, Key=f"attachments/{sha[:2]}/{sha[2:4]}/{sha}")[
        "Body"
    ].read()


def _keys(s3) -> list[str]:
    return sorted(o["Key"] for o in s3.client.list_objects_v2(Bucket=s3.bucket).get("Contents", []))


def test_device_upload_reaches_the_bucket_as_ciphertext_and_reads_back(company, device, ev, on_s3, console):
    phone = device(company.sales_a)
    photo = b"\x89PNG photo of the signed contract, customer 13800138000 " * 300
    sha = phone.upload(photo)
    raw = _object(on_s3, sha)  # straight from the server, not through Custos
    assert raw.startswith(blobs.MAGIC) and b"13800138000" not in raw and b"contract" not in raw
    assert len(raw) > len(photo)  # header, one length and one GCM tag per chunk
    assert not blobs.root().exists() or not any(blobs.root().rglob(sha))  # nothing kept locally
    assert phone.get(f"/api/v1/ingest/blobs/{sha}").json() == {
        "sha256": sha,
        "stored": True,
        "size": len(photo),
    }
    attachment = {"sha256": sha, "name": "合同.png", "size": len(photo), "mime": "image/png"}
    assert phone.send(ev.msg("p1", None, msgtype="image", attachment=attachment)).json()["accepted"] == 1
    message = Message.objects.get(source_id="p1")
    r = console(company.manager_a).get(f"/conversations/m/{message.pk}/attachment/")
    assert r.status_code == 200 and b"".join(r.streaming_content) == photo
    # The ledger verify hook re-hashes attachments from the bucket; an altered object is caught
    assert blobs.verify_referenced() == 1
    on_s3.client.put_object(
        Bucket=on_s3.bucket, Key=f"attachments/{sha[:2]}/{sha[2:4]}/{sha}", Body=raw[:-1] + b"!"
    )
    with pytest.raises(ledger_verify.Problem, match="does not decrypt"):
        blobs.verify_referenced()


def test_large_file_goes_up_in_parts_and_serves_ranges_from_the_bucket(company, on_s3):
    blob = blobs.store_bytes(BIG)
    raw = _object(on_s3, blob.sha256)
    assert raw.startswith(blobs.MAGIC) and BIG[:4096] not in raw
    head = on_s3.client.head_object(
        Bucket=on_s3.bucket, Key=f"attachments/{blob.sha256[:2]}/{blob.sha256[2:4]}/{blob.sha256}"
    )
    assert head["ETag"].strip('"').endswith("-3")  # S3's mark of an object completed from 3 parts
    assert on_s3.client.list_multipart_uploads(Bucket=on_s3.bucket).get("Uploads", []) == []
    assert blobs.read_bytes(blob.sha256) == BIG
    middle = blobstore.PART_SIZE - 7  # a range across the first part boundary, read with ranged GETs
    assert (
        b"".join(blobs.open_range(blob.sha256, middle, middle + 5000, len(BIG)))
        == BIG[middle : middle + 5000]
    )
    assert b"".join(blobs.open_range(blob.sha256, len(BIG) - 3, len(BIG), len(BIG))) == BIG[-3:]


def test_an_interrupted_multipart_upload_resumes_with_the_parts_already_sent(s3, tmp_path):
    store = blobstore.from_url(s3.url)
    sealed = tmp_path / "sealed"
    sealed.write_bytes(BIG)
    key = store.key_for("ab" * 32)

    class Cut(Exception):
        pass

    def cut_after_first(_n):
        raise Cut  # the connection dies once the first part is up

    with pytest.raises(Cut):
        store.upload_parts(key, sealed, on_part=cut_after_first)
    assert store.unfinished_uploads() == [key] and _keys(s3) == []  # not visible until complete
    sent = []
    assert store.upload_parts(key, sealed, on_part=sent.append) == 2  # parts 2 and 3 only
    assert sum(sent) == len(BIG)
    assert s3.client.get_object(Bucket=s3.bucket, Key=key)["Body"].read() == BIG
    assert store.unfinished_uploads() == []
    # A part whose bytes changed since (another sealing of the file) is sent again, not reused
    parts_up = []

    def cut_after_second(n):
        parts_up.append(n)
        if len(parts_up) == 2:
            raise Cut

    with pytest.raises(Cut):
        store.upload_parts(key, sealed, on_part=cut_after_second)
    changed = tmp_path / "changed"
    changed.write_bytes(b"X" + BIG[1:])
    assert store.upload_parts(key, changed) == 2  # part 1 (changed) and part 3; part 2 reused
    assert s3.client.get_object(Bucket=s3.bucket, Key=key)["Body"].read()[:1] == b"X"


def _migrate(url) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    try:
        call_command("blobs", "migrate", "--to", url, "--quiet", stdout=out, stderr=err)
        code = 0
    except CommandError as exc:
        err.write(f"{exc}\n")
        code = 1
    return code, out.getvalue(), err.getvalue()


def test_migrate_moves_a_local_store_to_the_bucket_verified_and_resumable(company, s3, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    stored = {blobs.store_bytes(data).sha256: data for data in (b"voice note", b"", os.urandom(3000), BIG)}
    local = {sha: blobs.path_for(sha).read_bytes() for sha in stored}
    code, out, err = _migrate(s3.url)
    assert code == 0, err
    assert "4 copied and verified, 0 already there, 0 problems" in out
    for sha, sealed in local.items():
        assert _object(s3, sha) == sealed  # byte for byte: the ciphertext moves, never the clear bytes
    # Resumed: what is there and verifies is skipped; an object altered on the server is copied again
    altered = next(iter(stored))
    s3.client.put_object(
        Bucket=s3.bucket, Key=f"attachments/{altered[:2]}/{altered[2:4]}/{altered}", Body=b"junk"
    )
    code, out, _err = _migrate(s3.url)
    assert code == 0 and "1 copied and verified, 3 already there, 0 problems" in out
    # The service then runs on the bucket, the local files gone
    monkeypatch.setenv("CUSTOS_BLOB_URL", s3.url)
    for sha in stored:
        blobs.path_for(sha).unlink()
    for sha, data in stored.items():
        assert blobs.read_bytes(sha) == data
    out = io.StringIO()
    call_command("blobs", "where", stdout=out)
    assert out.getvalue().startswith(s3.url) and "4 attachments" in out.getvalue()
    assert SECRET_KEY not in caplog.text and SECRET_KEY not in out.getvalue()


def test_migrate_names_each_missing_file_in_one_line_and_exits_non_zero(company, s3, capsys):
    kept = blobs.store_bytes(b"kept").sha256
    gone = blobs.store_bytes(b"gone").sha256
    blobs.path_for(gone).unlink()
    assert run_command("blobs", ["migrate", "--to", s3.url, "--quiet"]) == 1
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert lines == [
        f"custos blobs: attachment {gone}: missing from the source store",
        "custos blobs: 1 attachments not migrated (listed above); run again to retry",
    ]
    assert "1 copied and verified" in captured.out and "Traceback" not in captured.err
    assert _object(s3, kept) == blobs.path_for(kept).read_bytes()


def test_migrate_back_from_the_bucket_to_a_directory(company, on_s3, tmp_path):
    data = os.urandom(5000)
    sha = blobs.store_bytes(data).sha256
    target = tmp_path / "elsewhere"
    code, out, err = _migrate(target.as_uri())
    assert code == 0, err
    assert (target / sha[:2] / sha[2:4] / sha).read_bytes() == _object(on_s3, sha)
    assert blob_migration.total() == 1


def test_bad_urls_and_an_unreachable_store_say_so_in_one_line_without_the_secret(
    company, s3, monkeypatch, capsys, device, caplog
):
    assert run_command("blobs", ["migrate", "--to", f"s3://{'AKIA'}:{SECRET_KEY}@bucket/x"]) == 1
    assert run_command("blobs", ["migrate", "--to", "ftp://host/x"]) == 1
    assert run_command("blobs", ["migrate", "--to", f"s3://b/x?endpoint={s3.endpoint}&colour=red"]) == 1
    err = capsys.readouterr().err.splitlines()
    assert err == [
        "custos blobs: an S3 blob URL must not hold credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY",
        "custos blobs: blob URL scheme 'ftp' is not one of file, s3",
        "custos blobs: unknown option(s) in the blob URL: colour",
    ]
    # The store down: a device upload gets a 503 saying so, and the secret is in no message or log
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(
        "CUSTOS_BLOB_URL", f"s3://{s3.bucket}/x?endpoint=http://127.0.0.1:{free_port()}&region=us-east-1"
    )
    blobstore._cached.cache_clear()
    phone = device(company.sales_a)
    data = b"photo"
    r = phone.put(f"/api/v1/ingest/blobs/{hashlib.sha256(data).hexdigest()}", data)
    assert r.status_code == 503 and r.json()["error"] == "unavailable"
    assert "cannot be reached" in r.json()["message"] and SECRET_KEY not in r.content.decode()
    assert not Blob.objects.exists()
    assert SECRET_KEY not in caplog.text


def test_key_rotation_reseals_objects_in_the_bucket(own_keys, company, on_s3):
    data = os.urandom(3000)
    sha = blobs.store_bytes(data).sha256
    before = _object(on_s3, sha)
    crypto.add_key_version()
    assert blobs.reencrypt() == 1
    after = _object(on_s3, sha)
    version = struct.unpack(">H", after[len(blobs.MAGIC) : len(blobs.MAGIC) + 2])[0]
    assert version == 2 and after != before and blobs.read_bytes(sha) == data
    assert Blob.objects.get(pk=sha).key_version == 2
    assert json.loads(json.dumps(blobs.by_key_version())) == {"2": 1}


def test_a_blob_url_naming_no_store_is_the_operators_error_said_by_custos_check(db, monkeypatch):
    monkeypatch.setenv("CUSTOS_BLOB_URL", "ftp://files.example/blobs")
    errors = blobstore.check_blob_url()
    assert [e.id for e in errors] == ["custos.E021"] and "ftp" in errors[0].msg
    with pytest.raises(CommandError, match="CUSTOS_BLOB_URL: blob URL scheme 'ftp'"):
        call_command("check")
    monkeypatch.setenv("CUSTOS_BLOB_URL", "file:///srv/custos/blobs")
    assert blobstore.check_blob_url() == []
