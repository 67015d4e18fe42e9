"""Writes of what happens with a customer: follow-ups (跟进记录), purchases, feedback.

Each is a row for the customer's page and a ledger entry for the evidence, in one transaction.
A follow-up moves the customer's last contact and next follow-up dates.
"""

from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.core.errors import InvalidInput
from custos.customers import profiles, rules
from custos.customers.models import Customer, Feedback, FollowUp, Purchase
from custos.customers.services import SOURCE, record, require_live
from custos.org.models import Employee

# Clocks of phones and laptops drift; a few minutes ahead is not "in the future".
CLOCK_SKEW = timedelta(minutes=5)
MAX_AMOUNT = Decimal("9999999999.99")


def _text(value: str, *, field: str, limit: int, required: bool = False) -> str:
    text = (value or "").strip()
    if required and not text:
        raise InvalidInput(_("%(field)s is empty.") % {"field": field})
    if len(text) > limit or "\x00" in text:
        raise InvalidInput(_("%(field)s is at most %(n)d characters.") % {"field": field, "n": limit})
    profiles.refuse_phone_numbers(text)
    return text


def _not_future(when: datetime) -> datetime:
    if timezone.is_naive(when):
        when = timezone.make_aware(when)
    if when > timezone.now() + CLOCK_SKEW:
        raise InvalidInput(_("That time is in the future."))
    return when


@transaction.atomic
def add_follow_up(
    *,
    actor: Employee,
    customer: Customer,
    kind: str,
    content: str,
    outcome: str = "",
    occurred_at: datetime | None = None,
    next_follow_up_on: date | None = None,
    ledger_source: str = SOURCE,
) -> FollowUp:
    rules.require_editor(actor, customer)
    require_live(customer)
    if kind not in FollowUp.Kind.values:
        raise InvalidInput(_("Unknown follow-up type: %(kind)s") % {"kind": kind})
    content = _text(content, field=_("Content"), limit=2000, required=True)
    outcome = _text(outcome, field=_("Outcome"), limit=200)
    occurred_at = _not_future(occurred_at or timezone.now())
    day = timezone.localdate(occurred_at)
    if next_follow_up_on is not None and next_follow_up_on < day:
        raise InvalidInput(_("The next follow-up cannot be before this one."))
    follow_up = FollowUp.objects.create(
        customer=customer,
        author=actor,
        kind=kind,
        content=content,
        outcome=outcome,
        occurred_at=occurred_at,
        next_follow_up_on=next_follow_up_on,
    )
    fields = []
    # A note is written about the customer, not with them: it is not a contact.
    if kind != FollowUp.Kind.NOTE and (
        customer.last_contact_at is None or occurred_at > customer.last_contact_at
    ):
        customer.last_contact_at = occurred_at
        fields.append("last_contact_at")
    if next_follow_up_on is not None:
        customer.next_follow_up_on = next_follow_up_on
        fields.append("next_follow_up_on")
    elif kind != FollowUp.Kind.NOTE and customer.next_follow_up_on and customer.next_follow_up_on <= day:
        customer.next_follow_up_on = None  # the follow-up that was due has happened
        fields.append("next_follow_up_on")
    if fields:
        customer.save(update_fields=[*fields, "updated_at"])
    record(
        "customer.follow_up_added",
        actor,
        customer,
        {
            "follow_up": follow_up.pk,
            "kind": kind,
            "content": content,
            "outcome": outcome,
            "occurred_at": occurred_at.isoformat(),
            "next_follow_up_on": next_follow_up_on.isoformat() if next_follow_up_on else None,
        },
        ledger_source,
    )
    return follow_up


def _amount(value) -> Decimal:
    try:
        amount = Decimal(str(value)).quantize(Decimal("0.01"))
    except (InvalidOperation, ValueError) as exc:
        raise InvalidInput(_("The amount is not a number.")) from exc
    if not amount.is_finite() or amount < 0 or amount > MAX_AMOUNT:
        raise InvalidInput(_("The amount must be between 0 and %(max)s.") % {"max": MAX_AMOUNT})
    return amount


@transaction.atomic
def add_purchase(
    *,
    actor: Employee,
    customer: Customer,
    product: str,
    amount,
    purchased_on: date | None = None,
    note: str = "",
    ledger_source: str = SOURCE,
) -> Purchase:
    rules.require_editor(actor, customer)
    require_live(customer)
    product = _text(product, field=_("Product"), limit=100, required=True)
    note = _text(note, field=_("Note"), limit=200)
    amount = _amount(amount)
    purchased_on = purchased_on or timezone.localdate()
    if purchased_on > timezone.localdate() + timedelta(days=1):
        raise InvalidInput(_("That date is in the future."))
    purchase = Purchase.objects.create(
        customer=customer,
        product=product,
        amount=amount,
        purchased_on=purchased_on,
        note=note,
        recorded_by=actor,
    )
    record(
        "customer.purchase_added",
        actor,
        customer,
        {
            "purchase": purchase.pk,
            "product": product,
            "amount": str(amount),
            "purchased_on": purchased_on.isoformat(),
            "note": note,
        },
        ledger_source,
    )
    return purchase


@transaction.atomic
def add_feedback(
    *, actor: Employee, customer: Customer, rating: int, complaint: str = "", ledger_source: str = SOURCE
) -> Feedback:
    rules.require_editor(actor, customer)
    require_live(customer)
    if type(rating) is not int or not 1 <= rating <= 5:
        raise InvalidInput(_("A rating is from 1 to 5."))
    complaint = _text(complaint, field=_("Complaint"), limit=2000)
    feedback = Feedback.objects.create(
        customer=customer, rating=rating, complaint=complaint, recorded_by=actor
    )
    record(
        "customer.feedback_added",
        actor,
        customer,
        {"feedback": feedback.pk, "rating": rating, "complaint": complaint},
        ledger_source,
    )
    return feedback
