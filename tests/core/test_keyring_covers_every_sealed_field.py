"""Every column sealed with the field key is known to `custos keys rotate`: otherwise a rotation
says the old key may be removed while a value still needs it (device secrets and webhook URLs
were once missed, and devices then failed to sign in)."""

from django.apps import apps

from custos.core import keyring
from custos.core.sealed import SealedTextField


def test_every_sealed_column_is_registered_for_rotation():
    sealed = {
        f"{model._meta.label}.{field.name}"
        for model in apps.get_models()
        for field in model._meta.concrete_fields
        if field.name.endswith("_encrypted")
        or field.name == "totp_secret"
        or isinstance(field, SealedTextField)
    }
    registered = {f"{f.model}.{f.field}" for f in keyring.registered()}
    assert sealed, "the project seals columns"
    assert sealed <= registered, sorted(sealed - registered)
    assert {"archive.Message.text", "ledger.Entry.payload"} <= sealed
