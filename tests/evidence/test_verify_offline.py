"""The offline verifier: a good package verifies; each kind of tampering is caught and named."""

import base64
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from custos.evidence import offline, services
from custos.evidence.selectors import Selection
from custos.ledger import heads

from .conftest import T0, message


@pytest.fixture
def package(chats, blobs, tmp_path):
    from custos.ledger.services import append_batch

    c = chats.company
    photo = blobs.add("合同照片.png", b"\x89PNG fake image bytes " * 50)
    append_batch([message(c.sales_a, chats.zhang, "合同照片", when=T0.replace(hour=10), attachment=photo)])
    built = services.build_now(Selection(customer_id=chats.zhang.pk), actor=c.auditor)
    return built


def members(path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def rewrite(src, dst, changes: dict[str, bytes | None], *, resum: bool = False) -> Path:
    """A copy of the package with members changed (None removes one); resum recomputes the manifest."""
    files = members(src)
    for name, data in changes.items():
        if data is None:
            files.pop(name, None)
        else:
            files[name] = data
    if resum:
        manifest = json.loads(files["manifest.json"])
        manifest["files"] = {
            n: hashlib.sha256(d).hexdigest() for n, d in files.items() if n not in ("manifest.json", "manifest.sig")
        }
        files["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(dst, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    return Path(dst)


def problems(path) -> list[str]:
    return offline.verify_package(path).problems


def test_good_package_verifies(package):
    report = offline.verify_package(package.path)
    assert report.ok, report.problems
    # customer.created, four messages, and the alert the "私下加我微信" message raised about the customer
    kinds = [e["kind"] for e in json.loads(members(package.path)["entries.json"])["entries"]]
    assert sorted(kinds) == ["alert.raised", "customer.created"] + ["message.received"] + ["message.sent"] * 3
    assert report.entries == 6 and report.attachments == 1
    assert report.key_id == heads.key_id()
    names = members(package.path)
    assert {"entries.json", "transcript.html", "transcript.pdf", "proofs.json", "head.json", "public_key.pem",
            "manifest.json", "manifest.sig", "README.txt"} <= set(names)
    assert any(n.startswith("attachments/") and n.endswith("合同照片.png") for n in names)
    assert "可以私下加我微信" in names["transcript.html"].decode()
    assert names["transcript.pdf"].startswith(b"%PDF")
    assert b"STSong-Light" in names["transcript.pdf"]


def test_only_the_selected_customers_entries(package, chats):
    entries = json.loads(members(package.path)["entries.json"])["entries"]
    assert {e["customer_id"] for e in entries} == {chats.zhang.pk}
    kinds = {e["kind"] for e in entries}
    assert "message.sent" in kinds and "message.received" in kinds


def test_message_text_changed(package, tmp_path):
    files = members(package.path)
    doc = json.loads(files["entries.json"])
    target = next(e for e in doc["entries"] if e["payload"] and "最低价" in e["payload"])
    target["payload"] = target["payload"].replace("最低价", "正常价")
    bad = rewrite(package.path, tmp_path / "bad.zip", {"entries.json": json.dumps(doc).encode()})
    found = problems(bad)
    assert "entries.json: SHA-256 does not match the manifest (the file was changed)" in found
    assert f"entry seq {target['seq']}: payload does not match its payload_hash (the body was changed)" in found
    # Recomputing the payload hash moves the failure to the leaf; recomputing the sums breaks the signature.
    target["payload_hash"] = hashlib.sha256(target["payload"].encode()).hexdigest()
    worse = rewrite(package.path, tmp_path / "worse.zip", {"entries.json": json.dumps(doc).encode()}, resum=True)
    found = problems(worse)
    assert any(p.startswith(f"entry seq {target['seq']}: leaf hash recomputed") for p in found)
    assert "manifest.sig: the manifest's signature does not verify with public_key.pem" in found


def test_transcript_altered(package, tmp_path):
    html = members(package.path)["transcript.html"].replace("最低价".encode(), "正常价".encode())
    found = problems(rewrite(package.path, tmp_path / "bad.zip", {"transcript.html": html}))
    assert found == ["transcript.html: SHA-256 does not match the manifest (the file was changed)"]
    # Even with the sums recomputed, the signed manifest still catches it.
    found = problems(rewrite(package.path, tmp_path / "bad2.zip", {"transcript.html": html}, resum=True))
    assert found == ["manifest.sig: the manifest's signature does not verify with public_key.pem"]


def test_attachment_swapped(package, tmp_path):
    name = next(n for n in members(package.path) if n.startswith("attachments/"))
    found = problems(rewrite(package.path, tmp_path / "bad.zip", {name: b"another picture"}))
    assert f"{name}: SHA-256 does not match the manifest (the file was changed)" in found
    assert any(p.startswith(name) and "differs from the hash in the entry" in p for p in found)


def test_entry_removed(package, tmp_path):
    doc = json.loads(members(package.path)["entries.json"])
    removed = doc["entries"].pop(1)
    found = problems(rewrite(package.path, tmp_path / "bad.zip", {"entries.json": json.dumps(doc).encode()}, resum=True))
    assert (
        f"entry seq {removed['seq']}: listed in the manifest but missing from entries.json (removed)" in found
    )


def test_head_root_altered(package, tmp_path):
    head = json.loads(members(package.path)["head.json"])
    head["root_hash"] = "00" * 32
    found = problems(rewrite(package.path, tmp_path / "bad.zip", {"head.json": json.dumps(head).encode()}))
    assert "head.json: the signature of the tree head does not verify with public_key.pem" in found
    assert any(p.endswith("inclusion proof does not lead to the signed head's root") for p in found)


def test_signature_forged(package, tmp_path):
    head = json.loads(members(package.path)["head.json"])
    head["signature"] = base64.b64encode(Ed25519PrivateKey.generate().sign(b"x")).decode()
    found = problems(rewrite(package.path, tmp_path / "bad.zip", {"head.json": json.dumps(head).encode()}, resum=True))
    assert "head.json: the signature of the tree head does not verify with public_key.pem" in found


def test_public_key_replaced(package, tmp_path):
    other = Ed25519PrivateKey.generate().public_key()
    pem = other.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    found = problems(rewrite(package.path, tmp_path / "bad.zip", {"public_key.pem": pem}, resum=True))
    assert any(p.startswith("head.json: signed by key id") and offline.key_id(other) in p for p in found)
    assert "head.json: the signature of the tree head does not verify with public_key.pem" in found
    assert "manifest.sig: the manifest's signature does not verify with public_key.pem" in found


def test_expected_key_pins_the_signer(package, tmp_path):
    mine = tmp_path / "company.pem"
    mine.write_text(heads.public_key_pem())
    assert offline.verify_package(package.path, heads.public_key()).ok
    stranger = Ed25519PrivateKey.generate().public_key()
    assert "public_key.pem: not the key given with --key (the package was signed by another key)" in (
        offline.verify_package(package.path, stranger).problems
    )


def test_not_a_zip(tmp_path):
    bad = tmp_path / "x.zip"
    bad.write_bytes(b"hello")
    assert problems(bad)[0].startswith("not a readable zip file")


def _plain(*args, cwd):
    """Run the verifier in a fresh interpreter with no Django settings at all."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "CUSTOS", "DATABASE"))}
    env["PYTHONPATH"] = str(Path(offline.__file__).resolve().parents[2])
    code = (
        "import sys; from custos.evidence import offline; rc = offline.main(sys.argv[1:]); "
        "assert not any(m == 'django' or m.startswith('django.') for m in sys.modules), 'django imported'; "
        "sys.exit(rc)"
    )
    return subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True, env=env, cwd=cwd)


def test_runs_in_a_plain_process_without_django(package, tmp_path):
    good = _plain(str(package.path), cwd=tmp_path)
    assert good.returncode == 0, good.stderr
    assert "evidence package verified: 6 entries" in good.stdout
    html = members(package.path)["transcript.html"] + b"<!-- edited -->"
    bad = rewrite(package.path, tmp_path / "bad.zip", {"transcript.html": html})
    failed = _plain(str(bad), cwd=tmp_path)
    assert failed.returncode == 1
    assert "transcript.html: SHA-256 does not match the manifest" in failed.stderr


def test_redacted_entries_still_verify(chats, tmp_path):
    from custos.ledger.services import redact

    redact([chats.entries[0].seq], "retention test")
    built = services.build_now(Selection(customer_id=chats.zhang.pk))
    report = offline.verify_package(built.path)
    assert report.ok, report.problems
    entries = json.loads(members(built.path)["entries.json"])["entries"]
    gone = next(e for e in entries if e["seq"] == chats.entries[0].seq)
    assert gone["payload"] is None and gone["redacted"]


def test_attachments_the_store_does_not_hold_are_listed_as_not_included(chats):
    from custos.ledger.services import append_batch

    c = chats.company
    info = {"sha256": "ab" * 32, "name": "voice.amr", "size": 3, "mime": "audio/amr"}
    append_batch([message(c.sales_a, chats.zhang, "", when=T0, attachment=info)])
    built = services.build_now(Selection(customer_id=chats.zhang.pk))
    report = offline.verify_package(built.path)
    assert report.ok and report.attachments_missing == 1
    manifest = json.loads(members(built.path)["manifest.json"])
    assert manifest["attachments"][0]["path"] is None
    # the archive's store is installed, but never received this file
    assert manifest["attachments"][0]["reason"] == "the attachment store does not hold this file"
