"""Building an evidence package: the ZIP that custos.evidence.offline checks.

Layout (see offline.py for what each file holds and how it is checked):

    README.txt  entries.json  proofs.json  head.json  public_key.pem
    transcript.html  transcript.pdf  attachments/<sha256>/<name>  manifest.json  manifest.sig

Every entry is proved against one signed tree head; if the latest head does not cover the last
entry selected, a fresh head is signed first. The manifest is signed with the ledger's key (with
its own context prefix, see offline.MANIFEST_CONTEXT), which binds the transcripts too.
"""

import base64
import hashlib
import json
import os
import re
import uuid
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path

from django.utils import timezone
from django.utils.translation import gettext as _

from custos.core.datadir import data_dir
from custos.core.errors import InvalidInput
from custos.customers.models import Customer
from custos.evidence import attachments, offline, transcript
from custos.ledger import hashing, heads, merkle, tree
from custos.ledger.models import Entry
from custos.org.models import Employee

MAX_ENTRIES = 500_000
Progress = Callable[[str, int, int], None]

README = """Custos evidence package / Custos 证据包

Check it offline, without the Custos database:

    custos evidence verify {name}
    python -m custos.evidence.offline {name}

entries.json    the ledger entries, exactly as stored (payload = the canonical JSON body)
proofs.json     an RFC 9162 inclusion proof of every entry against head.json
head.json       the signed tree head (RFC 6962 TreeHeadSignature, Ed25519)
public_key.pem  the ledger's public key; compare its id with the one the company publishes
transcript.*    the same entries to read (HTML, PDF)
attachments/    files the entries name, stored under their SHA-256
manifest.json   SHA-256 of every file; manifest.sig its signature with the ledger's key
"""


def directory() -> Path:
    path = data_dir() / "evidence"
    path.mkdir(mode=0o700, exist_ok=True)
    return path


@dataclass
class Built:
    path: Path
    filename: str
    size: int
    entries: int
    manifest_sha256: str
    head_size: int
    head_root: str
    first_seq: int | None
    last_seq: int | None
    attachments_included: int
    attachments_missing: int


def entry_json(e: Entry) -> dict:
    return {
        "seq": e.seq,
        "kind": e.kind,
        "occurred_at": e.occurred_at.astimezone(UTC).isoformat(),
        "occurred_at_us": hashing.micros(e.occurred_at),
        "recorded_at": e.recorded_at.astimezone(UTC).isoformat(),
        "recorded_at_us": hashing.micros(e.recorded_at),
        "actor_id": e.actor_id,
        "unit_id": e.unit_id,
        "customer_id": e.customer_id,
        "source": e.source,
        "source_id": e.source_id,
        "payload": e.payload,
        "redacted": e.payload is None,
        "payload_hash": e.payload_hash,
        "leaf_hash": bytes(e.leaf_hash).hex(),
    }


def _safe(name: str) -> str:
    name = re.sub(r"[\x00-\x1f/\\:*?\"<>|]+", "_", name or "").strip(" .")
    return name[:120] or "file"


def _dumps(data) -> bytes:
    return json.dumps(data, ensure_ascii=False, indent=1, sort_keys=True).encode()


def _head_for(last_seq: int | None):
    head = heads.latest()
    if head is None or (last_seq is not None and head.size <= last_seq):
        head = heads.sign_head()
    return head


def _names(entries: list[Entry]) -> tuple[dict[int, str], dict[int, str]]:
    actors = {e.actor_id for e in entries if e.actor_id is not None}
    customers = {e.customer_id for e in entries if e.customer_id is not None}
    employee_names = dict(Employee.objects.filter(pk__in=actors).values_list("pk", "name")) if actors else {}
    customer_names = dict(Customer.objects.filter(pk__in=customers).values_list("pk", "name")) if customers else {}
    return employee_names, customer_names


def _meta(selection: dict, requester: Employee | None, head, count: int) -> list[tuple[str, str]]:
    meta = []
    if selection.get("customer_id") is not None:
        meta.append((_("Customer"), f"#{selection['customer_id']}"))
    if selection.get("employee_id") is not None:
        meta.append((_("Employee"), f"#{selection['employee_id']}"))
    if selection.get("since") or selection.get("until"):
        meta.append((_("Time range"), f"{selection.get('since') or '…'} — {selection.get('until') or '…'}"))
    meta += [
        (_("Entries"), str(count)),
        (_("Produced by"), requester.name if requester else _("operator (command line)")),
        (_("Produced at"), timezone.localtime().strftime("%Y-%m-%d %H:%M:%S %Z")),
        (_("Signed tree head"), f"size {head.size}, root {bytes(head.root_hash).hex()}"),
    ]
    return meta


def build(
    entries_qs, *, selection: dict, requester: Employee | None, package_id: str | None = None, progress: Progress | None = None
) -> Built:
    """Write the package for these entries under DATA_DIR/evidence and return what it holds."""
    report = progress or (lambda stage, done, total: None)
    package_id = package_id or str(uuid.uuid4())
    total = entries_qs.count()
    if total > MAX_ENTRIES:
        raise InvalidInput(
            _("The selection holds %(n)s entries; narrow it to at most %(max)s.") % {"n": total, "max": MAX_ENTRIES}
        )
    report("collecting", 0, total)
    entries = list(entries_qs.iterator(chunk_size=2000))
    last_seq = entries[-1].seq if entries else None
    head = _head_for(last_seq)
    size, root = head.size, bytes(head.root_hash)

    report("proving", 0, total)
    reader = tree.Tree()
    known: dict[tuple[int, int], bytes] = {}

    def subtree(lo: int, hi: int) -> bytes:
        # Neighbouring entries' proofs share most of their nodes: each is computed once.
        if (lo, hi) not in known:
            known[(lo, hi)] = reader.subtree(lo, hi)
        return known[(lo, hi)]

    proofs = {}
    for i, e in enumerate(entries, 1):
        path = merkle.inclusion_path(e.seq, size, subtree)
        if not merkle.verify_inclusion(bytes(e.leaf_hash), e.seq, size, path, root):
            raise InvalidInput(_("Entry %(seq)s does not prove against the signed head: run custos ledger verify.") % {"seq": e.seq})
        proofs[str(e.seq)] = [p.hex() for p in path]
        if i % 1000 == 0:
            report("proving", i, total)

    files: dict[str, bytes] = {}
    listed_attachments = []
    report("attachments", 0, total)
    for i, e in enumerate(entries, 1):
        for wanted in attachments.wanted(e):
            digest = wanted["sha256"].lower()
            name, data, reason = attachments.fetch(e, digest)
            path = None
            if data is not None:
                path = f"attachments/{digest}/{_safe(name or wanted.get('name') or digest)}"
                existing = next((p for p in files if p.startswith(f"attachments/{digest}/")), None)
                path = existing or path
                files[path] = data
            listed_attachments.append(
                {"entry_seq": e.seq, "sha256": digest, "name": wanted.get("name"), "path": path, "reason": reason or None}
            )
        if i % 1000 == 0:
            report("attachments", i, total)

    report("transcript", total, total)
    employee_names, customer_names = _names(entries)
    rows = transcript.lines(entries, employee_names, customer_names)
    title = _("Evidence package %(id)s") % {"id": package_id}
    meta = _meta(selection, requester, head, len(entries))
    files["transcript.html"] = transcript.html(title, meta, rows)
    files["transcript.pdf"] = transcript.pdf(title, meta, rows)

    filename = f"custos-evidence-{package_id}.zip"
    files["entries.json"] = _dumps({"entries": [entry_json(e) for e in entries]})
    files["proofs.json"] = _dumps({"tree_size": size, "root_hash": root.hex(), "proofs": proofs})
    files["head.json"] = _dumps(heads.head_json(head))
    files["public_key.pem"] = heads.public_key_pem().encode()
    files["README.txt"] = README.format(name=filename).encode()

    manifest = {
        "format": offline.FORMAT,
        "package_id": package_id,
        "created_at": timezone.now().astimezone(UTC).isoformat(),
        "requested_by": requester.pk if requester else None,
        "selection": selection,
        "seqs": [e.seq for e in entries],
        "tree_size": size,
        "root_hash": root.hex(),
        "attachments": listed_attachments,
        "files": {name: hashlib.sha256(data).hexdigest() for name, data in sorted(files.items())},
    }
    manifest_bytes = _dumps(manifest)
    signature = heads.signing_key().sign(offline.manifest_signature_input(manifest_bytes))

    report("writing", total, total)
    target = directory() / filename
    partial = target.with_suffix(".part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh, zipfile.ZipFile(fh, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in sorted(files.items()):
            # Media is compressed already; deflating it again costs time and saves nothing.
            method = zipfile.ZIP_STORED if name.startswith("attachments/") or name.endswith(".pdf") else zipfile.ZIP_DEFLATED
            zf.writestr(name, data, compress_type=method)
        zf.writestr("manifest.json", manifest_bytes)
        zf.writestr("manifest.sig", base64.b64encode(signature) + b"\n")
    os.replace(partial, target)
    included = sum(1 for a in listed_attachments if a["path"])
    return Built(
        path=target,
        filename=filename,
        size=target.stat().st_size,
        entries=len(entries),
        manifest_sha256=hashlib.sha256(manifest_bytes).hexdigest(),
        head_size=size,
        head_root=root.hex(),
        first_seq=entries[0].seq if entries else None,
        last_seq=last_seq,
        attachments_included=included,
        attachments_missing=len(listed_attachments) - included,
    )
