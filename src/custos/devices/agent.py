"""Who is calling the agent routes: a work phone signing like the archive's ingest.

The phone sends its device token and signs every request exactly as for /api/v1/ingest
(custos.archive.signing: timestamp, nonce, HMAC over method, path, timestamp, nonce and body),
so one client library serves both. A person's token is a known caller with the wrong
credential here (403); a frozen or departed employee's phone still gets through, to fetch and
answer its lock and wipe (revoking the token is what cuts a phone off).
"""

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja.security import APIKeyHeader

from custos.access import tokens
from custos.access.models import ApiToken
from custos.archive import signing
from custos.core.errors import Forbidden, InvalidInput
from custos.devices import services

MAX_BODY = 256 * 1024
# What a phone's programmer needs to sign, in the OpenAPI of every signed route (devices and field).
SIGNING_HELP = (
    "Signed like /api/v1/ingest (custos.archive.signing): `Authorization: Bearer <device token>`, "
    "`X-Custos-Timestamp` (Unix seconds, within 300 s of the server's clock), `X-Custos-Nonce` "
    "(16-64 characters of [A-Za-z0-9_-], never twice for a token) and `X-Custos-Signature`: hex "
    'HMAC-SHA256(signing secret, METHOD + "\\n" + PATH?QUERY + "\\n" + TIMESTAMP + "\\n" + NONCE + '
    '"\\n" + hex SHA-256(body)). A bad signature, a stale clock or a nonce seen before: 401 with the '
    "reason; a person's or a connector's token: 403. The token and secret come from "
    "POST /api/v1/devices/agent/enrol (docs/devices.md)."
)
SIGNED = {
    "description": SIGNING_HELP,
    "parameters": [
        {"in": "header", "name": h, "required": True, "schema": {"type": "string"}}
        for h in ("Authorization", "X-Custos-Timestamp", "X-Custos-Nonce")
    ],
}


class TooLarge(InvalidInput):
    code = "too_large"
    status = 413


def _body(request: HttpRequest) -> bytes:
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > MAX_BODY:
        raise TooLarge(
            _("The body is %(n)s bytes; at most %(max)s are accepted here.") % {"n": length, "max": MAX_BODY}
        )
    return request.body


def _refuse_people(request: HttpRequest) -> None:
    scheme, _sep, clear = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and clear.strip():
        known = tokens.authenticate(clear.strip())
        if known is not None and known.kind != ApiToken.Kind.DEVICE:
            raise Forbidden(
                _(
                    "Only a work phone's signed requests are taken here, not a person's or a connector's token."
                )
            )


class DeviceSignature(APIKeyHeader):
    """The work phone that signed this request (its Device), or a 401/403 saying why not."""

    param_name = "X-Custos-Signature"

    def __call__(self, request: HttpRequest):
        _refuse_people(request)
        token = signing.authenticate(request, _body(request))
        if token.kind != ApiToken.Kind.DEVICE:
            raise Forbidden(
                _(
                    "Only a work phone's signed requests are taken here, not a person's or a connector's token."
                )
            )
        return services.device_of_token(token)

    def authenticate(self, request, key):  # __call__ does the work; the base class wants it
        return None


def enrolment_caller(request: HttpRequest):
    """Enrolment has no credential yet (the one-time code in the body is the proof); a person's
    token sent here is refused rather than ignored. A plain function: no security scheme."""
    _refuse_people(request)
    _body(request)
    return True
