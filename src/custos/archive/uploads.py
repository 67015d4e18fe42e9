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
from custos.core import crypto, keyring
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


def _headers(path: Path, committed: int) -> list[tuple[int, int]]:
    """(key version, end position in the file) of the records holding the first `committed`
    clear bytes, from their headers alone: no decrypting."""
    records = []
    position = offset = 0
    with open(path, "rb") as fh:
        while offset < committed:
            head = fh.read(6)
            if len(head) < 6:
                break
            version, length = struct.unpack(">HI", head)
            position += 6 + 12 + length
            offset += length - 16  # the GCM tag
            records.append((version, position))
            fh.seek(position)
    return records


def _part_length(path: Path, committed: int) -> int:
    """Bytes of the part file that hold the first `committed` clear bytes."""
    records = _headers(path, committed)
    return records[-1][1] if records else 0


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


# --- key rotation ----------------------------------------------------------------------------
# Each chunk of a part file is sealed under the key version current when it arrived. A rotation
# reseals the committed chunks of every unfinished upload under the new key, so that the old
# key can be removed without breaking an upload that will resume later.

ROTATION_NAME = "archive.uploads"


def _versions(path: Path, committed: int) -> set[int]:
    """The key versions of the records holding the first `committed` bytes."""
    try:
        return {version for version, _end in _headers(path, committed)}
    except FileNotFoundError:
        return set()


def _unfinished_parts():
    """(session id, committed offset, key versions of its records) of each unfinished upload."""
    sessions = UploadSession.objects.filter(finished_at__isnull=True).order_by("pk").values_list("pk", "offset")
    for session_id, committed in sessions.iterator():
        yield session_id, committed, _versions(_part(session_id), committed)


def by_key_version() -> dict[int | None, int]:
    """Unfinished uploads per the oldest key version among their chunks."""
    counts: dict[int | None, int] = {}
    for _id, _committed, versions in _unfinished_parts():
        if versions:
            counts[min(versions)] = counts.get(min(versions), 0) + 1
    return dict(sorted(counts.items()))


def stale_count() -> int:
    current = crypto.current_version()
    return sum(1 for _id, _committed, versions in _unfinished_parts() if versions - {current})


def reseal(session_id: str, counted=None) -> bool:
    """Reseal the committed chunks of an unfinished upload under the current key; True when the
    part file was rewritten. The session row is locked meanwhile, so no chunk arrives halfway;
    the new file is written beside the old, fsynced and renamed over it."""
    with transaction.atomic():
        session = UploadSession.objects.select_for_update().filter(pk=session_id, finished_at__isnull=True).first()
        version = crypto.current_version()
        path = _part(session_id)
        if session is None or not (_versions(path, session.offset) - {version}):
            return False
        aes = AESGCM(blobs._key(version))
        tmp = blobs._temporary(path)
        try:
            with open(tmp, "wb") as out:
                for end, clear, _position in _records(path, session_id):
                    if end > session.offset:
                        break  # written by a request that died before it committed: dropped, as put_chunk would
                    nonce = secrets.token_bytes(12)
                    sealed = aes.encrypt(nonce, clear, _aad(session_id, end - len(clear)))
                    out.write(struct.pack(">HI", version, len(sealed)) + nonce + sealed)
                out.flush()
                os.fsync(out.fileno())
            os.replace(tmp, path)
            blobs._sync_directory(path.parent)
        finally:
            tmp.unlink(missing_ok=True)
        if counted:
            counted(1)  # in the transaction that holds the upload, as keyring asks
    return True


def reencrypt(*, limit=None, progress=None, counted=None, problems=None) -> int:
    """keyring's reencrypt for part files: returns how many were resealed."""
    current = crypto.current_version()
    done = looked = 0
    for session_id, _committed, versions in list(_unfinished_parts()):
        if not versions - {current}:
            continue
        if limit is not None and looked >= limit:
            break
        looked += 1
        try:
            done += reseal(session_id, counted)
        except (InvalidInput, OSError) as exc:  # a chunk that does not decrypt, disk full
            if problems is not None:
                problems.append(f"upload {session_id}: {exc}")
        if progress:
            progress(1)
    return done


def register_encrypted() -> None:
    keyring.register_files(ROTATION_NAME, by_version=by_key_version, stale_count=stale_count, reencrypt=reencrypt)
