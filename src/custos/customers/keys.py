"""Re-encrypting customer contacts under the newest field key.

A ciphertext names its key version ("v2:..."); after a new version is added to
CUSTOS_FIELD_KEYS (or the field-keys file), old rows still decrypt with the old key, and this
re-encrypts them with the new one so the old key can eventually be retired. Each row keeps its
associated data (customer and kind), so a row moved by a merge stays bound to its customer.
"""

from collections.abc import Callable

from django.db import transaction

from custos.core import crypto
from custos.customers import contacts
from custos.customers.models import CustomerContact

BATCH = 500


def stale_contacts():
    """Contacts whose ciphertext is not under the current key version."""
    current = f"v{crypto.current_version()}:"
    return CustomerContact.objects.exclude(value_encrypted__startswith=current)


def reencrypt_contacts(*, progress: Callable[[int], None] | None = None) -> int:
    """Re-encrypt every stale contact, a batch per transaction; returns how many were done."""
    done = 0
    while True:
        with transaction.atomic():
            batch = list(stale_contacts().select_for_update().order_by("pk")[:BATCH])
            if not batch:
                return done
            for contact in batch:
                value = contacts.open_value(contact)
                contact.value_encrypted = crypto.encrypt(
                    value, aad=contacts.aad(contact.customer_id, contact.kind)
                )
            CustomerContact.objects.bulk_update(batch, ["value_encrypted"])
        done += len(batch)
        if progress:
            progress(len(batch))
