"""The connection's secrets, sealed with the field key and registered for `custos keys rotate`."""

from custos.core import crypto, keyring

# field on Connection -> name for operators (keys status, rotation entries)
SEALED = {
    "app_secret_encrypted": "wecom.app_secret",
    "contact_secret_encrypted": "wecom.contact_secret",
    "directory_secret_encrypted": "wecom.directory_secret",
    "callback_token_encrypted": "wecom.callback_token",
    "callback_aes_key_encrypted": "wecom.callback_aes_key",
}
KINDS = {"app": "app_secret_encrypted", "contact": "contact_secret_encrypted", "directory": "directory_secret_encrypted"}


def aad(field: str) -> bytes:
    # Bound to the column: a ciphertext copied into another secret's column does not open.
    return f"wecom.connection:{field}".encode()


def token_aad(secret_kind: str) -> bytes:
    return f"wecom.token:{secret_kind}".encode()


def register_encrypted() -> None:
    for field, name in SEALED.items():
        keyring.register(name, "wecom.Connection", field, aad=lambda _row, f=field: aad(f))
    keyring.register("wecom.access_token", "wecom.AccessToken", "token_encrypted", aad=lambda t: token_aad(t.secret_kind))


def seal(field: str, value: str) -> str:
    return crypto.encrypt(value, aad=aad(field)) if value else ""


def open_field(connection, field: str) -> str:
    sealed = getattr(connection, field)
    return crypto.decrypt(sealed, aad=aad(field)) if sealed else ""
