"""Signed tree heads: the log's size and root, signed with the log's Ed25519 key.

The signed bytes are RFC 6962 §3.5's TreeHeadSignature, so CT tooling can read them:

    uint8  version = 0 (v1);  uint8 signature_type = 1 (tree_hash);
    uint64 timestamp (ms since the epoch);  uint64 tree_size;  opaque sha256_root_hash[32]

The private key comes from CUSTOS_LEDGER_SIGNING_KEY (base64 of the 32-byte Ed25519 seed) or is
generated on first use into DATA_DIR/ledger-signing.key (same encoding, mode 0600). The key id
is SHA-256 of the DER public key, RFC 6962's LogID.
"""

import base64
import binascii
import functools
import hashlib
import os
import struct
from datetime import UTC, datetime, timedelta

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.core.exceptions import ImproperlyConfigured
from django.db import DEFAULT_DB_ALIAS, transaction

from custos.core.datadir import data_dir, private_file
from custos.core.errors import Conflict
from custos.ledger import merkle, tree
from custos.ledger.hashing import EPOCH
from custos.ledger.models import SignedHead

KEY_FILE = "ledger-signing.key"
KEY_ENV = "CUSTOS_LEDGER_SIGNING_KEY"
_TREE_HEAD = struct.Struct(">BBQQ32s")
_MS = timedelta(milliseconds=1)


def _decode_seed(text: str, where: str) -> Ed25519PrivateKey:
    text = text.strip()
    try:
        seed = base64.b64decode(
            text + "=" * (-len(text) % 4), altchars=b"-_" if ("-" in text or "_" in text) else None
        )
    except (binascii.Error, ValueError) as exc:
        raise ImproperlyConfigured(f"{where} is not base64") from exc
    if len(seed) != 32:
        raise ImproperlyConfigured(f"{where} must be the base64 of a 32-byte Ed25519 private key")
    return Ed25519PrivateKey.from_private_bytes(seed)


@functools.cache
def signing_key() -> Ed25519PrivateKey:
    spec = os.environ.get(KEY_ENV)
    if spec:
        return _decode_seed(spec, KEY_ENV)

    def generate() -> bytes:
        seed = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption()
        )
        return base64.b64encode(seed) + b"\n"

    return _decode_seed(private_file(KEY_FILE, generate), str(data_dir() / KEY_FILE))


def public_key() -> Ed25519PublicKey:
    return signing_key().public_key()


def public_key_pem() -> str:
    return (
        public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )


def key_id(key: Ed25519PublicKey | None = None) -> str:
    der = (key or public_key()).public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def timestamp_ms(ts: datetime) -> int:
    return (ts - EPOCH) // _MS


def tree_head_bytes(timestamp_ms: int, size: int, root: bytes) -> bytes:
    return _TREE_HEAD.pack(0, 1, timestamp_ms, size, root)


def signed_bytes(head: SignedHead) -> bytes:
    return tree_head_bytes(timestamp_ms(head.timestamp), head.size, bytes(head.root_hash))


def signature_ok(head: SignedHead, key: Ed25519PublicKey | None = None) -> bool:
    key = key or public_key()
    if head.key_id != key_id(key):
        return False
    try:
        key.verify(bytes(head.signature), signed_bytes(head))
    except InvalidSignature:
        return False
    return True


def latest(using: str = DEFAULT_DB_ALIAS) -> SignedHead | None:
    return SignedHead.objects.using(using).order_by("-id").first()


def _extends(previous: SignedHead, size: int, root: bytes, reader: tree.Tree) -> bool:
    old, old_root = previous.size, bytes(previous.root_hash)
    if old > size:
        return False
    if old == 0 or old == size:
        return old == 0 or old_root == root
    path = merkle.consistency_path(old, size, reader.subtree)
    return merkle.verify_consistency(old, size, old_root, root, path)


def sign_head(*, only_if_grown: bool = False, using: str = DEFAULT_DB_ALIAS) -> SignedHead | None:
    """Sign the log as it is now. With only_if_grown, returns None when the last head has this size.

    Before signing, the new root is checked to extend the last head (a consistency proof), so the
    key never vouches for a log that lost or changed entries since.
    """
    with transaction.atomic(using=using):
        previous = latest(using)
        size = tree.log_size(using)
        if only_if_grown and previous is not None and previous.size == size:
            return None
        reader = tree.Tree(using)
        root = reader.subtree(0, size)
        if previous is not None and not _extends(previous, size, root, reader):
            raise Conflict(f"the log does not extend {previous}: refusing to sign; run custos ledger verify")
        now = datetime.now(UTC)
        now = now.replace(microsecond=now.microsecond // 1000 * 1000)  # what is signed is milliseconds
        signature = signing_key().sign(tree_head_bytes(timestamp_ms(now), size, root))
        return SignedHead.objects.using(using).create(
            size=size, root_hash=root, timestamp=now, signature=signature, key_id=key_id()
        )


def head_json(head: SignedHead) -> dict:
    return {
        "id": head.pk,
        "size": head.size,
        "root_hash": bytes(head.root_hash).hex(),
        "timestamp": head.timestamp.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "timestamp_ms": timestamp_ms(head.timestamp),
        "signature": base64.b64encode(bytes(head.signature)).decode(),
        "key_id": head.key_id,
    }
