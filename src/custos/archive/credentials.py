"""Device and integration tokens with their signing secret, issued together and shown once."""

from django.db import transaction
from django.utils.translation import gettext as _

from custos.access import tokens
from custos.access.models import ApiToken
from custos.archive import signing
from custos.archive.models import DeviceCredential
from custos.core.errors import InvalidInput
from custos.org.models import Employee, Unit

KINDS = (ApiToken.Kind.DEVICE, ApiToken.Kind.INTEGRATION)


@transaction.atomic
def issue(
    *,
    actor: Employee,
    kind: str,
    name: str,
    days: int | None = 366,
    employee: Employee | None = None,
    unit: Unit | None = None,
    source: str = "console",
) -> tuple[ApiToken, str, str]:
    """A device token (for an employee's work phone) or an integration token (a connector serving
    a unit), with a fresh HMAC secret. Returns (token, clear token, clear secret): neither is
    shown again. The access rules of custos.access.tokens.issue apply (who may issue for whom:
    never the employee for their own phone), and the issue is its `auth.token_issued` entry."""
    if kind not in KINDS:
        raise InvalidInput(_("Ingestion credentials are device or integration tokens."))
    token, clear = tokens.issue(
        actor=actor, kind=kind, name=name, days=days, employee=employee, unit=unit, signing=True, source=source
    )
    secret = signing.new_secret()
    DeviceCredential.objects.create(token=token, secret_encrypted=signing.seal_secret(token.pk, secret))
    return token, clear, secret
