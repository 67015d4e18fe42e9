"""Contact values: normalising what people type, sealing it for the database, masking it for display.

Phones become E.164 (+8613812345678) whatever way they were written, so "138 1234 5678",
"+86 138-1234-5678" and "008613812345678" are one number for the duplicate check. WeChat and
WeCom ids compare without case. Addresses are kept as typed and never indexed.
"""

import re
from dataclasses import dataclass

import phonenumbers
from django.conf import settings
from django.utils.translation import gettext as _

from custos.core import crypto
from custos.core.errors import InvalidInput
from custos.core.masking import mask_phone, mask_text
from custos.customers.models import CustomerContact

Kind = CustomerContact.Kind
# Kinds with a blind index: exact look-up and "already belongs to a customer of ..." checks.
INDEXED = {Kind.PHONE, Kind.WECHAT, Kind.WECOM}
MAX_LENGTH = {Kind.PHONE: 40, Kind.WECHAT: 64, Kind.WECOM: 64, Kind.ADDRESS: 200}
_ID = re.compile(r"^[^\s]{1,64}$")


def default_region() -> str:
    return getattr(settings, "CUSTOS_PHONE_REGION", "CN")


def normalise_phone(value: str) -> str:
    text = (value or "").strip()
    try:
        number = phonenumbers.parse(text, default_region())
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_valid_number(number):
        raise InvalidInput(_("“%(value)s” is not a valid phone number.") % {"value": text[:40]})
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise(kind: str, value: str) -> str:
    """The canonical form of a contact value, or InvalidInput saying what is wrong with it."""
    if kind not in Kind.values:
        raise InvalidInput(_("Unknown contact kind: %(kind)s") % {"kind": kind})
    text = (value or "").strip()
    if not text:
        raise InvalidInput(_("The contact value is empty."))
    if "\x00" in text or len(text) > MAX_LENGTH[kind]:
        raise InvalidInput(_("The contact value is too long or holds characters that are not allowed."))
    if kind == Kind.PHONE:
        return normalise_phone(text)
    if kind in (Kind.WECHAT, Kind.WECOM):
        if not _ID.match(text):
            raise InvalidInput(_("A WeChat or WeCom id has no spaces."))
        return text.lower()
    return " ".join(text.split())


def aad(customer_id: int, kind: str) -> bytes:
    """Binds a ciphertext to its customer and kind: moved to another row, it fails to decrypt."""
    return f"custos.customer:{customer_id}:{kind}".encode()


def index(kind: str, normalised: str) -> str | None:
    return crypto.blind_index(normalised, purpose=f"customer.{kind}") if kind in INDEXED else None


TAIL_DIGITS = 4


def tail_index(kind: str, normalised: str) -> str | None:
    """The keyed index of a phone's last four digits (尾号); other kinds have none."""
    if kind != Kind.PHONE:
        return None
    digits = re.sub(r"\D", "", normalised)
    return crypto.blind_index(digits[-TAIL_DIGITS:], purpose="customer.phone.tail") if len(digits) >= TAIL_DIGITS else None


def mask(kind: str, normalised: str) -> str:
    if kind == Kind.PHONE:
        return mask_phone(normalised)
    if kind == Kind.ADDRESS:
        # Enough to know the city and district, not the door.
        return normalised[:6] + "****"
    return mask_text(normalised, keep=2)


@dataclass(frozen=True)
class Sealed:
    value_encrypted: str
    blind_index: str | None
    masked: str
    tail_index: str | None = None


def seal(customer_id: int, kind: str, normalised: str) -> Sealed:
    return Sealed(
        value_encrypted=crypto.encrypt(normalised, aad=aad(customer_id, kind)),
        blind_index=index(kind, normalised),
        masked=mask(kind, normalised),
        tail_index=tail_index(kind, normalised),
    )


def open_value(contact: CustomerContact) -> str:
    return crypto.decrypt(contact.value_encrypted, aad=aad(contact.customer_id, contact.kind))
