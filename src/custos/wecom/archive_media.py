"""Fetching the files of archived messages (images, voice notes, videos, files) from WeCom.

The worker asks GetMediaData for a message's sdkfileid chunk by chunk (at most 512 KiB each). Every chunk
is sealed (AES-GCM under the blob key, as the archive's resumable uploads are: no clear chat file rests
on disk half-fetched) and appended to DATA_DIR/wecom_media/<id>.part; only then are the SDK's
outindexbuf and the part's length saved on the row. A restart truncates the part to that length and
asks for that index, so a file is resumed where it stopped, never fetched twice into itself.

Once complete the file's SHA-256 and MD5 are computed (the MD5 must match WeCom's md5sum), the bytes go
to the archive's content-addressed blob store, and the message that waited for its file is appended
naming it (archive_pull.settle_media) in the same transaction that marks the file fetched.

Failures: WeCom's retryable codes (network, 10001-10003, 10008) and our own troubles are tried again
later (CUSTOS_WECOM_MEDIA_ATTEMPTS times, waiting CUSTOS_WECOM_MEDIA_RETRY_S seconds doubled each time);
a bad or expired sdkfileid, a file over CUSTOS_WECOM_MEDIA_MAX_BYTES (100 MB by default) or the last
attempt failing make it `failed` with the reason, and the message goes into the archive without the file
(the reason in raw.media) rather than never.
"""

from __future__ import annotations

import hashlib
import logging
import os
import secrets
import struct
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from custos.archive import blobs
from custos.core import crypto
from custos.core.datadir import data_dir
from custos.wecom import archive_keys, archive_pull
from custos.wecom.finance_sdk import FinanceError, FinanceSdk, FinanceSdkError
from custos.wecom.models import ArchiveMedia

log = logging.getLogger(__name__)

FINISHED = "finished"  # index_buf once the last chunk is in the part file (WeCom's own look like "Range:bytes=…")
CLAIM = timedelta(minutes=15)  # a worker's hold on a file while it fetches; a dead worker's runs out
MEDIA_TIMEOUT = 60
_HEAD = struct.Struct(">HI")  # key version, sealed length


def max_bytes() -> int:
    return int(getattr(settings, "CUSTOS_WECOM_MEDIA_MAX_BYTES", os.environ.get("CUSTOS_WECOM_MEDIA_MAX_BYTES", 100 * 1024 * 1024)))


def max_attempts() -> int:
    return int(getattr(settings, "CUSTOS_WECOM_MEDIA_ATTEMPTS", 6))


def retry_seconds(attempt: int) -> float:
    base = float(getattr(settings, "CUSTOS_WECOM_MEDIA_RETRY_S", 60))
    return base * 2 ** max(0, attempt - 1)


def part_path(media_id: int) -> Path:
    return data_dir() / "wecom_media" / f"{media_id}.part"


def _aad(media_id: int, offset: int) -> bytes:
    return f"wecom.media:{media_id}:{offset}".encode()


def _write_chunk(fh, media_id: int, offset: int, data: bytes) -> None:
    version = crypto.current_version()
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(blobs._key(version)).encrypt(nonce, data, _aad(media_id, offset))
    fh.write(_HEAD.pack(version, len(sealed)) + nonce + sealed)


def read_part(media_id: int) -> Iterator[bytes]:
    """The clear bytes of a part file, chunk by chunk (InvalidTag if it was altered or its key is gone)."""
    offset = 0
    with open(part_path(media_id), "rb") as fh:
        while head := fh.read(_HEAD.size):
            version, length = _HEAD.unpack(head)
            nonce, sealed = fh.read(12), fh.read(length)
            try:
                key = blobs._key(version)
            except KeyError:
                raise InvalidTag(f"field key version {version} is no longer configured") from None
            data = AESGCM(key).decrypt(nonce, sealed, _aad(media_id, offset))
            offset += len(data)
            yield data


def _claim(media_id: int) -> ArchiveMedia | None:
    now = timezone.now()
    due = Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now)
    taken = ArchiveMedia.objects.filter(due, pk=media_id, status=ArchiveMedia.Status.WAITING).update(
        next_attempt_at=now + CLAIM
    )
    return ArchiveMedia.objects.select_related("message").get(pk=media_id) if taken == 1 else None


def _restart(media: ArchiveMedia) -> None:
    media.index_buf, media.bytes_done, media.part_length = "", 0, 0
    part_path(media.pk).unlink(missing_ok=True)


def _fail(media: ArchiveMedia, reason: str) -> str:
    with transaction.atomic():
        media.status, media.reason, media.next_attempt_at = ArchiveMedia.Status.FAILED, reason[:300], None
        media.save(update_fields=["status", "reason", "next_attempt_at", "attempts", "index_buf", "bytes_done", "part_length"])
        note = {"status": "failed", "reason": reason[:300], "md5sum": media.md5sum, "filesize": media.expected_size}
        archive_pull.settle_media(media, None, note)
    part_path(media.pk).unlink(missing_ok=True)
    log.warning("wecom archive media %s failed: %s", media.pk, reason)
    return media.status


def _retry(media: ArchiveMedia, reason: str) -> str:
    media.attempts += 1
    if media.attempts >= max_attempts():
        return _fail(media, f"after {media.attempts} attempts: {reason}")
    media.reason = f"attempt {media.attempts} failed: {reason}"[:300]
    media.next_attempt_at = timezone.now() + timedelta(seconds=retry_seconds(media.attempts))
    media.save(update_fields=["attempts", "reason", "next_attempt_at", "index_buf", "bytes_done", "part_length"])
    return media.status


def _download(media: ArchiveMedia, sdk: FinanceSdk, limit: int) -> str | None:
    """Chunks from where the row says; returns a reason to fail for good, or None when complete."""
    row = archive_keys.settings_row()
    path = part_path(media.pk)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "ab"):
        pass
    with open(path, "r+b") as fh:
        fh.truncate(media.part_length)  # a chunk written by a run that died before saving its index
        fh.seek(0, os.SEEK_END)
        chunks = sdk.iter_media_chunks(
            media.sdkfileid, media.index_buf, timeout=MEDIA_TIMEOUT,
            proxy=row.proxy or None, passwd=archive_keys.proxy_password(row) or None,
        )  # fmt: skip
        for chunk in chunks:
            if media.bytes_done + len(chunk.data) > limit:
                return f"larger than the limit of {limit} bytes (CUSTOS_WECOM_MEDIA_MAX_BYTES)"
            if chunk.data:
                _write_chunk(fh, media.pk, media.bytes_done, chunk.data)
                fh.flush()
                os.fsync(fh.fileno())
            media.bytes_done += len(chunk.data)
            media.part_length = fh.tell()
            media.index_buf = FINISHED if chunk.finished else chunk.next_index
            media.save(update_fields=["index_buf", "bytes_done", "part_length"])
    return None


def _store(media: ArchiveMedia) -> str | None:
    """Hash the part, check WeCom's md5sum, store the blob and append its message; a reason on mismatch."""
    sha, md5, size = hashlib.sha256(), hashlib.md5(), 0  # noqa: S324 - md5 is WeCom's checksum, not security
    for data in read_part(media.pk):
        sha.update(data)
        md5.update(data)
        size += len(data)
    if media.md5sum and md5.hexdigest() != media.md5sum:
        return f"md5 {md5.hexdigest()} does not match WeCom's md5sum {media.md5sum}"
    digest = sha.hexdigest()
    blobs.store(read_part(media.pk), digest, size=size)
    with transaction.atomic():
        media.status, media.reason, media.sha256, media.size = ArchiveMedia.Status.FETCHED, "", digest, size
        media.fetched_at, media.next_attempt_at = timezone.now(), None
        media.save()
        attachment = {"sha256": digest, "name": media.name, "size": size, "mime": media.mime or "application/octet-stream"}
        archive_pull.settle_media(media, attachment, None)
    part_path(media.pk).unlink(missing_ok=True)
    return None


def fetch(media_id: int, sdk: FinanceSdk | None = None) -> str:
    """Fetch one file now if it is due; returns its status (waiting, fetched, failed)."""
    media = _claim(media_id)
    if media is None:
        found = ArchiveMedia.objects.filter(pk=media_id).values_list("status", flat=True).first()
        return found or "missing"
    limit = max_bytes()
    if media.expected_size is not None and media.expected_size > limit:
        return _fail(media, f"{media.expected_size} bytes, larger than the limit of {limit} (CUSTOS_WECOM_MEDIA_MAX_BYTES)")
    own = sdk is None
    try:
        if own:
            sdk = archive_pull.open_sdk(archive_keys.settings_row()).open()
        if media.index_buf != FINISHED:
            too_large = _download(media, sdk, limit)
            if too_large:
                return _fail(media, too_large)
        mismatch = _store(media)
        if mismatch:
            _restart(media)
            return _retry(media, mismatch)
        return media.status
    except FinanceSdkError as exc:
        reason = f"{exc} {exc.hint}".strip()
        return _retry(media, reason) if exc.retryable else _fail(media, reason)
    except FinanceError as exc:
        return _retry(media, str(exc))
    except InvalidTag as exc:
        # The part was sealed under a field key no longer configured (or damaged): fetch it again.
        _restart(media)
        return _retry(media, f"the part file could not be opened ({exc or 'altered'}), fetching it again")
    except OSError as exc:
        return _retry(media, f"disk: {exc}")
    finally:
        if own and sdk is not None:
            sdk.close()


def fetch_due(limit: int = 100) -> int:
    """Every file due (new, or its retry time come): one SDK instance for the lot; returns how many were tried."""
    now = timezone.now()
    due = list(
        ArchiveMedia.objects.filter(status=ArchiveMedia.Status.WAITING)
        .filter(Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now))
        .order_by("id")
        .values_list("pk", flat=True)[:limit]
    )
    if not due:
        return 0
    row = archive_keys.settings_row()
    if not archive_keys.ready(row).ok:
        return 0
    with archive_pull.open_sdk(row) as sdk:
        for media_id in due:
            fetch(media_id, sdk)
    return len(due)


def counts() -> dict[str, int]:
    from django.db.models import Count

    return dict(ArchiveMedia.objects.values_list("status").annotate(n=Count("pk")).order_by())
