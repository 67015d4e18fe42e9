import hashlib
import os

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from custos.archive import blobs, uploads
from custos.archive.models import Blob, Message


def test_small_upload_is_encrypted_at_rest_and_reads_back(company, device):
    phone = device(company.sales_a)
    data = b"\x89PNG fake image bytes " * 100
    sha = phone.upload(data)
    on_disk = blobs.path_for(sha).read_bytes()
    assert b"fake image" not in on_disk and on_disk.startswith(blobs.MAGIC)
    assert blobs.read_bytes(sha) == data
    r = phone.get(f"/api/v1/ingest/blobs/{sha}")
    assert r.json()["stored"] is True


def test_wrong_hash_is_refused(company, device):
    phone = device(company.sales_a)
    r = phone.put(f"/api/v1/ingest/blobs/{'0' * 64}", b"hello")
    assert r.status_code == 400 and "hash" in r.json()["message"]
    assert not Blob.objects.exists()


def test_resumable_upload_survives_a_dropped_chunk(company, device, monkeypatch):
    monkeypatch.setattr(blobs, "CHUNK", 1000)  # several sealed chunks per blob file too
    phone = device(company.sales_a)
    data = os.urandom(5000)
    sha = hashlib.sha256(data).hexdigest()
    r = phone.post("/api/v1/ingest/uploads", {"sha256": sha, "size": len(data)})
    assert r.status_code == 201, r.content
    upload = r.json()["id"]
    assert phone.put(f"/api/v1/ingest/uploads/{upload}?offset=0", data[:2000]).json()["offset"] == 2000
    # A retry at a stale offset is told where the upload stands
    r = phone.put(f"/api/v1/ingest/uploads/{upload}?offset=0", data[:2000])
    assert r.status_code == 409 and "2000" in r.json()["message"]
    assert phone.get(f"/api/v1/ingest/uploads/{upload}").json()["offset"] == 2000
    r = phone.post(f"/api/v1/ingest/uploads/{upload}/finish", {})
    assert r.status_code == 409
    phone.put(f"/api/v1/ingest/uploads/{upload}?offset=2000", data[2000:])
    r = phone.post(f"/api/v1/ingest/uploads/{upload}/finish", {})
    assert r.status_code == 200, r.content
    assert blobs.read_bytes(sha) == data
    # Starting again for a stored hash: nothing to send
    r = phone.post("/api/v1/ingest/uploads", {"sha256": sha, "size": len(data)})
    assert r.status_code == 200 and r.json()["stored"] is True


def test_other_tokens_cannot_touch_an_upload(company, device):
    phone, other = device(company.sales_a), device(company.sales_a_peer)
    data = b"abc" * 10
    r = phone.post("/api/v1/ingest/uploads", {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)})
    assert other.get(f"/api/v1/ingest/uploads/{r.json()['id']}").status_code == 404


def test_ledger_verify_catches_a_swapped_attachment(company, device, ev):
    phone = device(company.sales_a)
    photo, other = b"photo of the contract" * 50, b"a different file" * 50
    sha, sha_other = phone.upload(photo), phone.upload(other)
    att = {"sha256": sha, "name": "合同.jpg", "size": len(photo), "mime": "image/jpeg"}
    r = phone.send(ev.msg("m1", text="合同照片"), ev.msg("img1", None, msgtype="image", attachment=att)).json()
    assert r["accepted"] == 2
    call_command("ledger", "verify")
    seq = r["results"][1]["seq"]
    # An administrator swaps the stored file for another one
    blobs.path_for(sha).write_bytes(blobs.path_for(sha_other).read_bytes())
    with pytest.raises(CommandError, match=f"entry {seq}: attachment"):
        call_command("ledger", "verify")


def test_unknown_attachment_is_accepted_and_can_come_later(company, device, ev):
    phone = device(company.sales_a)
    data = b"voice note"
    sha = hashlib.sha256(data).hexdigest()
    att = {"sha256": sha, "name": "语音.amr", "size": len(data), "mime": "audio/amr"}
    assert phone.send(ev.msg("v1", None, msgtype="voice", attachment=att)).json()["accepted"] == 1
    message = Message.objects.get(source_id="v1")
    assert message.attachment_sha256 == sha and not blobs.exists(sha)
    call_command("ledger", "verify")  # missing is not tampering
    phone.upload(data)
    assert blobs.exists(sha)
    call_command("ledger", "verify")


def test_altered_part_file_is_refused(company, device):
    phone = device(company.sales_a)
    data = b"x" * 100
    r = phone.post("/api/v1/ingest/uploads", {"sha256": hashlib.sha256(data).hexdigest(), "size": 100})
    upload = r.json()["id"]
    phone.put(f"/api/v1/ingest/uploads/{upload}?offset=0", data)
    part = uploads._part(upload)
    raw = bytearray(part.read_bytes())
    raw[-1] ^= 1
    part.write_bytes(bytes(raw))
    r = phone.post(f"/api/v1/ingest/uploads/{upload}/finish", {})
    assert r.status_code == 400


def test_abandoned_uploads_are_pruned(company, device):
    from datetime import timedelta

    from django.utils import timezone

    from custos.archive.models import UploadSession

    phone = device(company.sales_a)
    data = b"half" * 10
    upload = phone.post("/api/v1/ingest/uploads", {"sha256": hashlib.sha256(data).hexdigest(), "size": 40}).json()["id"]
    assert uploads.prune() == 0
    UploadSession.objects.filter(pk=upload).update(created_at=timezone.now() - timedelta(days=8))
    assert uploads.prune() == 1 and not uploads._part(upload).exists()
