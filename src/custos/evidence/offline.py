"""Checking an evidence package offline: `custos evidence verify PACKAGE.zip`.

This module needs nothing but the standard library and `cryptography`: no database, no Django
settings, no network. It imports only the pure halves of the ledger (custos.ledger.hashing and
custos.ledger.merkle, which import no Django), so a court's expert can run it in a plain Python
process, or reimplement it from this description:

    manifest.json     {"format": "custos-evidence/1", "files": {path: sha256 hex}, "seqs": [...],
                       "attachments": [{"entry_seq", "sha256", "name", "path" | null, "reason"}], ...}
    manifest.sig      base64 Ed25519 signature of MANIFEST_CONTEXT + the bytes of manifest.json,
                      by the ledger's key: the files only the manifest vouches for (the transcripts)
                      cannot be changed even by someone who recomputes the sums
    entries.json      {"entries": [{seq, kind, occurred_at_us, recorded_at_us, actor_id, unit_id,
                       customer_id, source, source_id, payload (the stored canonical JSON text, or
                       null once redacted), payload_hash, leaf_hash, ...}]}
    proofs.json       {"tree_size", "root_hash", "proofs": {seq: [hex, ...]}}: RFC 9162 paths
    head.json         the signed tree head (size, root_hash, timestamp_ms, signature, key_id)
    public_key.pem    the ledger's Ed25519 public key

What is checked, all of it, so one run names every problem:
- every file's SHA-256 against the manifest, and no file missing or unlisted;
- the manifest's signature with the included key;
- the head: its key id is the included key's, and its RFC 6962 TreeHeadSignature verifies;
- every entry: payload_hash = SHA-256(payload) unless redacted, leaf_hash recomputed from the
  columns (custos.ledger.hashing), and its inclusion proof leads to the head's root;
- the entries are exactly the seqs the manifest lists (none removed or added);
- every included attachment's SHA-256 equals the hash its entry names.

The included key proves the package is whole and unchanged since it was made; that the key is
the company's is checked by comparing its id with the one the company publishes (`custos ledger
pubkey`) or by passing that key with --key.
"""

import argparse
import base64
import binascii
import hashlib
import json
import sys
import zipfile
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from custos.ledger import hashing, merkle

FORMAT = "custos-evidence/1"
MANIFEST = "manifest.json"
SIGNATURE = "manifest.sig"
# Domain separation: the ledger key also signs tree heads, which must never be mistaken for this.
MANIFEST_CONTEXT = b"custos evidence manifest v1\n"
MAX_MEMBER = 4 << 30  # a zip bomb is not evidence


@dataclass
class Report:
    problems: list[str] = field(default_factory=list)
    entries: int = 0
    attachments: int = 0
    attachments_missing: int = 0
    files: int = 0
    tree_size: int = 0
    root_hash: str = ""
    key_id: str = ""
    head_time: str = ""

    @property
    def ok(self) -> bool:
        return not self.problems

    def fail(self, message: str) -> None:
        self.problems.append(message)


def key_id(key: Ed25519PublicKey) -> str:
    der = key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def manifest_signature_input(manifest_bytes: bytes) -> bytes:
    return MANIFEST_CONTEXT + manifest_bytes


def tree_head_bytes(timestamp_ms: int, size: int, root: bytes) -> bytes:
    """RFC 6962 §3.5 TreeHeadSignature (as custos.ledger.heads signs it)."""
    return bytes([0, 1]) + timestamp_ms.to_bytes(8, "big") + size.to_bytes(8, "big") + root


def _json(data: bytes, name: str, report: Report):
    try:
        return json.loads(data)
    except (UnicodeDecodeError, ValueError):
        report.fail(f"{name}: not valid JSON")
        return None


def _hex(text, length: int | None = None) -> bytes | None:
    try:
        value = bytes.fromhex(text)
    except (TypeError, ValueError):
        return None
    return value if length is None or len(value) == length else None


def _read_all(zf: zipfile.ZipFile, report: Report) -> dict[str, bytes]:
    files = {}
    for info in zf.infolist():
        if info.is_dir():
            continue
        if info.file_size > MAX_MEMBER:
            report.fail(f"{info.filename}: larger than any file a package holds")
            continue
        try:
            files[info.filename] = zf.read(info)
        except (zipfile.BadZipFile, OSError) as exc:  # a CRC error is a changed file too
            report.fail(f"{info.filename}: cannot be read from the zip ({exc})")
    return files


def _check_manifest(files: dict[str, bytes], manifest: dict, report: Report) -> None:
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        report.fail(f"{MANIFEST}: has no list of files")
        return
    for name, expected in sorted(listed.items()):
        if name not in files:
            report.fail(f"{name}: listed in the manifest but missing from the package")
        elif hashlib.sha256(files[name]).hexdigest() != expected:
            report.fail(f"{name}: SHA-256 does not match the manifest (the file was changed)")
    for name in sorted(set(files) - set(listed) - {MANIFEST, SIGNATURE}):
        report.fail(f"{name}: in the package but not listed in the manifest")
    report.files = len(listed)


def _load_key(files: dict[str, bytes], report: Report) -> Ed25519PublicKey | None:
    pem = files.get("public_key.pem")
    if pem is None:
        report.fail("public_key.pem: missing, so no signature can be checked")
        return None
    try:
        key = serialization.load_pem_public_key(pem)
    except ValueError:
        report.fail("public_key.pem: not a PEM public key")
        return None
    if not isinstance(key, Ed25519PublicKey):
        report.fail("public_key.pem: not an Ed25519 key")
        return None
    return key


def _check_signature(files, key, report: Report) -> None:
    sig = files.get(SIGNATURE)
    if sig is None:
        report.fail(f"{SIGNATURE}: missing: the manifest is not signed")
        return
    try:
        key.verify(base64.b64decode(sig.strip(), validate=True), manifest_signature_input(files[MANIFEST]))
    except (InvalidSignature, binascii.Error, ValueError):
        report.fail(f"{SIGNATURE}: the manifest's signature does not verify with public_key.pem")


def _check_head(head: dict, key: Ed25519PublicKey | None, report: Report) -> tuple[int, bytes] | None:
    try:
        size, ts = int(head["size"]), int(head["timestamp_ms"])
        root = _hex(head["root_hash"], 32)
        signature = base64.b64decode(head["signature"], validate=True)
    except (KeyError, TypeError, ValueError, binascii.Error):
        report.fail("head.json: not a signed tree head (size, root_hash, timestamp_ms, signature)")
        return None
    if root is None:
        report.fail("head.json: root_hash is not 32 bytes of hex")
        return None
    report.tree_size, report.root_hash, report.head_time = size, root.hex(), str(head.get("timestamp", ts))
    if key is not None:
        report.key_id = key_id(key)
        if head.get("key_id") != report.key_id:
            report.fail(f"head.json: signed by key id {head.get('key_id')}, but public_key.pem has id {report.key_id}")
        try:
            key.verify(signature, tree_head_bytes(ts, size, root))
        except InvalidSignature:
            report.fail("head.json: the signature of the tree head does not verify with public_key.pem")
    return size, root


def _leaf(entry: dict) -> bytes:
    return hashing.leaf_hash(
        hashing.leaf_data(
            int(entry["seq"]),
            entry["kind"],
            int(entry["occurred_at_us"]),
            int(entry["recorded_at_us"]),
            entry.get("actor_id"),
            entry.get("unit_id"),
            entry.get("customer_id"),
            entry["source"],
            entry["source_id"],
            entry["payload_hash"],
        )
    )


def _check_entries(entries: list, proofs: dict, head, manifest: dict, report: Report) -> dict[int, dict]:
    by_seq: dict[int, dict] = {}
    size, root = head if head else (None, None)
    paths = proofs.get("proofs") if isinstance(proofs, dict) else None
    if not isinstance(paths, dict):
        report.fail("proofs.json: has no inclusion proofs")
        paths = {}
    if head and proofs.get("root_hash") not in (None, root.hex()):
        report.fail("proofs.json: made against another root than head.json's")
    for entry in entries:
        try:
            seq = int(entry["seq"])
        except (KeyError, TypeError, ValueError):
            report.fail("entries.json: an entry without a seq")
            continue
        where = f"entry seq {seq}"
        if seq in by_seq:
            report.fail(f"{where}: appears twice in entries.json")
            continue
        by_seq[seq] = entry
        payload = entry.get("payload")
        if payload is not None:
            if not isinstance(payload, str):
                report.fail(f"{where}: payload is not the stored JSON text")
            elif hashlib.sha256(payload.encode()).hexdigest() != entry.get("payload_hash"):
                report.fail(f"{where}: payload does not match its payload_hash (the body was changed)")
        try:
            leaf = _leaf(entry)
        except (KeyError, TypeError, ValueError, OverflowError, AttributeError) as exc:
            report.fail(f"{where}: columns missing or malformed ({exc})")
            continue
        if leaf.hex() != entry.get("leaf_hash"):
            report.fail(f"{where}: leaf hash recomputed from its columns does not match (a column was changed)")
        if head is None:
            continue
        path = paths.get(str(seq))
        if path is None:
            report.fail(f"{where}: no inclusion proof in proofs.json")
            continue
        nodes = [_hex(p, 32) for p in path] if isinstance(path, list) else [None]
        if any(n is None for n in nodes) or not merkle.verify_inclusion(leaf, seq, size, nodes, root):
            report.fail(f"{where}: inclusion proof does not lead to the signed head's root")
    listed = manifest.get("seqs")
    if isinstance(listed, list):
        for seq in sorted(set(listed) - set(by_seq)):
            report.fail(f"entry seq {seq}: listed in the manifest but missing from entries.json (removed)")
        for seq in sorted(set(by_seq) - set(listed)):
            report.fail(f"entry seq {seq}: in entries.json but not listed in the manifest (added)")
    else:
        report.fail(f"{MANIFEST}: has no list of entry seqs")
    for seq in sorted({int(s) for s in paths if str(s).isdigit()} - set(by_seq)):
        if not isinstance(listed, list) or seq not in listed:
            report.fail(f"entry seq {seq}: proved in proofs.json but missing from entries.json (removed)")
    report.entries = len(by_seq)
    return by_seq


def _attachment_hashes(entry: dict) -> set[str]:
    try:
        payload = json.loads(entry["payload"]) if entry.get("payload") else {}
    except (TypeError, ValueError):
        return set()
    found = set()
    attachment = payload.get("attachment") if isinstance(payload, dict) else None
    if isinstance(attachment, dict) and isinstance(attachment.get("sha256"), str):
        found.add(attachment["sha256"].lower())
    return found


def _check_attachments(files, manifest: dict, by_seq: dict[int, dict], report: Report) -> None:
    for item in manifest.get("attachments") or []:
        path, seq, claimed = item.get("path"), item.get("entry_seq"), str(item.get("sha256", "")).lower()
        if not path:
            report.attachments_missing += 1
            continue
        entry = by_seq.get(seq)
        where = f"{path} (entry seq {seq})"
        if entry is None:
            report.fail(f"{where}: its entry is not in entries.json")
            continue
        if claimed not in _attachment_hashes(entry):
            report.fail(f"{where}: its entry names no attachment with SHA-256 {claimed}")
            continue
        data = files.get(path)
        if data is None:
            report.fail(f"{where}: missing from the package")
        elif hashlib.sha256(data).hexdigest() != claimed:
            report.fail(f"{where}: SHA-256 differs from the hash in the entry (the attachment was swapped)")
        else:
            report.attachments += 1


def verify_package(source, expected_key: Ed25519PublicKey | None = None) -> Report:
    """Check a package (a path or a binary file object); the report lists every problem found."""
    report = Report()
    try:
        with zipfile.ZipFile(source) as zf:
            files = _read_all(zf, report)
    except (zipfile.BadZipFile, OSError) as exc:
        report.fail(f"not a readable zip file ({exc})")
        return report
    if MANIFEST not in files:
        report.fail(f"{MANIFEST}: missing: this is not an evidence package")
        return report
    manifest = _json(files[MANIFEST], MANIFEST, report)
    if not isinstance(manifest, dict):
        return report
    if manifest.get("format") != FORMAT:
        report.fail(f"{MANIFEST}: format is {manifest.get('format')!r}, expected {FORMAT!r}")
    _check_manifest(files, manifest, report)
    key = _load_key(files, report)
    if key is not None and expected_key is not None and key_id(key) != key_id(expected_key):
        report.fail("public_key.pem: not the key given with --key (the package was signed by another key)")
    if key is not None:
        _check_signature(files, key, report)
    head = _json(files["head.json"], "head.json", report) if "head.json" in files else None
    if head is None and "head.json" not in files:
        report.fail("head.json: missing")
    checked_head = _check_head(head, key, report) if isinstance(head, dict) else None
    entries_doc = _json(files["entries.json"], "entries.json", report) if "entries.json" in files else None
    proofs = _json(files["proofs.json"], "proofs.json", report) if "proofs.json" in files else None
    entries = entries_doc.get("entries") if isinstance(entries_doc, dict) else None
    if not isinstance(entries, list):
        report.fail("entries.json: missing or has no list of entries")
        entries = []
    by_seq = _check_entries(entries, proofs if isinstance(proofs, dict) else {}, checked_head, manifest, report)
    _check_attachments(files, manifest, by_seq, report)
    return report


def summary(report: Report) -> str:
    lines = [
        f"evidence package verified: {report.entries} entries, {report.files} files, "
        f"{report.attachments} attachments checked"
        + (f" ({report.attachments_missing} listed as not included)" if report.attachments_missing else ""),
        f"every entry is in the signed ledger of {report.tree_size} entries, root {report.root_hash}",
        f"signed head of {report.head_time}, by key id {report.key_id}",
        "compare the key id with the one the company publishes (custos ledger pubkey), or pass --key",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="custos evidence verify",
        description="Check an evidence package offline: sums, leaves, inclusion proofs, signatures.",
    )
    parser.add_argument("package", metavar="PACKAGE.zip")
    parser.add_argument("--key", metavar="PEM", help="the ledger public key the package must be signed with")
    args = parser.parse_args(argv)
    expected = None
    if args.key:
        try:
            with open(args.key, "rb") as fh:
                expected = serialization.load_pem_public_key(fh.read())
        except (OSError, ValueError) as exc:
            print(f"custos evidence verify: cannot read the key {args.key}: {exc}", file=sys.stderr)
            return 2
        if not isinstance(expected, Ed25519PublicKey):
            print(f"custos evidence verify: {args.key} is not an Ed25519 public key", file=sys.stderr)
            return 2
    report = verify_package(args.package, expected)
    if report.ok:
        print(summary(report))
        return 0
    print(f"evidence package FAILED verification: {len(report.problems)} problem(s)", file=sys.stderr)
    for problem in report.problems:
        print(f"  - {problem}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
