"""Where an evidence package gets the files that entries refer to by hash.

Entries name attachments by hash only (payload `attachment` = {sha256, name, size, mime}); the
bytes live in whichever app stores them (the archive's encrypted content-addressed blob store).
That app registers a provider at start-up, in its AppConfig.ready():

    from custos.evidence import attachments

    def archive_files(entry):
        # entry: a custos.ledger.models.Entry whose payload names an attachment (never a
        # redacted one). Yield (sha256 hex, file name, bytes) for each file of the entry you hold;
        # yield nothing for files you do not have.
        ...
        yield sha256, name, data

    attachments.register(archive_files)

Providers are asked in the order registered; the first that yields a file whose bytes hash to
the hash the entry names wins (bytes that do not match are refused and the next provider asked).
A file no provider yields is listed in the package's manifest as not included, with the reason,
and the verifier reports it as such instead of failing.
"""

import hashlib
import json
from collections.abc import Callable, Iterable

Provider = Callable[[object], Iterable[tuple[str, str, bytes]]]

_providers: list[Provider] = []

NO_PROVIDER = "no attachment store is installed"
NOT_FOUND = "the attachment store does not hold this file"


def register(provider: Provider) -> None:
    if provider not in _providers:
        _providers.append(provider)


def unregister(provider: Provider) -> None:
    if provider in _providers:
        _providers.remove(provider)


def providers() -> list[Provider]:
    return list(_providers)


def wanted(entry) -> list[dict]:
    """The attachments an entry names: [{sha256, name, size, mime}] (none once redacted)."""
    if entry.payload is None:
        return []
    try:
        payload = json.loads(entry.payload)
    except ValueError:
        return []
    attachment = payload.get("attachment") if isinstance(payload, dict) else None
    if isinstance(attachment, dict) and isinstance(attachment.get("sha256"), str):
        return [attachment]
    return []


def fetch(entry, sha256: str) -> tuple[str | None, bytes | None, str]:
    """(name, bytes, "") of the file with this hash, or (None, None, reason it is not included)."""
    if not _providers:
        return None, None, NO_PROVIDER
    sha256 = sha256.lower()
    for provider in list(_providers):
        for digest, name, data in provider(entry) or ():
            if str(digest).lower() == sha256 and hashlib.sha256(data).hexdigest() == sha256:
                return name, data, ""
    return None, None, NOT_FOUND
