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

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from custos.core.datadir import private_file


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
            raise KeyConfigError("CUSTOS_FIELD_KEYS must be 'version:base64-of-32-bytes' pairs separated by commas")
        keys[int(version)] = key
    if not keys:
        raise KeyConfigError("CUSTOS_FIELD_KEYS is empty")
    return keys


@functools.cache
def field_keys() -> dict[int, bytes]:
    spec = os.environ.get("CUSTOS_FIELD_KEYS")
    if not spec:
        spec = private_file("field-keys", lambda: f"1:{_b64(secrets.token_bytes(32))}\n".encode()).replace("\n", ",")
    return _parse_keys(spec)


@functools.cache
def index_key() -> bytes:
    spec = os.environ.get("CUSTOS_INDEX_KEY")
    if spec:
        return _unb64(spec)
    return _unb64(private_file("index-key", lambda: _b64(secrets.token_bytes(32)).encode()))


def current_version() -> int:
    return max(field_keys())


def encrypt(plaintext: str, *, aad: bytes = b"") -> str:
    version = current_version()
    nonce = secrets.token_bytes(12)
    sealed = AESGCM(field_keys()[version]).encrypt(nonce, plaintext.encode(), aad)
    return f"v{version}:{_b64(nonce + sealed)}"


def decrypt(token: str, *, aad: bytes = b"") -> str:
    head, _, body = token.partition(":")
    version = int(head[1:])
    raw = _unb64(body)
    return AESGCM(field_keys()[version]).decrypt(raw[:12], raw[12:], aad).decode()


def key_version_of(token: str) -> int:
    return int(token.partition(":")[0][1:])


def blind_index(value: str, *, purpose: str) -> str:
    """A keyed hash for exact look-up of an encrypted value; `purpose` separates phone from WeChat id."""
    return hmac.new(index_key(), f"{purpose}\x00{value}".encode(), hashlib.sha256).hexdigest()
