"""The chat archive's sealed columns (its secret, proxy password, private keys, messages set aside),
registered with custos.core.keyring so `custos keys rotate` re-seals them.

No model import here: wecom.models registers these when it loads, before the app registry is ready.
"""

from custos.core import crypto, keyring

# column on ArchiveSettings -> name for operators
SETTINGS = {
    "archive_secret_encrypted": "wecom.archive_secret",
    "proxy_password_encrypted": "wecom.archive_proxy_password",
}


def settings_aad(field: str) -> bytes:
    # Bound to the column: a ciphertext copied into another column does not open.
    return f"wecom.archive_settings:{field}".encode()


def key_aad(version: int) -> bytes:
    # Bound to the version: a key moved to another version's row does not open.
    return f"wecom.archive_key:{int(version)}".encode()


def message_aad(msgid: str) -> bytes:
    return f"wecom.archive_message:{msgid}".encode()


def register_encrypted() -> None:
    for field, name in SETTINGS.items():
        keyring.register(name, "wecom.ArchiveSettings", field, aad=lambda _row, f=field: settings_aad(f))
    keyring.register("wecom.archive_key", "wecom.ArchiveKey", "private_key_encrypted", aad=lambda k: key_aad(k.version))
    keyring.register(
        "wecom.archive_message", "wecom.ArchiveMessage", "message_encrypted", aad=lambda m: message_aad(m.msgid)
    )


def seal(value: str, aad: bytes) -> str:
    return crypto.encrypt(value, aad=aad) if value else ""


def unseal(sealed: str, aad: bytes) -> str:
    return crypto.decrypt(sealed, aad=aad) if sealed else ""
