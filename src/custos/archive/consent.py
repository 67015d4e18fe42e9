"""A customer's refusal of archiving, where the source reports one, and what Custos keeps then.

WeCom's archive tells when an external contact agrees to or refuses archiving (msgtype `agree` /
`disagree`, seed 001 and PIPL: the customer's word counts). The archive projection keeps the
latest word per contact (ExternalContact.consent). Custos respects a refusal where it enters:
before the ledger sees them (custos.archive.services.ingest and the WeCom archive pull), message
events of a contact who refused at or before their time keep who, when and what kind, but not
the words or the attachment: `text` and `attachment` are dropped and `withheld` says why. An
agreement later lets the content in again from its time on.
"""

from datetime import datetime

from django.utils import timezone

from custos.archive.models import ExternalContact
from custos.ledger.services import Event

MESSAGE_KINDS = ("message.sent", "message.received")
AGREE, DISAGREE = "agree", "disagree"
AGREED, REFUSED = "agreed", "refused"
WITHHELD = "customer_refused_archiving"


def _when(event: Event) -> datetime:
    at = event.occurred_at or timezone.now()
    return timezone.make_aware(at) if timezone.is_naive(at) else at


def word_of(event: Event) -> str | None:
    """AGREED or REFUSED when this event is a customer's word on archiving."""
    if event.kind not in MESSAGE_KINDS or not isinstance(event.payload, dict):
        return None
    msgtype = event.payload.get("msgtype")
    return AGREED if msgtype == AGREE else REFUSED if msgtype == DISAGREE else None


def withhold(events: list[Event]) -> int:
    """Drop the content of message events whose contact had refused archiving at their time (the
    stored word, then the words in this batch in time order). Returns how many were withheld."""
    keys = {
        e.payload.get("contact")
        for e in events
        if e.kind in MESSAGE_KINDS and isinstance(e.payload, dict) and e.payload.get("contact")
    }
    if not keys:
        return 0
    # (time, order, word): a stored word comes before this batch's at the same time; in the
    # batch, a word covers the messages after it (by time, then by their place in the batch).
    state: dict[str, list[tuple[datetime, int, str]]] = {
        key: [(at, -1, word)]
        for key, word, at in ExternalContact.objects.filter(external_id__in=list(keys), consent__in=[AGREED, REFUSED])
        .exclude(consent_at__isnull=True)
        .values_list("external_id", "consent", "consent_at")
    }
    for i, e in enumerate(events):
        word = word_of(e)
        if word and e.payload.get("contact"):
            state.setdefault(e.payload["contact"], []).append((_when(e), i, word))
    if not any(word == REFUSED for words in state.values() for _at, _i, word in words):
        return 0
    for words in state.values():
        words.sort()
    withheld = 0
    for i, e in enumerate(events):
        key = e.payload.get("contact") if isinstance(e.payload, dict) else None
        if e.kind not in MESSAGE_KINDS or key not in state or word_of(e):
            continue
        at = (_when(e), i)
        latest = [word for when, order, word in state[key] if (when, order) < at]
        if latest and latest[-1] == REFUSED and not e.payload.get("withheld"):
            e.payload = {**e.payload, "text": "", "attachment": None, "withheld": WITHHELD}
            if "raw" in e.payload:
                e.payload["raw"] = {}  # the source's own copy of the content goes too
            withheld += 1
    return withheld


def record(contact: ExternalContact, word: str, at: datetime) -> bool:
    """Keep a contact's latest word (the projection calls this); True when it changed."""
    if contact.consent_at is not None and at < contact.consent_at:
        return False
    contact.consent, contact.consent_at = word, at
    return True
