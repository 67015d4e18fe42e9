"""Attachments stored content-addressed: <store>/ab/cd/<sha256 of the clear bytes>, encrypted.

The store is DATA_DIR/blobs by default, or an S3-compatible bucket (CUSTOS_BLOB_URL,
custos.archive.blobstore); this module seals and opens, the store only keeps sealed bytes.

A file is sealed in chunks of CHUNK bytes with AES-256-GCM, so a large video streams out without
being held in memory. The key is derived (HKDF) from the current field key, and its version is
in the header (and in Blob.key_version). Each chunk's associated data binds it to the file's
hash, its index and whether it is the last: a chunk moved to another file, reordered or cut off
fails to decrypt.

`custos keys rotate` re-encrypts the files sealed under an older version (`reencrypt`,
registered with custos.core.keyring): each is decrypted and sealed again under the current key
into a temporary file beside it, fsynced, checked against its hash and renamed over the old one,
so a crash leaves either the old file or the new one, each readable while its key is kept. The
clear bytes, and so the hash, the name and every ledger entry naming it, do not change.

The hash is the name and is part of the ledger entry that references it (payload -> leaf), so
`custos ledger verify` re-hashes every stored blob an entry names (verify_referenced).
"""

import functools
import hashlib
import json
import os
import re
import secrets
import struct
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction
from django.db.models import Count, QuerySet

from custos.archive import blobstore
from custos.archive.models import Blob
from custos.core import crypto, keyring
from custos.core.errors import InvalidInput, NotFound, Unavailable

MAGIC = b"CSTB1\n"
CHUNK = 1 << 20
HEADER = len(MAGIC) + 2 + 8  # magic, key version, nonce prefix
TAG = 16  # AES-GCM tag after each sealed chunk
SHA256 = re.compile(r"^[0-9a-f]{64}$")
# Entry kinds whose payload may carry {"attachment": {"sha256": ...}}.
KINDS = ("message.sent", "message.received", "call.logged")


class BlobProblem(Exception):
    pass


def check_hash(sha256: str) -> str:
    value = (sha256 or "").lower()
    if not SHA256.match(value):
        raise InvalidInput("sha256 must be 64 hexadecimal characters")
    return value


def _key(version: int) -> bytes:
    """The blob key of a field-key version (KeyError when that version is not configured)."""
    return _derive(crypto.field_keys()[version])


@functools.lru_cache(maxsize=16)
def _derive(material: bytes) -> bytes:
    # Cached by the field key itself, not its version: a keys file replaced under a running
    # process (or a test's own keys) never serves a key derived from other material.
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"custos.archive.blob.v1").derive(
        material
    )


def _local() -> blobstore.LocalStore:
    store = blobstore.current()
    return store if isinstance(store, blobstore.LocalStore) else blobstore.LocalStore()


def root() -> Path:
    """The local store's directory (where files are when CUSTOS_BLOB_URL names no other store)."""
    return _local().root


def path_for(sha256: str) -> Path:
    return _local().path_for(sha256)


def _unreachable(exc: blobstore.StoreError) -> Unavailable:
    return Unavailable(f"the attachment store cannot be reached ({exc}); try again later")


def _aad(sha256: str, index: int, last: bool) -> bytes:
    return f"{sha256}:{index}:{int(last)}".encode()


def _rechunk(parts: Iterable[bytes]) -> Iterator[tuple[bytes, bool]]:
    """Yield (chunk of CHUNK bytes, is_last); an empty input is one empty last chunk."""
    buffer = b""
    for part in parts:
        buffer += part
        while len(buffer) > CHUNK:
            yield buffer[:CHUNK], False
            buffer = buffer[CHUNK:]
    yield buffer, True


def _seal_into(path: Path, parts: Iterable[bytes], sha256: str, version: int) -> tuple[str, int]:
    """Write the bytes sealed under `version` to `path`, fsynced; returns (their SHA-256, size)."""
    aes = AESGCM(_key(version))
    prefix = secrets.token_bytes(8)
    digest, total = hashlib.sha256(), 0
    with open(path, "wb") as out:
        out.write(MAGIC + struct.pack(">H", version) + prefix)
        for index, (chunk, last) in enumerate(_rechunk(parts)):
            digest.update(chunk)
            total += len(chunk)
            sealed = aes.encrypt(prefix + struct.pack(">I", index), chunk, _aad(sha256, index, last))
            out.write(struct.pack(">I", len(sealed)) + sealed)
        out.flush()
        os.fsync(out.fileno())
    return digest.hexdigest(), total


def _temporary(target: Path) -> Path:
    """A scratch file beside `target`, for part files kept outside the blob store (uploads)."""
    return target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")


def _sync_directory(directory: Path) -> None:
    """Make a rename in `directory` durable (a crash after it cannot bring the old name back)."""
    blobstore._fsync_directory(directory)


def store(
    parts: Iterable[bytes], sha256: str, *, size: int | None = None, token_id: int | None = None
) -> Blob:
    """Encrypt the bytes into the store under their hash; refuses them if they do not hash to it.

    Storing a hash already there only checks the bytes: content addressing makes it the same file.
    """
    sha256 = check_hash(sha256)
    found = Blob.objects.filter(sha256=sha256).first()
    version = crypto.current_version()
    store_ = blobstore.current()
    try:
        with store_.writing(sha256) as tmp:
            digest, total = _seal_into(tmp, parts, sha256, version)
            if digest != sha256:
                raise InvalidInput(f"the bytes hash to {digest}, not to {sha256}")
            if size is not None and total != size:
                raise InvalidInput(f"expected {size} bytes, received {total}")
            if found is not None and store_.size(sha256) is not None:
                return found
            store_.commit(sha256, tmp)
    except blobstore.StoreError as exc:
        raise _unreachable(exc) from None
    if found is not None:  # its file was missing and is back, sealed under the current key
        Blob.objects.filter(pk=sha256).update(key_version=version)
        found.key_version = version
        return found
    try:
        with transaction.atomic():
            return Blob.objects.create(
                sha256=sha256, size=total, uploaded_by_token=token_id, key_version=version
            )
    except IntegrityError:  # the same file uploaded at the same moment by another request
        return Blob.objects.get(sha256=sha256)


def store_bytes(data: bytes, sha256: str | None = None, **kwargs) -> Blob:
    return store([data], sha256 or hashlib.sha256(data).hexdigest(), size=len(data), **kwargs)


def exists(sha256: str) -> bool:
    return Blob.objects.filter(sha256=sha256).exists()


def open_blob(sha256: str) -> Iterator[bytes]:
    """The clear bytes in chunks; raises BlobProblem if the file was altered, cut or swapped."""
    return _read(_open(sha256), sha256)


def _open(sha256: str, store_: blobstore.Store | None = None):
    try:
        return (store_ or blobstore.current()).open(sha256)
    except FileNotFoundError:
        raise NotFound("attachment not stored") from None
    except blobstore.StoreError as exc:
        raise _unreachable(exc) from None


def _raw_header(fh) -> tuple[int, bytes]:
    """(key version, nonce prefix) from the start of a blob file, positioned after the header."""
    head = fh.read(HEADER)
    if len(head) != HEADER or not head.startswith(MAGIC):
        raise BlobProblem("not a Custos blob file")
    return struct.unpack(">H", head[len(MAGIC) : len(MAGIC) + 2])[0], head[len(MAGIC) + 2 :]


def _header(fh) -> tuple[AESGCM, bytes]:
    """The cipher and nonce prefix of an open blob file, positioned after the header."""
    version, prefix = _raw_header(fh)
    try:
        return AESGCM(_key(version)), prefix
    except KeyError:
        raise BlobProblem(f"sealed with key version {version}, which is not configured") from None


def key_version_of(sha256: str) -> int:
    """The key version a stored blob's file is sealed under, from its header."""
    try:
        with blobstore.current().open(sha256) as fh:
            return _raw_header(fh)[0]
    except FileNotFoundError:
        raise BlobProblem("its file is missing from the blob store") from None


def _open_chunk(aes: AESGCM, prefix: bytes, sealed: bytes, sha256: str, index: int, last: bool) -> bytes:
    try:
        return aes.decrypt(prefix + struct.pack(">I", index), sealed, _aad(sha256, index, last))
    except InvalidTag:
        raise BlobProblem("a chunk does not decrypt: the file was altered or swapped") from None


def _read(fh, sha256: str) -> Iterator[bytes]:
    with fh:
        aes, prefix = _header(fh)
        index = 0
        while True:
            size_bytes = fh.read(4)
            if len(size_bytes) != 4:
                raise BlobProblem("the file is cut short")
            sealed = fh.read(struct.unpack(">I", size_bytes)[0])
            last = fh.peek(1) == b"" if hasattr(fh, "peek") else False
            yield _open_chunk(aes, prefix, sealed, sha256, index, last)
            if last:
                return
            index += 1


def open_range(sha256: str, start: int, stop: int, size: int) -> Iterator[bytes]:
    """The clear bytes [start, stop) of a stored blob of `size` clear bytes, for an HTTP Range request.

    Only the chunks holding those bytes are read and decrypted. Every chunk but the last holds the
    same number of clear bytes (the first chunk's sealed length tells how many, whatever CHUNK was
    when it was stored), so chunk i starts at HEADER + i * (4 + chunk + TAG). Each chunk still
    decrypts only with its own index and last flag in the associated data, the flag worked out from
    `size`: a file cut short, reordered or swapped fails here as it does in open_blob.
    """
    if not 0 <= start < stop <= size:
        raise ValueError(f"range [{start}, {stop}) is not inside {size} bytes")
    return _read_range(_open(sha256), sha256, start, stop, size)


def _read_range(fh, sha256: str, start: int, stop: int, size: int) -> Iterator[bytes]:
    with fh:
        aes, prefix = _header(fh)
        first = fh.read(4)
        if len(first) != 4:
            raise BlobProblem("the file is cut short")
        chunk = struct.unpack(">I", first)[0] - TAG  # clear bytes in every chunk but the last
        if chunk >= size:
            chunk = size  # one chunk holds it all
        elif chunk <= 0:
            raise BlobProblem("a chunk does not decrypt: the file was altered or swapped")
        count = -(-size // chunk)
        for index in range(start // chunk, (stop - 1) // chunk + 1):
            fh.seek(HEADER + index * (4 + chunk + TAG))
            size_bytes = fh.read(4)
            if len(size_bytes) != 4:
                raise BlobProblem("the file is cut short")
            length = struct.unpack(">I", size_bytes)[0]
            sealed = fh.read(length)
            if len(sealed) != length:
                raise BlobProblem("the file is cut short")
            last = index == count - 1
            clear = _open_chunk(aes, prefix, sealed, sha256, index, last)
            offset = index * chunk
            if len(clear) != (size - offset if last else chunk):
                raise BlobProblem(f"chunk {index} does not hold the bytes the store recorded")
            yield clear[max(start - offset, 0) : stop - offset]


def read_bytes(sha256: str) -> bytes:
    return b"".join(open_blob(sha256))


def verify_blob(sha256: str, store_: blobstore.Store | None = None) -> None:
    """Decrypt and re-hash one stored blob (in the current store, or the one given); raises
    BlobProblem naming what is wrong."""
    digest = hashlib.sha256()
    try:
        for chunk in _read(_open(sha256, store_), sha256):
            digest.update(chunk)
    except NotFound:
        raise BlobProblem("its file is missing from the blob store") from None
    except Unavailable as exc:
        raise BlobProblem(exc.message) from None
    if digest.hexdigest() != sha256:
        raise BlobProblem(f"its bytes hash to {digest.hexdigest()[:16]}…")


def verify_referenced(using: str = DEFAULT_DB_ALIAS) -> int:
    """The ledger verify hook: every stored blob an entry names must still hash to the name.

    An attachment referenced but never uploaded is not a fault (the device may upload it later);
    a blob recorded as stored whose file is missing or altered is, and the first entry naming it
    is reported. Returns how many blobs were checked.
    """
    from custos.ledger.models import Entry
    from custos.ledger.verify import Problem

    stored = set(Blob.objects.using(using).values_list("sha256", flat=True))
    if not stored:
        return 0
    checked: set[str] = set()
    rows = (
        Entry.objects.using(using)
        # Payloads are sealed at rest: which name an attachment is seen once they are opened.
        .filter(kind__in=KINDS, payload__isnull=False)
        .order_by("seq")
        .values_list("seq", "payload")
    )
    for seq, payload in rows.iterator(chunk_size=2000):
        attachment = (json.loads(payload) or {}).get("attachment") if payload else None
        sha = attachment.get("sha256") if isinstance(attachment, dict) else None
        if not sha or sha not in stored or sha in checked:
            continue
        try:
            verify_blob(sha)
        except BlobProblem as exc:
            raise Problem(f"entry {seq}: attachment {sha[:16]}…: {exc}") from None
        checked.add(sha)
    return len(checked)


# --- key rotation ----------------------------------------------------------------------------

ROTATION_NAME = "archive.blobs"


def reseal(sha256: str) -> int:
    """Re-encrypt one stored blob under the current key, atomically; returns the version its
    file was under (the current one: nothing was written).

    The new file is written beside the old one, fsynced, re-hashed (it must still hash to its
    name) and renamed over it (an object store replaces an object whole on upload): a crash at
    any point leaves the old file or the new one, whole. Raises BlobProblem when the file is missing, altered or under a key no longer configured.
    """
    sha256 = check_hash(sha256)
    was = key_version_of(sha256)
    version = crypto.current_version()
    if was == version:
        return was
    store_ = blobstore.current()
    with store_.writing(sha256) as tmp:
        digest, _total = _seal_into(tmp, open_blob(sha256), sha256, version)
        if digest != sha256:
            raise BlobProblem(f"its bytes hash to {digest[:16]}…")
        store_.commit(sha256, tmp)
    return was


def by_key_version() -> dict[int | None, int]:
    """Stored blobs per key version (None: stored before the version was recorded)."""
    rows = Blob.objects.order_by().values_list("key_version").annotate(n=Count("pk"))
    return dict(sorted(rows, key=lambda r: (r[0] is not None, r[0] or 0)))


def stale() -> QuerySet:
    """Blobs not known to be under the current key version (NULL ones included)."""
    return Blob.objects.exclude(key_version=crypto.current_version())


def stale_count() -> int:
    return stale().count()


def reencrypt(
    *,
    limit: int | None = None,
    batch: int = 100,
    progress: Callable[[int], None] | None = None,
    counted: Callable[[int], None] | None = None,
    problems: list[str] | None = None,
) -> int:
    """Re-encrypt the stored blobs not under the current key, one file at a time; returns how
    many files were rewritten (by this run, or by one that stopped between rename and record).

    Each file is rewritten (`reseal`) and then recorded (Blob.key_version, and `counted`) in a
    short transaction of its own: no database lock is held while a large file is re-encrypted.
    Stopping anywhere and running again carries on. A file that cannot be re-encrypted (missing,
    altered, its key gone) is left as it is and named in `problems`; it keeps the rotation open.
    """
    version = crypto.current_version()
    done = looked = 0
    after = ""
    while limit is None or looked < limit:
        size = batch if limit is None else min(batch, limit - looked)
        rows = list(
            stale().filter(sha256__gt=after).order_by("sha256").values_list("sha256", "key_version")[:size]
        )
        if not rows:
            break
        for sha256, recorded in rows:
            after = sha256
            looked += 1
            try:
                was = reseal(sha256)
            except (BlobProblem, NotFound, OSError) as exc:  # OSError: disk full, permissions
                if problems is not None:
                    problems.append(f"attachment {sha256[:16]}…: {exc}")
                if progress:
                    progress(1)
                continue
            with transaction.atomic():
                # Recorded once: a second run at the same moment finds it recorded and counts nothing.
                recorded_now = (
                    Blob.objects.filter(pk=sha256).exclude(key_version=version).update(key_version=version)
                )
                # Rewritten now, or by a run that stopped after the rename (the record says older).
                rewritten = bool(recorded_now) and (
                    was != version or (recorded is not None and recorded != version)
                )
                if rewritten and counted:
                    counted(1)
            done += rewritten
            if progress:
                progress(1)
    return done


def register_encrypted() -> None:
    keyring.register_files(
        ROTATION_NAME, by_version=by_key_version, stale_count=stale_count, reencrypt=reencrypt
    )
