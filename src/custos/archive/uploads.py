"""Resumable uploads of large attachments: open a session, send chunks at the offset the server
reports, finalise. A dropped connection resumes from GET .../uploads/ID (its offset).

Chunks are sealed (AES-GCM) as they arrive, so no clear attachment bytes rest on disk even
half-uploaded; finalising streams them, unsealed, into the blob store, which checks the SHA-256.
"""

import os
import secrets
import struct
from datetime import timedelta
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.db import transaction
from django.utils import timezone

from custos.archive import blobs
from custos.archive.models import Blob, UploadSession
from custos.core import crypto
from custos.core.datadir import data_dir
from custos.core.errors import Conflict, InvalidInput, NotFound

MAX_CHUNK = 2 * 1024 * 1024  # below Django's DATA_UPLOAD_MAX_MEMORY_SIZE: request.body can hold it
MAX_SIZE = 4 * 1024**3


def _part(session_id: str) -> Path:
    return data_dir() / "uploads" / f"{session_id}.part"


def _aad(session_id: str, offset: int) -> bytes:
    return f"custos.upload:{session_id}:{offset}".encode()


def start(token_id: int, sha256: str, size: int) -> UploadSession | None:
    """A new session, or None when the blob is stored already (nothing to send)."""
    sha256 = blobs.check_hash(sha256)
    if not 0 <= size <= MAX_SIZE:
        raise InvalidInput(f"size must be between 0 and {MAX_SIZE} bytes")
    if Blob.objects.filter(sha256=sha256).exists():
        return None
    session = UploadSession.objects.create(id=secrets.token_hex(16), token_id=token_id, sha256=sha256, size=size)
    path = _part(session.id)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch()
    return session


def get(token_id: int, session_id: str) -> UploadSession:
    found = UploadSession.objects.filter(pk=session_id, token_id=token_id).first()
    if found is None:
        raise NotFound("no such upload session for this token")
    return found


@transaction.atomic
def put_chunk(token_id: int, session_id: str, offset: int, data: bytes) -> UploadSession:
    session = UploadSession.objects.select_for_update().filter(pk=session_id, token_id=token_id).first()
    if session is None:
        raise NotFound("no such upload session for this token")
    if session.finished_at:
        raise Conflict("this upload is finished")
    if offset != session.offset:
        raise Conflict(f"the upload is at offset {session.offset}; send the bytes from there")
    if not data:
        raise InvalidInput("an empty chunk")
    if session.offset + len(data) > session.size:
        raise InvalidInput(f"the chunk goes past the announced size of {session.size} bytes")
    version = crypto.current_version()
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(blobs._key(version)).encrypt(nonce, data, _aad(session.id, offset))
    path = _part(session.id)
    with open(path, "r+b") as fh:
        # A record written by a request that died before committing its offset is overwritten.
        fh.seek(0, os.SEEK_END)
        fh.truncate(_part_length(path, session.offset))
        fh.seek(0, os.SEEK_END)
        fh.write(struct.pack(">HI", version, len(sealed)) + nonce + sealed)
        fh.flush()
        os.fsync(fh.fileno())
    session.offset += len(data)
    session.save(update_fields=["offset"])
    return session


def _records(path: Path, session_id: str):
    """(offset, clear bytes, end position in the file) of each sealed record."""
    with open(path, "rb") as fh:
        offset = 0
        while True:
            head = fh.read(6)
            if len(head) < 6:
                return
            version, length = struct.unpack(">HI", head)
            nonce, sealed = fh.read(12), fh.read(length)
            try:
                clear = AESGCM(blobs._key(version)).decrypt(nonce, sealed, _aad(session_id, offset))
            except InvalidTag:
                raise InvalidInput("a stored chunk does not decrypt: start the upload again") from None
            offset += len(clear)
            yield offset, clear, fh.tell()


def _part_length(path: Path, committed: int) -> int:
    """Bytes of the part file that hold the first `committed` clear bytes (headers only: no decrypting)."""
    position = offset = 0
    with open(path, "rb") as fh:
        while offset < committed:
            head = fh.read(6)
            if len(head) < 6:
                break
            _version, length = struct.unpack(">HI", head)
            position += 6 + 12 + length
            offset += length - 16  # the GCM tag
            fh.seek(position)
    return position


def finish(token_id: int, session_id: str) -> Blob:
    session = get(token_id, session_id)
    if session.offset != session.size:
        raise Conflict(f"only {session.offset} of {session.size} bytes arrived; send the rest first")
    path = _part(session.id)

    def parts():
        for offset, clear, _end in _records(path, session.id):
            if offset > session.size:
                return
            yield clear

    blob = blobs.store(parts(), session.sha256, size=session.size, token_id=token_id)
    UploadSession.objects.filter(pk=session.pk).update(finished_at=timezone.now())
    path.unlink(missing_ok=True)
    return blob


def prune(days: int = 7) -> int:
    cutoff = timezone.now() - timedelta(days=days)
    stale = list(UploadSession.objects.filter(finished_at__isnull=True, created_at__lt=cutoff).values_list("pk", flat=True))
    for session_id in stale:
        _part(session_id).unlink(missing_ok=True)
    UploadSession.objects.filter(pk__in=stale).delete()
    return len(stale)
