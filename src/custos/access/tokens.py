"""API tokens: issued once in clear, stored as SHA-256, expiring, revocable.

A token reads `cst_<prefix>_<secret>`. The prefix selects the row; the whole token is compared
in constant time against the stored hash. Tokens carry 256 bits of randomness, so a fast hash is
enough: there is nothing to brute-force as with a password.
"""

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access import policy
from custos.access.models import ApiToken
from custos.access.scope import scope_of
from custos.core.errors import Forbidden, InvalidInput, NotFound
from custos.ledger.services import append
from custos.org.models import Employee, Unit

MAX_DAYS = 366


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@transaction.atomic
def issue(
    *,
    actor: Employee,
    kind: str,
    name: str,
    days: int | None = 90,
    employee: Employee | None = None,
    unit: Unit | None = None,
    signing: bool = False,
    source: str = "console",
) -> tuple[ApiToken, str]:
    """Create a token; returns it with its clear text, which is never stored.

    signing: the caller (custos.archive.credentials) seals an HMAC secret with it, recorded in the
    entry so the audit trail tells a phone that can sign archive traffic from a bare token.
    source: where the request came from (console, api, cli), for the entry."""
    name = (name or "").strip()
    if not name:
        raise InvalidInput(_("A token needs a name."))
    if days is not None and not 1 <= days <= MAX_DAYS:
        raise InvalidInput(_("A token lives between 1 and %(max)s days.") % {"max": MAX_DAYS})
    if not actor.may_sign_in:
        raise Forbidden(_("This account is frozen or has left the company."))
    if kind == ApiToken.Kind.PERSONAL:
        # Auditors too: a personal token only reads what its holder may read anyway.
        employee, unit = actor, None
    elif kind == ApiToken.Kind.DEVICE:
        if employee is None:
            raise InvalidInput(_("A device token is issued for an employee's device."))
        policy.require_may_issue_device(actor, employee)
        unit = None
    elif kind == ApiToken.Kind.INTEGRATION:
        policy.require_admin(actor)
        if unit is None:
            raise InvalidInput(_("An integration token belongs to a unit."))
        employee = None
    else:
        raise InvalidInput(_("Unknown token kind."))
    prefix = secrets.token_hex(4)
    clear = f"cst_{prefix}_{secrets.token_urlsafe(32)}"
    token = ApiToken.objects.create(
        kind=kind,
        name=name[:100],
        employee=employee,
        unit=unit,
        prefix=prefix,
        token_hash=_hash(clear),
        created_by=actor,
        expires_at=timezone.now() + timedelta(days=days) if days else None,
    )
    append(
        "auth.token_issued",
        {
            "token": token.pk,
            "kind": kind,
            "name": token.name,
            "employee": employee.pk if employee else None,
            "unit": unit.pk if unit else None,
            "prefix": prefix,
            "signing": signing,
            "expires_at": token.expires_at.isoformat() if token.expires_at else None,
        },
        actor_id=actor.pk,
        unit_id=(employee.unit_id if employee else unit.pk),
        source=source,
    )
    return token, clear


def tokens_visible(viewer: Employee):
    """Own tokens for everyone; tokens of staff in scope for managers; all for admins."""
    scope = scope_of(viewer)
    qs = ApiToken.objects.select_related("employee", "unit")
    if scope.kind in ("all",) and viewer.role == "admin":
        return qs
    if scope.kind == "subtree":
        return qs.filter(employee__unit__path__startswith=scope.unit_path)
    return qs.filter(employee=viewer)


@transaction.atomic
def revoke(*, actor: Employee, token_id: int) -> ApiToken:
    token = tokens_visible(actor).filter(pk=token_id).first()
    if token is None:
        raise NotFound(_("Token not found."))
    if token.kind == ApiToken.Kind.DEVICE:
        # Taking a phone's credential away stops its archive as surely as wiping the chats: the
        # same people who hand one out, never the phone's own user.
        policy.require_may_issue_device(actor, token.employee)
    elif token.kind == ApiToken.Kind.INTEGRATION:
        policy.require_admin(actor)
    elif token.employee_id != actor.pk:
        policy.require_may_manage(actor, token.employee)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
        append("auth.token_revoked", {"token": token.pk}, actor_id=actor.pk, source="console")
    return token


def authenticate(clear: str) -> ApiToken | None:
    """The live token for this clear text, or None. Refuses expired, revoked and frozen."""
    parts = (clear or "").split("_")
    if len(parts) < 3 or parts[0] != "cst":
        return None
    token = ApiToken.objects.select_related("employee", "employee__unit", "unit").filter(prefix=parts[1]).first()
    if token is None or not hmac.compare_digest(token.token_hash, _hash(clear)):
        return None
    now = timezone.now()
    if token.revoked_at or (token.expires_at and token.expires_at <= now):
        return None
    if token.employee is not None and not token.employee.may_sign_in:
        return None
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=5):
        # Throttled so that a busy device does not write on every request.
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token



def authenticate_device_for_commands(clear: str) -> ApiToken | None:
    """A device token, live or not-yet-revoked, even when its employee is frozen or departed.

    Only for the device command poll (custos.handover): a frozen salesperson's work phone must
    still be able to fetch the lock command that concerns it, and nothing else.
    """
    parts = (clear or "").split("_")
    if len(parts) < 3 or parts[0] != "cst":
        return None
    token = ApiToken.objects.select_related("employee").filter(prefix=parts[1], kind=ApiToken.Kind.DEVICE).first()
    if token is None or not hmac.compare_digest(token.token_hash, _hash(clear)):
        return None
    if token.revoked_at or (token.expires_at and token.expires_at <= timezone.now()):
        return None
    return token
