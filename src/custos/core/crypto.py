"""Field encryption at rest (AES-256-GCM, versioned keys) and HMAC blind indexes.

Keys come from the environment (CUSTOS_FIELD_KEYS="1:<base64>,2:<base64>", the highest version
encrypts; CUSTOS_INDEX_KEY=<base64>) or, when unset, from files generated in the data directory.
A ciphertext names the key version that made it ("v2:..."), so old rows stay readable while
`custos keys rotate` re-encrypts them.
"""

import base64
import functools
import hashlib
import hmac
import os
import secrets
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from custos.core.datadir import data_dir, private_file, write_private


class KeyConfigError(Exception):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _parse_keys(spec: str) -> dict[int, bytes]:
    keys = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        version, _, material = part.partition(":")
        key = _unb64(material)
        if not version.isdigit() or len(key) != 32:
            raise KeyConfigError(
                "CUSTOS_FIELD_KEYS must be 'version:base64-of-32-bytes' pairs separated by commas"
            )
        keys[int(version)] = key
    if not keys:
        raise KeyConfigError("CUSTOS_FIELD_KEYS is empty")
    return keys


KEYS_FILE = "field-keys"


@functools.cache
def _keys_of(spec: str) -> dict[int, bytes]:
    return _parse_keys(spec)


@functools.lru_cache(maxsize=8)
def _keys_path(data_dir_setting: str | None, cwd: str) -> Path:
    return data_dir() / KEYS_FILE


def keys_from_environment() -> bool:
    return bool(os.environ.get("CUSTOS_FIELD_KEYS"))


def keys_file() -> Path:
    return _keys_path(os.environ.get("CUSTOS_DATA_DIR"), os.getcwd())


def field_keys() -> dict[int, bytes]:
    spec = os.environ.get("CUSTOS_FIELD_KEYS")
    if spec:
        return _keys_of(spec)
    path = keys_file()
    try:
        stat = path.stat()
    except FileNotFoundError:
        private_file(KEYS_FILE, lambda: f"1:{_b64(secrets.token_bytes(32))}\n".encode())
        stat = path.stat()
    # Keyed on the file's mtime and size: a server that is running while `custos keys rotate`
    # adds a version picks it up on its next call, so it neither fails to read re-encrypted
    # rows nor keeps writing new ones under the old key.
    return _file_keys(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=4)
def _file_keys(path: str, mtime_ns: int, size: int) -> dict[int, bytes]:
    return _parse_keys(Path(path).read_text().replace("\n", ","))


def reset_cache() -> None:
    """Forget parsed keys (tests that change CUSTOS_FIELD_KEYS or the data directory)."""
    _opened.clear()
    _keys_of.cache_clear()
    _keys_path.cache_clear()
    _file_keys.cache_clear()
    index_key.cache_clear()


def add_key_version() -> int:
    """Append a new random key to the keys file, which makes it current; returns its version.

    Keys given in CUSTOS_FIELD_KEYS belong to whoever manages the environment: a new version is
    added there, not here.
    """
    if keys_from_environment():
        raise KeyConfigError(
            "the field keys come from CUSTOS_FIELD_KEYS: add a new version there "
            f"(e.g. ,{current_version() + 1}:{_b64(secrets.token_bytes(32))}), restart Custos, "
            "then run `custos keys rotate` again to re-encrypt"
        )
    keys = dict(field_keys())
    version = max(keys) + 1
    keys[version] = secrets.token_bytes(32)
    path = keys_file()
    text = "".join(f"{v}:{_b64(k)}\n" for v, k in sorted(keys.items())).encode()
    # Written beside and renamed over the old file, so a crash never leaves a half-written key.
    fresh = path.with_name(f".{KEYS_FILE}.{secrets.token_hex(4)}")
    write_private(fresh, text)
    os.replace(fresh, path)
    return version


@functools.cache
def index_key() -> bytes:
    spec = os.environ.get("CUSTOS_INDEX_KEY")
    if spec:
        return _unb64(spec)
    return _unb64(private_file("index-key", lambda: _b64(secrets.token_bytes(32)).encode()))


def current_version() -> int:
    return max(field_keys())


_opened: dict[int, bytes] = {}


@functools.lru_cache(maxsize=16)
def _cipher(key: bytes) -> AESGCM:
    # Made once per key: every archived message and ledger entry is sealed and opened with one.
    return AESGCM(key)


def encrypt(plaintext: str, *, aad: bytes = b"") -> str:
    return encryptor(aad)(plaintext)


def encryptor(aad: bytes = b"") -> Callable[[str], str]:
    """`encrypt` under the key current now, for a batch: the ledger's append and the archive's
    COPY seal every row they write, and reading the keys per row (the environment, the keys
    file's stat) cost more than the AES-GCM itself (bench.pool)."""
    keys = field_keys()
    version = max(keys)
    seal, head, token, encode = _cipher(keys[version]).encrypt, f"v{version}:", secrets.token_bytes, base64.urlsafe_b64encode

    def encrypt_one(plaintext: str) -> str:
        nonce = token(12)
        return head + encode(nonce + seal(nonce, plaintext.encode(), aad)).decode().rstrip("=")

    return encrypt_one


def decrypt(token: str, *, aad: bytes = b"") -> str:
    head, _, body = token.partition(":")
    version = int(head[1:])
    raw = _unb64(body)
    # Opening reads the version the token names: the keys read last serve until a version is
    # missing (a search opens thousands of rows; the environment and the file's stat per row
    # cost more than the AES-GCM).
    key = _opened.get(version)
    if key is None:
        _opened.clear()
        _opened.update(field_keys())
        key = _opened.get(version)
    if key is None:
        raise KeyConfigError(
            f"field key version {version} is missing: it is needed to read data written with it"
        )
    return _cipher(key).decrypt(raw[:12], raw[12:], aad).decode()


def key_version_of(token: str) -> int:
    return int(token.partition(":")[0][1:])


def blind_index(value: str, *, purpose: str) -> str:
    """A keyed hash for exact look-up of an encrypted value; `purpose` separates phone from WeChat id."""
    return hmac.new(index_key(), f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()
