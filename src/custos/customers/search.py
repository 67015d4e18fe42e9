"""What a person types into the customers' search box: a name, a phone number, or 尾号.

"138 1234 5678", "138-1234-5678" and "+86 13812345678" are one number, found through the
blind index; four digits alone are the number's last four (尾号), found through the keyed tail
index; anything else is a name (names.py). A search by phone is a sensitive read, like a
reveal: it tells whether a number is a customer's, so each one is a ledger entry.
"""

import hashlib
import re
from dataclasses import dataclass

from django.utils import timezone

from custos.core.errors import InvalidInput
from custos.core.masking import mask_phone
from custos.customers import contacts
from custos.ledger.services import append
from custos.org.models import Employee

SEARCHED = "access.phone_searched"
_PHONE_LIKE = re.compile(r"^\+?[\d\s\-().]+$")
PHONE_MIN_DIGITS = 7


@dataclass(frozen=True)
class Query:
    kind: str  # "name", "phone" (E.164) or "tail" (four digits)
    value: str


def read(text: str | None) -> Query | None:
    text = (text or "").strip()
    if not text:
        return None
    if _PHONE_LIKE.match(text):
        digits = re.sub(r"\D", "", text)
        if len(digits) == contacts.TAIL_DIGITS and not text.startswith("+"):
            return Query("tail", digits)
        if len(digits) >= PHONE_MIN_DIGITS:
            try:
                return Query("phone", contacts.normalise_phone(text))
            except InvalidInput:
                return Query("name", text)  # not a number after all; a name holding digits
    return Query("name", text)


def shown(query: Query) -> str:
    """The searched number as the ledger and the page show it: masked, the tail as typed."""
    return mask_phone(query.value) if query.kind == "phone" else f"****{query.value}"


def record(viewer: Employee, query: Query, found: int, source: str = "console") -> None:
    """One entry per person, number and minute: typing the same search again adds nothing."""
    minute = timezone.now().strftime("%Y%m%d%H%M")
    digest = hashlib.sha256(f"{query.kind}:{query.value}".encode()).hexdigest()[:16]
    append(
        SEARCHED,
        {"by": query.kind, "searched": shown(query), "found": found},
        actor_id=viewer.pk,
        unit_id=viewer.unit_id,
        source=f"customers.search.{source}",
        source_id=f"{viewer.pk}:{digest}:{minute}",
    )
