"""The chat archive's settings and the company's private keys, one per publickey_ver.

WeCom encrypts each record's random key with the public key current when the record was written; a
company that rotates its key pair gets a new publickey_ver, and older records stay under the older one.
So every private key is kept (sealed with the field key), and a record under a version with no key, or
one the key on file does not open, is held as WeCom sent it (HeldRecord), never dropped: adding the key
imports it (release_held, run by the worker when a key is added).

Adding a key for a version that has held records first tries it on one of them: a key that does not
open them is refused with that reason rather than stored.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

from cryptography.hazmat.primitives import serialization
from django.conf import settings as django_settings
from django.db import transaction
from django.utils.translation import gettext as _

from custos.core.errors import InvalidInput
from custos.ledger.services import append
from custos.org.models import Employee
from custos.wecom import archive_sealed, finance_crypto
from custos.wecom.models import ArchiveKey, ArchiveSettings, HeldRecord

SDK_PATH_ENV = "CUSTOS_WECOM_SDK_PATH"


def settings_row() -> ArchiveSettings:
    row, _created = ArchiveSettings.objects.get_or_create(pk=1)
    return row


def sdk_path(row: ArchiveSettings) -> str:
    return row.sdk_path or os.environ.get(SDK_PATH_ENV, "") or getattr(django_settings, SDK_PATH_ENV, "")


def secret(row: ArchiveSettings) -> str:
    return archive_sealed.unseal(row.archive_secret_encrypted, archive_sealed.settings_aad("archive_secret_encrypted"))


def proxy_password(row: ArchiveSettings) -> str:
    return archive_sealed.unseal(row.proxy_password_encrypted, archive_sealed.settings_aad("proxy_password_encrypted"))


@dataclass(frozen=True)
class Ready:
    ok: bool
    reason: str = ""


def ready(row: ArchiveSettings | None = None) -> Ready:
    """Whether a pull can run, and if not, what is missing (in words for the operator)."""
    from custos.wecom import services

    row = row or settings_row()
    if not services.connection().corp_id:
        return Ready(False, _("The WeCom connection has no corp id yet."))
    if not row.archive_secret_encrypted:
        return Ready(False, _("The chat archive's Secret is not set."))
    if not sdk_path(row):
        return Ready(False, _("The path of the Finance SDK library is not set (CUSTOS_WECOM_SDK_PATH)."))
    return Ready(True)


@transaction.atomic
def configure(
    *,
    actor: Employee | None,
    secret: str | None = None,
    sdk_path: str | None = None,
    proxy: str | None = None,
    proxy_password: str | None = None,
    enabled: bool | None = None,
) -> ArchiveSettings:
    """Set what is given (None leaves a setting as it is); a `wecom.archive_configured` entry names what
    changed, never a secret's value."""
    if actor is not None:
        from custos.wecom import services

        services.require_admin(actor)
    row = ArchiveSettings.objects.select_for_update().filter(pk=1).first() or settings_row()
    changed: list[str] = []
    if secret is not None:
        row.archive_secret_encrypted = archive_sealed.seal(
            secret.strip(), archive_sealed.settings_aad("archive_secret_encrypted")
        )
        changed.append("secret")
    if proxy_password is not None:
        row.proxy_password_encrypted = archive_sealed.seal(
            proxy_password, archive_sealed.settings_aad("proxy_password_encrypted")
        )
        changed.append("proxy_password")
    if sdk_path is not None:
        row.sdk_path = sdk_path.strip()[:500]
        changed.append("sdk_path")
    if proxy is not None:
        proxy = proxy.strip()
        if proxy and not proxy.startswith(("http://", "https://", "socks5://")):
            raise InvalidInput(_("The proxy is a URL: http://, https:// or socks5://host:port."))
        row.proxy = proxy[:300]
        changed.append("proxy")
    if enabled is not None:
        row.enabled = bool(enabled)
        changed.append("enabled")
    row.save()
    append(
        "wecom.archive_configured",
        {"changed": changed, "enabled": row.enabled, "sdk_path": sdk_path_or_env(row)},
        actor_id=actor.pk if actor else None,
        unit_id=actor.unit_id if actor else None,
        source="console" if actor else "cli",
    )
    return row


def sdk_path_or_env(row: ArchiveSettings) -> str:
    return row.sdk_path or (f"${SDK_PATH_ENV}" if os.environ.get(SDK_PATH_ENV) else "")


def fingerprint(key) -> str:
    der = key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def add_key(*, actor: Employee | None, version: int, pem: str | bytes) -> ArchiveKey:
    """Store (or replace) the private key of `version`; held records of that version are imported next."""
    if actor is not None:
        from custos.wecom import services

        services.require_admin(actor)
    if not isinstance(version, int) or not 0 < version < 1 << 31:
        raise InvalidInput(_("publickey_ver is a positive whole number (WeCom shows it beside the public key)."))
    try:
        key = finance_crypto.load_private_key(pem)
    except ValueError as exc:
        raise InvalidInput(_("Not a usable RSA private key: %(reason)s") % {"reason": exc}) from None
    sample = HeldRecord.objects.filter(status=HeldRecord.Status.HELD, publickey_ver=version).first()
    if sample is not None:
        try:
            finance_crypto.decrypt_random_key(key, sample.encrypt_random_key)
        except finance_crypto.RandomKeyError:
            raise InvalidInput(
                _("This key does not open the records held under publickey_ver %(v)s (seq %(seq)s): "
                  "it is not the private key of that version.") % {"v": version, "seq": sample.seq}
            ) from None  # fmt: skip
    pem_text = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    print_ = fingerprint(key)
    with transaction.atomic():
        existing = ArchiveKey.objects.select_for_update().filter(version=version).first()
        row = existing or ArchiveKey(version=version)
        row.private_key_encrypted = archive_sealed.seal(pem_text, archive_sealed.key_aad(version))
        row.fingerprint = print_
        row.added_by = actor
        row.save()
        append(
            "wecom.archive_key_added",
            {"version": version, "fingerprint": print_, "replaced": existing is not None},
            actor_id=actor.pk if actor else None,
            unit_id=actor.unit_id if actor else None,
            source="console" if actor else "cli",
        )
        transaction.on_commit(lambda: _release_soon(version))
    return row


def _release_soon(version: int) -> None:
    from custos.wecom import tasks

    tasks.archive_release_held(version)


def decryptor() -> finance_crypto.RandomKeyDecryptor:
    keys = {
        k.version: archive_sealed.unseal(k.private_key_encrypted, archive_sealed.key_aad(k.version))
        for k in ArchiveKey.objects.all()
    }
    return finance_crypto.RandomKeyDecryptor({v: pem for v, pem in keys.items() if pem})


def held_summary() -> dict[tuple[int, str], int]:
    """(publickey_ver, reason) → records held: what the status line and the console show."""
    from django.db.models import Count

    rows = (
        HeldRecord.objects.filter(status=HeldRecord.Status.HELD)
        .values_list("publickey_ver", "reason")
        .annotate(n=Count("pk"))
        .order_by("publickey_ver", "reason")
    )
    return {(v, r): n for v, r, n in rows}


def release_held(version: int | None = None, *, batch: int = 500) -> int:
    """Import the held records a key now opens (every version, or one); returns how many went in.

    Records that still do not open stay held with the new reason; the loop goes by seq, so each held
    record is tried once per call.
    """
    from custos.wecom import archive_pull

    keys = decryptor()
    sdk = archive_pull.decrypting_sdk(settings_row())
    imported, last_seq = 0, -1
    while True:
        held = HeldRecord.objects.filter(
            status=HeldRecord.Status.HELD, seq__gt=last_seq, publickey_ver__in=list(keys.versions)
        )
        if version is not None:
            held = held.filter(publickey_ver=version)
        page = list(held.order_by("seq")[:batch])
        if not page:
            return imported
        last_seq = page[-1].seq
        records = [
            {"seq": h.seq, "msgid": h.msgid, "publickey_ver": h.publickey_ver,
             "encrypt_random_key": h.encrypt_random_key, "encrypt_chat_msg": h.encrypt_chat_msg}
            for h in page
        ]  # fmt: skip
        imported += archive_pull.store_records(sdk, keys, records).opened
