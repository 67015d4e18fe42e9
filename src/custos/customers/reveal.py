"""Seeing a contact in clear (查看明文): the right role, a reason, a ledger entry, and a limit.

Copying the customer list one number at a time is how a leaving salesperson takes it, so
revealing is capped per person per hour (settings.CUSTOS_REVEAL_LIMIT_PER_HOUR, default 20).
Past the cap the reveal is refused and a `risk.bulk_reveal` entry is written for the detectors.
"""

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.core.errors import Forbidden, InvalidInput
from custos.customers import contacts, rules
from custos.customers.models import CustomerContact
from custos.ledger.models import Entry
from custos.ledger.services import append
from custos.org.models import Employee

REVEALED = "access.revealed"
BULK_REVEAL = "risk.bulk_reveal"
WINDOW = timedelta(hours=1)


def limit_per_hour() -> int:
    return int(getattr(settings, "CUSTOS_REVEAL_LIMIT_PER_HOUR", 20))


def reveals_in_window(viewer: Employee) -> int:
    since = timezone.now() - WINDOW
    return Entry.objects.filter(kind=REVEALED, actor_id=viewer.pk, occurred_at__gte=since).count()


def reveal_contact(
    *, viewer: Employee, contact: CustomerContact, reason: str, source: str = "console"
) -> str:
    """The contact's value in clear, for a manager or the customer's owner who says why."""
    customer = contact.customer
    rules.require_in_scope(viewer, customer)
    if not rules.may_reveal(viewer, customer):
        raise Forbidden(_("Only managers and the customer's owner may see contact details in clear."))
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput(_("Say why you need to see this contact in clear."))
    if len(reason) > 200 or "\x00" in reason:
        raise InvalidInput(_("The reason is at most 200 characters."))

    limit = limit_per_hour()
    with transaction.atomic():
        # One viewer's reveals queue behind each other, so two at once cannot both slip under the cap.
        list(Employee.objects.select_for_update().filter(pk=viewer.pk).values_list("pk", flat=True))
        count = reveals_in_window(viewer)
        if count >= limit:
            now = timezone.localtime()
            append(
                BULK_REVEAL,
                {
                    "employee": viewer.pk,
                    "limit": limit,
                    "count": count,
                    "contact": contact.pk,
                    "kind": contact.kind,
                },
                actor_id=viewer.pk,
                unit_id=viewer.unit_id,
                customer_id=customer.pk,
                source="customers.reveal",
                # One signal per person per hour, however often they keep trying.
                source_id=f"bulk:{viewer.pk}:{now:%Y%m%d%H}",
            )
            value = None
        else:
            value = contacts.open_value(contact)
            append(
                REVEALED,
                {"contact": contact.pk, "kind": contact.kind, "masked": contact.masked, "reason": reason},
                actor_id=viewer.pk,
                unit_id=customer.unit_id,
                customer_id=customer.pk,
                source=source,
            )
    # Raised after the transaction, so the risk entry stays written.
    if value is None:
        raise Forbidden(
            _(
                "You have revealed %(n)d contacts in the last hour, the limit. This was recorded; ask a manager."
            )
            % {"n": count},
            code="reveal_limit",
        )
    return value
