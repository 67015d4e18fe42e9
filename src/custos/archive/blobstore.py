"""Where the sealed attachment files live: the data directory (default) or an S3-compatible store.

CUSTOS_BLOB_URL chooses:

    (unset) or file:///srv/custos/blobs       DATA_DIR/blobs, or the directory given
    s3://bucket/prefix?endpoint=https://oss-cn-shanghai.aliyuncs.com&region=cn-shanghai

An S3 URL takes `endpoint` (any S3-compatible service: AWS S3, Aliyun OSS, Tencent COS, MinIO),
`region` and `addressing` (path or virtual). Credentials come from the standard AWS variables
(AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN, or an instance role), never from
the URL, so neither a log line nor an error message can carry them.

A store only ever holds what custos.archive.blobs sealed: the object store receives ciphertext,
and the key stays with Custos. Objects are named <prefix>/ab/cd/<sha256 of the clear bytes>, the
local layout, so `custos blobs migrate` copies files to objects one to one, byte for byte.

Uploads of large files are multipart and resumable: an interrupted upload leaves its parts on
the server, and the next upload of the same key reuses every part whose MD5 (its ETag) matches
the bytes at that place, sending only the rest.
"""

import contextlib
import functools
import hashlib
import io
import os
import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from django.core.checks import Error, Tags, register
from django.core.exceptions import ImproperlyConfigured

from custos.core.datadir import data_dir
from custos.core.errors import InvalidInput

PART_SIZE = 8 << 20  # bytes per part of a multipart upload (S3 asks at least 5 MiB but the last)


class StoreError(OSError):
    """The store could not be reached or refused the request; the message names no secret.

    An OSError, as a full disk is for the local store: a rotation or a migration skips the file
    and names it among its problems."""


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def relative_name(sha256: str) -> str:
    return f"{sha256[:2]}/{sha256[2:4]}/{sha256}"


class LocalStore:
    """Files under a directory, written beside their place and renamed into it."""

    def __init__(self, directory: Path | None = None):
        self._directory = directory

    @property
    def root(self) -> Path:
        # DATA_DIR is read at each use: a test or a command may point it elsewhere meanwhile.
        return self._directory or data_dir() / "blobs"

    @property
    def url(self) -> str:
        return self.root.as_uri()

    def path_for(self, sha256: str) -> Path:
        return self.root / relative_name(sha256)

    def open(self, sha256: str):
        """A buffered binary reader (read, peek, seek); FileNotFoundError when absent."""
        return open(self.path_for(sha256), "rb")  # noqa: SIM115 - the caller closes it

    def size(self, sha256: str) -> int | None:
        try:
            return self.path_for(sha256).stat().st_size
        except FileNotFoundError:
            return None

    @contextlib.contextmanager
    def writing(self, sha256: str) -> Iterator[Path]:
        """A scratch path to write the sealed file into; `commit` then makes it the stored one."""
        target = self.path_for(sha256)
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.tmp")
        try:
            yield tmp
        finally:
            tmp.unlink(missing_ok=True)

    def commit(self, sha256: str, written: Path, on_part: Callable[[int], None] | None = None) -> None:
        target = self.path_for(sha256)
        if written.parent != target.parent:  # a file from elsewhere (a migration): copy, then rename
            with self.writing(sha256) as tmp:
                with open(written, "rb") as src, open(tmp, "wb") as out:
                    while block := src.read(PART_SIZE):
                        out.write(block)
                        if on_part:
                            on_part(len(block))
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(tmp, target)
        else:
            os.replace(written, target)
            if on_part:
                on_part(target.stat().st_size)
        _fsync_directory(target.parent)

    def delete(self, sha256: str) -> None:
        self.path_for(sha256).unlink(missing_ok=True)


class _ObjectReader(io.RawIOBase):
    """An object read as a seekable file: one streaming GET, a ranged one again after a seek."""

    def __init__(self, store: "S3Store", key: str):
        self._store, self._key = store, key
        self._pos = 0
        response = store.call("get_object", Key=key)
        self._body, self._size = response["Body"], response["ContentLength"]

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def tell(self) -> int:
        return self._pos

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._size}[whence]
        position = max(0, base + offset)
        if position != self._pos:
            self._drop()
            self._pos = position
        return self._pos

    def readinto(self, buffer) -> int:
        if self._pos >= self._size:
            return 0
        if self._body is None:
            self._body = self._store.call("get_object", Key=self._key, Range=f"bytes={self._pos}-")["Body"]
        data = self._body.read(len(buffer))
        buffer[: len(data)] = data
        self._pos += len(data)
        return len(data)

    def _drop(self) -> None:
        if self._body is not None:
            self._body.close()
            self._body = None

    def close(self) -> None:
        self._drop()
        super().close()


class S3Store:
    """Objects in a bucket of any S3-compatible service, under a prefix."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        if parts.username or parts.password:
            raise InvalidInput(
                "an S3 blob URL must not hold credentials: set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY"
            )
        if not parts.hostname:
            raise InvalidInput("an S3 blob URL names its bucket: s3://bucket/prefix")
        options = {key: values[-1] for key, values in parse_qs(parts.query).items()}
        unknown = set(options) - {"endpoint", "region", "addressing"}
        if unknown:
            raise InvalidInput(f"unknown option(s) in the blob URL: {', '.join(sorted(unknown))}")
        addressing = options.get("addressing", "path" if options.get("endpoint") else "auto")
        if addressing not in {"path", "virtual", "auto"}:
            raise InvalidInput("addressing must be path or virtual")
        self.bucket = parts.hostname
        self.prefix = parts.path.strip("/")
        self.endpoint, self.region = options.get("endpoint"), options.get("region")
        self.addressing = addressing
        self.url = url

    @functools.cached_property
    def client(self):
        import boto3
        from botocore.config import Config

        config = Config(
            s3={"addressing_style": self.addressing},
            retries={"max_attempts": 5, "mode": "standard"},
            # Checksums only where S3 requires them: several S3-compatible services refuse the
            # newer default trailing checksums. Integrity is ours anyway (AES-GCM, SHA-256 names).
            request_checksum_calculation="when_required",
            response_checksum_validation="when_required",
        )
        return boto3.session.Session().client(
            "s3", endpoint_url=self.endpoint, region_name=self.region, config=config
        )

    def key_for(self, sha256: str) -> str:
        return f"{self.prefix}/{relative_name(sha256)}" if self.prefix else relative_name(sha256)

    def call(self, operation: str, **kwargs):
        """One S3 request; errors become StoreError naming the operation and S3's code only."""
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return getattr(self.client, operation)(Bucket=self.bucket, **kwargs)
        except ClientError as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code in {"NoSuchKey", "404", "NotFound"}:
                raise FileNotFoundError(kwargs.get("Key", "")) from None
            raise StoreError(f"{operation} on bucket {self.bucket}: {code or 'refused'}") from None
        except BotoCoreError as exc:
            raise StoreError(f"{operation} on bucket {self.bucket}: {type(exc).__name__}") from None

    def open(self, sha256: str):
        return io.BufferedReader(_ObjectReader(self, self.key_for(sha256)), buffer_size=1 << 20)

    def size(self, sha256: str) -> int | None:
        try:
            return self.call("head_object", Key=self.key_for(sha256))["ContentLength"]
        except FileNotFoundError:
            return None

    @contextlib.contextmanager
    def writing(self, sha256: str) -> Iterator[Path]:
        staging = data_dir() / "blob-staging"
        staging.mkdir(exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=f".{sha256[:16]}.", suffix=".tmp", dir=staging)
        os.close(fd)
        try:
            yield Path(name)
        finally:
            Path(name).unlink(missing_ok=True)

    def commit(self, sha256: str, written: Path, on_part: Callable[[int], None] | None = None) -> None:
        """Upload the sealed file: one PUT when small, else a multipart upload, resumed if one
        for this key was left unfinished (S3 makes the object visible only once complete)."""
        key = self.key_for(sha256)
        size = written.stat().st_size
        if size <= PART_SIZE:
            with open(written, "rb") as fh:
                self.call("put_object", Key=key, Body=fh.read())
            if on_part:
                on_part(size)
            return
        self.upload_parts(key, written, on_part)

    def upload_parts(self, key: str, path: Path, on_part: Callable[[int], None] | None = None) -> int:
        """A resumable multipart upload of `path`; returns how many parts were sent this time."""
        upload_id, already = self._unfinished(key)
        if upload_id is None:
            upload_id = self.call("create_multipart_upload", Key=key)["UploadId"]
        done, sent = [], 0
        with open(path, "rb") as fh:
            number = 1
            while block := fh.read(PART_SIZE):
                etag = f'"{hashlib.md5(block, usedforsecurity=False).hexdigest()}"'
                if already.get(number) != etag:
                    etag = self.call(
                        "upload_part", Key=key, UploadId=upload_id, PartNumber=number, Body=block
                    )["ETag"]
                    sent += 1
                done.append({"PartNumber": number, "ETag": etag})
                if on_part:
                    on_part(len(block))
                number += 1
        self.call("complete_multipart_upload", Key=key, UploadId=upload_id, MultipartUpload={"Parts": done})
        return sent

    def _unfinished(self, key: str) -> tuple[str | None, dict[int, str]]:
        """The newest unfinished multipart upload of `key` and the ETags of its parts."""
        uploads = [
            u for u in self.call("list_multipart_uploads", Prefix=key).get("Uploads", []) if u["Key"] == key
        ]
        if not uploads:
            return None, {}
        upload_id = max(uploads, key=lambda u: u["Initiated"])["UploadId"]
        parts: dict[int, str] = {}
        marker = 0
        while True:
            page = self.call("list_parts", Key=key, UploadId=upload_id, PartNumberMarker=marker)
            for part in page.get("Parts", []):
                parts[part["PartNumber"]] = part["ETag"]
            if not page.get("IsTruncated"):
                return upload_id, parts
            marker = page["NextPartNumberMarker"]

    def unfinished_uploads(self) -> list[str]:
        """Keys with a multipart upload left unfinished under the prefix."""
        found = self.call("list_multipart_uploads", Prefix=self.prefix).get("Uploads", [])
        return sorted(u["Key"] for u in found)

    def delete(self, sha256: str) -> None:
        self.call("delete_object", Key=self.key_for(sha256))


Store = LocalStore | S3Store


def from_url(url: str | None) -> Store:
    """The store a blob URL names; InvalidInput with one line when it names none we know."""
    url = (url or "").strip()
    if not url:
        return LocalStore()
    scheme = urlsplit(url).scheme.lower()
    if scheme == "file":
        path = urlsplit(url).path
        if not path.startswith("/"):
            raise InvalidInput("a file blob URL names an absolute directory: file:///srv/custos/blobs")
        return LocalStore(Path(path))
    if scheme == "s3":
        return S3Store(url)
    raise InvalidInput(f"blob URL scheme {scheme or '(none)'!r} is not one of file, s3")


@functools.lru_cache(maxsize=8)
def _cached(url: str) -> Store:
    return from_url(url)


def current() -> Store:
    """The store CUSTOS_BLOB_URL names (read at each call, the client kept per URL).

    A URL naming no store is the operator's mistake, not the client's: ImproperlyConfigured (a
    500, and `custos check` says it before the service starts), never a 400 to a phone."""
    try:
        return _cached(os.environ.get("CUSTOS_BLOB_URL", "").strip())
    except InvalidInput as exc:
        raise ImproperlyConfigured(f"CUSTOS_BLOB_URL: {exc.message}") from None


@register(Tags.compatibility, deploy=False)
def check_blob_url(app_configs=None, **kwargs) -> list[Error]:
    try:
        current()
    except ImproperlyConfigured as exc:
        return [
            Error(
                str(exc), hint="s3://bucket/prefix?endpoint=...&region=... or file:///dir", id="custos.E021"
            )
        ]
    return []
