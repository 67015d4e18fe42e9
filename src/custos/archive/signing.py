"""HMAC-signed requests from work phones and connectors.

A device sends, beside `Authorization: Bearer <device or integration token>`:

    X-Custos-Timestamp   Unix seconds when the request was signed
    X-Custos-Nonce       16 to 64 characters [A-Za-z0-9_-], never used twice by this token
    X-Custos-Signature   hex HMAC-SHA256(secret, METHOD \\n PATH?QUERY \\n TIMESTAMP \\n NONCE \\n hex SHA-256(body))

The secret is the one issued with the token (credentials.issue). A timestamp more than
MAX_SKEW from the server's clock, or a nonce seen before, is refused: a captured request cannot
be replayed. Nonces are remembered for twice the skew (tasks.prune_nonces forgets older ones;
their timestamps would be refused anyway).
"""

import hashlib
import hmac
import re
import secrets
import time
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from custos.access.models import ApiToken
from custos.archive.models import DeviceCredential, SeenNonce
from custos.core import crypto, keyring
from custos.core.errors import DomainError

MAX_SKEW = 300  # seconds
NONCE = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
HEADERS = ("X-Custos-Timestamp", "X-Custos-Nonce", "X-Custos-Signature")


class Unauthenticated(DomainError):
    code = "unauthenticated"
    status = 401


def aad(token_id: int) -> bytes:
    return f"custos.archive.device:{token_id}".encode()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def seal_secret(token_id: int, secret: str) -> str:
    return crypto.encrypt(secret, aad=aad(token_id))


def register_encrypted() -> None:
    """Devices keep signing after a key rotation once the old key is removed."""
    keyring.register("archive.device_secret", "archive.DeviceCredential", "secret_encrypted", aad=lambda c: aad(c.token_id))


def open_secret(credential: DeviceCredential) -> str:
    return crypto.decrypt(credential.secret_encrypted, aad=aad(credential.token_id))


def message(method: str, path: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    return "\n".join([method.upper(), path, timestamp, nonce, hashlib.sha256(body).hexdigest()]).encode()


def sign(secret: str, method: str, path: str, timestamp: str, nonce: str, body: bytes) -> str:
    return hmac.new(secret.encode(), message(method, path, timestamp, nonce, body), hashlib.sha256).hexdigest()


def signed_headers(token: str, secret: str, method: str, path: str, body: bytes = b"") -> dict[str, str]:
    """The headers a client sends (used by the CLI, the demo, tests and the benches)."""
    timestamp, nonce = str(int(time.time())), secrets.token_urlsafe(18)
    return {
        "Authorization": f"Bearer {token}",
        "X-Custos-Timestamp": timestamp,
        "X-Custos-Nonce": nonce,
        "X-Custos-Signature": sign(secret, method, path, timestamp, nonce, body),
    }


def _live_token(clear: str) -> ApiToken | None:
    """The token for this clear text unless revoked or expired.

    Unlike custos.access.tokens.authenticate, a frozen or departed employee's work phone still
    reports: the company's phone keeps being archived, which is the point of freezing someone
    (revoking the token is how a phone is cut off).
    """
    parts = clear.split("_")
    if len(parts) < 3 or parts[0] != "cst":
        return None
    token = ApiToken.objects.select_related("employee", "employee__unit", "unit").filter(prefix=parts[1]).first()
    if token is None or not hmac.compare_digest(token.token_hash, hashlib.sha256(clear.encode()).hexdigest()):
        return None
    if token.revoked_at or (token.expires_at and token.expires_at <= timezone.now()):
        return None
    return token


def authenticate(request, body: bytes) -> ApiToken:
    """The device or integration token that signed this request, or Unauthenticated saying why."""
    header = request.headers.get("Authorization", "")
    scheme, _, clear = header.partition(" ")
    if scheme.lower() != "bearer" or not clear.strip():
        raise Unauthenticated("Send a device or integration token as 'Authorization: Bearer ...'.")
    token = _live_token(clear.strip())
    if token is None:
        raise Unauthenticated("The token is unknown, expired or revoked.")
    if token.kind not in (ApiToken.Kind.DEVICE, ApiToken.Kind.INTEGRATION):
        raise Unauthenticated("Ingestion takes device or integration tokens only, not personal tokens.")
    credential = DeviceCredential.objects.filter(token=token).first()
    if credential is None:
        raise Unauthenticated("This token has no signing secret: issue it through /api/v1/ingest/credentials.")
    timestamp, nonce, signature = (request.headers.get(h, "") for h in HEADERS)
    if not (timestamp and nonce and signature):
        raise Unauthenticated("Sign the request: X-Custos-Timestamp, X-Custos-Nonce and X-Custos-Signature.")
    if not timestamp.isdigit() or len(timestamp) > 12:
        raise Unauthenticated("X-Custos-Timestamp must be Unix seconds.")
    skew = abs(time.time() - int(timestamp))
    if skew > MAX_SKEW:
        raise Unauthenticated(
            f"The request's timestamp is {int(skew)} s away from the server's clock (at most {MAX_SKEW} s): "
            "a stale request is refused; check the device's clock."
        )
    if not NONCE.match(nonce):
        raise Unauthenticated("X-Custos-Nonce must be 16 to 64 characters of A-Z, a-z, 0-9, _ and -.")
    expected = sign(open_secret(credential), request.method, request.get_full_path(), timestamp, nonce, body)
    if not hmac.compare_digest(expected, signature.lower()):
        raise Unauthenticated("The signature does not match the request (method, path, timestamp, nonce, body).")
    try:
        # Its own transaction: a nonce is spent even if what follows fails.
        with transaction.atomic():
            SeenNonce.objects.create(token_id=token.pk, nonce=nonce, seen_at=timezone.now())
    except IntegrityError:
        raise Unauthenticated("This nonce was used before: a replayed request is refused.") from None
    return token


def prune(now=None) -> int:
    cutoff = (now or timezone.now()) - timedelta(seconds=2 * MAX_SKEW)
    deleted, _ = SeenNonce.objects.filter(seen_at__lt=cutoff).delete()
    return deleted
