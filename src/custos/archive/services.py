"""Writes of the archive: ingesting events from devices and connectors, linking a contact to a customer.

ingest() validates every event on its own (pydantic), resolves its employee, matches its
customer, and appends the valid ones in one append_batch: one transaction, idempotent by
(source, source_id). It returns one result per event, in order: accepted (with its seq),
duplicate (with the seq already there) or rejected (with the reason). One bad event never
sinks the others.

The source of an entry is the sender, not the token: `device:<employee id>` for a work phone,
`integration:<unit id>` for a connector, so a re-issued token keeps deduplicating.
"""

from dataclasses import dataclass
from datetime import UTC, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from pydantic import ValidationError

from custos.access import policy
from custos.access.models import ApiToken
from custos.archive import consent, matching, pseudonym
from custos.archive.models import ExternalContact
from custos.archive.schemas import MAX_BATCH, MONEY_TYPES, PAYLOADS, EventIn
from custos.core.errors import Forbidden, InvalidInput, NotFound
from custos.core.masking import mask_phone
from custos.customers import contacts
from custos.ledger.services import Event, append, append_batch
from custos.org.models import Employee

FUTURE_SLACK = timedelta(hours=1)


@dataclass
class Result:
    index: int
    status: str  # accepted | duplicate | rejected
    source_id: str | None = None
    seq: int | None = None
    reason: str | None = None

    def as_dict(self) -> dict:
        return {k: v for k, v in self.__dict__.items() if v is not None}


class TooMany(InvalidInput):
    code = "too_large"
    status = 413


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg', '')}" if where else str(first.get("msg", ""))


class _Employees:
    """Who an event is about: the token's employee, or for an integration one in its unit's subtree."""

    def __init__(self, token: ApiToken):
        self.token = token
        self.cache: dict[str, Employee | None] = {}

    def resolve(self, named: str | None) -> Employee:
        if self.token.kind == ApiToken.Kind.DEVICE:
            if named and named not in (self.token.employee.employee_no, self.token.employee.user.username):
                raise InvalidInput("a device token reports for its own employee only")
            return self.token.employee
        if not named:
            raise InvalidInput("employee: an integration names the employee of each event")
        if named not in self.cache:
            qs = Employee.objects.select_related("unit", "user").filter(
                unit__path__startswith=self.token.unit.path
            )
            self.cache[named] = (
                qs.filter(employee_no=named).first() or qs.filter(user__username=named).first()
            )
        found = self.cache[named]
        if found is None:
            raise InvalidInput(f"employee: no employee {named!r} in this integration's unit")
        return found


def source_of(token: ApiToken) -> str:
    if token.kind == ApiToken.Kind.DEVICE:
        return f"device:{token.employee_id}"
    return f"integration:{token.unit_id}"


def _phone(number: str) -> tuple[str, str]:
    """(masked, blind index) of a phone number, normalised as customer contacts are."""
    try:
        normalised = contacts.normalise_phone(number)
    except InvalidInput:
        # Short codes and foreign numbers still get logged; they just match no customer.
        normalised = "".join(ch for ch in number if ch.isdigit() or ch == "+") or number
    return mask_phone(normalised), contacts.index(contacts.Kind.PHONE, normalised)


def to_payload(kind: str, data: dict) -> dict:
    """The ledger payload (docs/events.md) of a validated wire payload."""
    if kind in ("message.sent", "message.received"):
        role = data.get("sender_role") or ("staff" if kind == "message.sent" else "customer")
        if (kind == "message.sent") != (role == "staff"):
            raise InvalidInput("sender_role: message.sent is from staff, message.received from the customer")
        data["sender_role"] = role
        if data["msgtype"] in MONEY_TYPES and data.get("amount") is None:
            raise InvalidInput(f"amount: a {data['msgtype']} carries its amount in fen")
        return data
    if kind == "call.logged":
        masked, index = _phone(data.pop("number"))
        return {**data, "number_masked": masked, "number_index": index}
    if kind == "contact.added":
        phone = data.pop("phone", None)
        if phone:
            data["phone_masked"], data["phone_index"] = _phone(phone)
        return data
    return data


def _validate(index: int, raw, employees: _Employees, source: str, now) -> tuple[Event, str | None]:
    if not isinstance(raw, dict):
        raise InvalidInput("an event is a JSON object")
    event = EventIn.model_validate(raw)
    model = PAYLOADS.get(event.kind)
    if model is None:
        raise InvalidInput(f"kind: unknown kind {event.kind!r} (known: {', '.join(PAYLOADS)})")
    try:
        occurred = event.occurred_at
        if timezone.is_naive(occurred):
            occurred = timezone.make_aware(occurred)
        # In UTC: an offset ISO 8601 allows but PostgreSQL refuses (beyond ±16 h) must not sink the batch.
        occurred = occurred.astimezone(UTC)
    except (OverflowError, ValueError):
        raise InvalidInput("occurred_at: out of range") from None
    if occurred.year < 2000:
        raise InvalidInput("occurred_at: before the year 2000")
    if occurred > now + FUTURE_SLACK:
        raise InvalidInput("occurred_at: in the future")
    payload = to_payload(event.kind, pseudonym.payload(model.model_validate(event.payload).model_dump(mode="json")))
    employee = employees.resolve(event.employee)
    return (
        Event(
            kind=event.kind,
            payload=payload,
            actor_id=employee.pk,
            unit_id=employee.unit_id,
            source=source,
            source_id=event.source_id,
            occurred_at=occurred,
        ),
        payload.get("contact"),
    )


def ingest(token: ApiToken, events: list) -> list[Result]:
    if not isinstance(events, list):
        raise InvalidInput(_("Send {\"events\": [...]}, a list of events."))
    if len(events) > MAX_BATCH:
        raise TooMany(
            _("A batch holds at most %(max)s events; this one has %(n)s. Split it.")
            % {"max": MAX_BATCH, "n": len(events)}
        )
    employees, source, now = _Employees(token), source_of(token), timezone.now()
    results: list[Result | None] = [None] * len(events)
    valid: list[tuple[int, Event]] = []
    for i, raw in enumerate(events):
        source_id = raw.get("source_id") if isinstance(raw, dict) and isinstance(raw.get("source_id"), str) else None
        try:
            event, _contact = _validate(i, raw, employees, source, now)
        except ValidationError as exc:
            results[i] = Result(i, "rejected", source_id, reason=_reason(exc))
        except InvalidInput as exc:
            results[i] = Result(i, "rejected", source_id, reason=exc.message)
        else:
            valid.append((i, event))
    if valid:
        matching.match_customers([e for _i, e in valid])
        consent.withhold([e for _i, e in valid])
        appended = append_batch([e for _i, e in valid])
        for (i, event), done in zip(valid, appended, strict=True):
            results[i] = Result(i, "duplicate" if done.duplicate else "accepted", event.source_id, seq=done.seq)
    return results


@transaction.atomic
def link_contact(*, actor: Employee, contact_id: int, customer_id: int):
    """Link an unmatched contact to a customer; its history in the read model follows.

    The ledger entries stay as they were (they are immutable); a `conversation.linked` entry
    records the link, and the projection back-fills customer_id on the contact's messages.
    """
    from custos.archive import selectors
    from custos.customers.selectors import get_customer

    policy.require_writer(actor)
    if actor.role not in policy.STAFF_MANAGERS:
        raise Forbidden(_("Only managers link contacts to customers."))
    contact = selectors.get_contact(actor, contact_id)
    customer = get_customer(actor, customer_id)
    if contact.customer_id == customer.pk:
        return contact
    if contact.customer_id is not None:
        raise InvalidInput(_("This contact is already linked to another customer."))
    append(
        "conversation.linked",
        {"contact": contact.external_id, "customer": customer.pk, "previous": contact.customer_id},
        actor_id=actor.pk,
        unit_id=customer.unit_id,
        customer_id=customer.pk,
        source="console",
    )
    refreshed = ExternalContact.objects.filter(pk=contact.pk).first()
    if refreshed is None:
        raise NotFound(_("Contact not found."))
    return refreshed
