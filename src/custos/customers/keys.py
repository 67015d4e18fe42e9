"""Customer contacts under key rotation (`custos keys rotate`, custos.core.keyring).

Each contact is sealed with its customer and kind as associated data, so a row moved by a
merge stays bound to its customer; the rotation re-seals it with the same binding.
"""

from collections.abc import Callable

from custos.core import keyring
from custos.customers import contacts

FIELD = "customers.contact"


def register() -> None:
    keyring.register(
        FIELD,
        "customers.CustomerContact",
        "value_encrypted",
        aad=lambda contact: contacts.aad(contact.customer_id, contact.kind),
    )


def _field() -> keyring.EncryptedField:
    return next(f for f in keyring.registered() if f.name == FIELD)


def stale_contacts():
    """Contacts whose ciphertext is not under the current key version."""
    return _field().stale()


def reencrypt_contacts(*, progress: Callable[[int], None] | None = None, limit: int | None = None) -> int:
    return keyring.reencrypt(_field(), progress=progress, limit=limit)
