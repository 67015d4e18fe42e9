"""Attachments stored content-addressed: DATA_DIR/blobs/ab/cd/<sha256 of the clear bytes>, encrypted.

A file is sealed in chunks of CHUNK bytes with AES-256-GCM, so a large video streams out without
being held in memory. The key is derived (HKDF) from the current field key, and its version is
in the header, so `custos keys rotate` style re-encryption stays possible. Each chunk's
associated data binds it to the file's hash, its index and whether it is the last: a chunk
moved to another file, reordered or cut off fails to decrypt.

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
from collections.abc import Iterable, Iterator
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.db import DEFAULT_DB_ALIAS, IntegrityError, transaction

from custos.archive.models import Blob
from custos.core import crypto
from custos.core.datadir import data_dir
from custos.core.errors import InvalidInput, NotFound

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


@functools.cache
def _key(version: int) -> bytes:
    material = crypto.field_keys()[version]
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"custos.archive.blob.v1").derive(material)


def root() -> Path:
    return data_dir() / "blobs"


def path_for(sha256: str) -> Path:
    return root() / sha256[:2] / sha256[2:4] / sha256


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


def store(parts: Iterable[bytes], sha256: str, *, size: int | None = None, token_id: int | None = None) -> Blob:
    """Encrypt the bytes into the store under their hash; refuses them if they do not hash to it.

    Storing a hash already there only checks the bytes: content addressing makes it the same file.
    """
    sha256 = check_hash(sha256)
    found = Blob.objects.filter(sha256=sha256).first()
    version = crypto.current_version()
    aes = AESGCM(_key(version))
    prefix = secrets.token_bytes(8)
    target = path_for(sha256)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{sha256}.{secrets.token_hex(4)}.tmp")
    digest, total = hashlib.sha256(), 0
    try:
        with open(tmp, "wb") as out:
            out.write(MAGIC + struct.pack(">H", version) + prefix)
            for index, (chunk, last) in enumerate(_rechunk(parts)):
                digest.update(chunk)
                total += len(chunk)
                sealed = aes.encrypt(prefix + struct.pack(">I", index), chunk, _aad(sha256, index, last))
                out.write(struct.pack(">I", len(sealed)) + sealed)
            out.flush()
            os.fsync(out.fileno())
        if digest.hexdigest() != sha256:
            raise InvalidInput(f"the bytes hash to {digest.hexdigest()}, not to {sha256}")
        if size is not None and total != size:
            raise InvalidInput(f"expected {size} bytes, received {total}")
        if found is not None and target.exists():
            return found
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return Blob.objects.create(sha256=sha256, size=total, uploaded_by_token=token_id)
    except IntegrityError:  # the same file uploaded at the same moment by another request
        return Blob.objects.get(sha256=sha256)


def store_bytes(data: bytes, sha256: str | None = None, **kwargs) -> Blob:
    return store([data], sha256 or hashlib.sha256(data).hexdigest(), size=len(data), **kwargs)


def exists(sha256: str) -> bool:
    return Blob.objects.filter(sha256=sha256).exists()


def open_blob(sha256: str) -> Iterator[bytes]:
    """The clear bytes in chunks; raises BlobProblem if the file was altered, cut or swapped."""
    path = path_for(sha256)
    try:
        fh = open(path, "rb")  # noqa: SIM115 - closed by the generator below
    except FileNotFoundError:
        raise NotFound("attachment not stored") from None
    return _read(fh, sha256)


def _header(fh) -> tuple[AESGCM, bytes]:
    """The cipher and nonce prefix of an open blob file, positioned after the header."""
    head = fh.read(HEADER)
    if len(head) != HEADER or not head.startswith(MAGIC):
        raise BlobProblem("not a Custos blob file")
    version = struct.unpack(">H", head[len(MAGIC) : len(MAGIC) + 2])[0]
    try:
        return AESGCM(_key(version)), head[len(MAGIC) + 2 :]
    except KeyError:
        raise BlobProblem(f"sealed with key version {version}, which is not configured") from None


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
    try:
        fh = open(path_for(sha256), "rb")  # noqa: SIM115 - closed by the generator below
    except FileNotFoundError:
        raise NotFound("attachment not stored") from None
    return _read_range(fh, sha256, start, stop, size)


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


def verify_blob(sha256: str) -> None:
    """Decrypt and re-hash one stored blob; raises BlobProblem naming what is wrong."""
    digest = hashlib.sha256()
    try:
        for chunk in open_blob(sha256):
            digest.update(chunk)
    except NotFound:
        raise BlobProblem("its file is missing from the blob store") from None
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
        .filter(kind__in=KINDS, payload__contains='"sha256"')
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
