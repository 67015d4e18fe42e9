"""Which columns hold field-encrypted data, and moving them to the current key version.

Each app registers its encrypted columns in its AppConfig.ready() with the associated data it
binds them to; `custos keys rotate` and `custos keys status` work over whatever is registered,
so a new encrypted column joins key rotation by registering, not by editing the command.

Re-encryption goes a batch per transaction and picks the rows not yet under the current
version, so stopping it anywhere and running it again carries on where it stopped; until then
old rows still decrypt with their old key.

Files sealed under a field key (archive attachments) join the same way with `register_files`:
the store says how many files each version sealed and re-encrypts its stale ones itself.

A rotation's progress is a KeyRotation row: `start_rotation` opens it, each batch adds to its
counts inside the batch's own transaction (the `counted` callbacks), `finish_rotation` closes
it. The command writes the ledger entries around them (custos.core.management.commands.keys).
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.db import models, transaction
from django.db.models import Count, Value
from django.db.models.functions import StrIndex, Substr
from django.utils import timezone

from custos.core import crypto

BATCH = 500


@dataclass(frozen=True)
class EncryptedField:
    name: str  # what operators read: "customers.contact"
    model: str  # app_label.ModelName
    field: str
    aad: Callable[[models.Model], bytes] | None  # the associated data the value was sealed with
    batch: int | None = None  # rows per transaction, when its values are large (whole files)
    # A custos.core.sealed column: the model reads it opened and seals it on save, so re-saving
    # a row re-seals it under the current key.
    sealed_field: bool = False

    @property
    def model_class(self) -> type[models.Model]:
        return apps.get_model(self.model)

    def sealed(self) -> models.QuerySet:
        """Rows that hold a ciphertext (an empty column means nothing is stored)."""
        return self.model_class._default_manager.exclude(**{self.field: ""}).exclude(
            **{f"{self.field}__isnull": True}
        )

    def stale(self) -> models.QuerySet:
        return self.sealed().exclude(**{f"{self.field}__startswith": f"v{crypto.current_version()}:"})


_registry: dict[str, EncryptedField] = {}


def register(
    name: str,
    model: str,
    field: str,
    aad: Callable[[models.Model], bytes] | None,
    *,
    batch: int | None = None,
    sealed_field: bool = False,
) -> None:
    _registry[name] = EncryptedField(name, model, field, aad, batch, sealed_field)


def registered() -> list[EncryptedField]:
    return [_registry[k] for k in sorted(_registry)]


def rows_by_version(field: EncryptedField) -> dict[int, int]:
    """How many rows of the column each key version sealed ("v2:..." -> 2)."""
    head = Substr(field.field, 2, StrIndex(field.field, Value(":")) - 2)
    # An alias no model uses for a field of its own (ArchiveKey has a `version`).
    rows = (
        field.sealed()
        .order_by()
        .annotate(sealed_key_version=head)
        .values("sealed_key_version")
        .annotate(n=Count("pk"))
        .values_list("sealed_key_version", "n")
    )
    return {int(v): n for v, n in sorted(rows, key=lambda r: int(r[0]))}


@dataclass(frozen=True)
class EncryptedFiles:
    """Files sealed under a field key, kept outside the database (e.g. archive attachments)."""

    name: str  # what operators read: "archive.blobs"
    by_version: Callable[[], dict[int | None, int]]  # files per key version (None: not yet known)
    stale_count: Callable[[], int]  # files not known to be under the current version
    # reencrypt(limit=, progress=, counted=, problems=) -> files re-encrypted. progress(n) for
    # each file looked at; counted(n) inside the transaction that records a re-encrypted file;
    # a file that cannot be re-encrypted is skipped with a line in `problems`.
    reencrypt: Callable[..., int]


_files: dict[str, EncryptedFiles] = {}


def register_files(
    name: str,
    *,
    by_version: Callable[[], dict[int | None, int]],
    stale_count: Callable[[], int],
    reencrypt: Callable[..., int],
) -> None:
    _files[name] = EncryptedFiles(name, by_version, stale_count, reencrypt)


def registered_files() -> list[EncryptedFiles]:
    return [_files[k] for k in sorted(_files)]


def stale_rows() -> int:
    return sum(f.stale().count() for f in registered())


def stale_files() -> int:
    return sum(f.stale_count() for f in registered_files())


def stale_count() -> int:
    """Rows and files not yet under the current key version."""
    return stale_rows() + stale_files()


def reencrypt(
    field: EncryptedField,
    *,
    batch: int = BATCH,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
    counted: Callable[[int], None] | None = None,
) -> int:
    """Re-seal the column's rows under the current key, `batch` rows per transaction.

    Stops after `limit` rows when given (the rest wait for the next run); returns how many rows
    were re-sealed. `counted(n)` runs inside each batch's transaction (a rotation's counts).
    """
    done = 0
    batch = min(batch, field.batch or batch)
    while limit is None or done < limit:
        size = batch if limit is None else min(batch, limit - done)
        with transaction.atomic():
            stale = field.stale().select_for_update().order_by("pk")
            if field.sealed_field:
                stale = stale.only(field.field)
            rows = list(stale[:size])
            if not rows:
                break
            for row in rows if not field.sealed_field else ():
                aad = field.aad(row)
                value = crypto.decrypt(getattr(row, field.field), aad=aad)
                setattr(row, field.field, crypto.encrypt(value, aad=aad))
            field.model_class._default_manager.bulk_update(rows, [field.field])
            if counted:
                counted(len(rows))
        done += len(rows)
        if progress:
            progress(len(rows))
    return done


# --- a rotation's progress ----------------------------------------------------------------


def open_rotation():
    """The unfinished rotation, if any (the newest: an older one is superseded by it)."""
    from custos.core.models import KeyRotation

    return KeyRotation.objects.filter(finished_at__isnull=True).order_by("-id").first()


def older_versions() -> list[int]:
    """Key versions other than the current one that still seal a row or a file."""
    current = crypto.current_version()
    found: set[int] = set()
    for field in registered():
        found.update(v for v, n in rows_by_version(field).items() if n and v != current)
    for files in registered_files():
        found.update(v for v, n in files.by_version().items() if n and v is not None and v != current)
    return sorted(found)


def stale_by_name() -> dict[str, int]:
    """Rows (per column) and files (per store) not yet under the current version, by name."""
    counts = {f.name: f.stale().count() for f in registered()}
    counts.update({f.name: f.stale_count() for f in registered_files()})
    return counts


def start_rotation():
    """Open the rotation to the current version (call inside the transaction writing its entry)."""
    from custos.core.models import KeyRotation

    return KeyRotation.objects.create(to_version=crypto.current_version(), from_versions=older_versions())


def counter(rotation, name: str) -> Callable[[int], None]:
    """A `counted` callback adding to the rotation's count for `name` (inside the caller's transaction)."""
    from custos.core.models import KeyRotation

    def count(n: int) -> None:
        row = KeyRotation.objects.select_for_update().get(pk=rotation.pk)
        row.counts = {**row.counts, name: row.counts.get(name, 0) + n}
        row.save(update_fields=["counts"])

    return count


def finish_rotation(rotation):
    """Close the rotation (call inside the transaction writing its entry); returns it, reloaded."""
    from custos.core.models import KeyRotation

    row = KeyRotation.objects.select_for_update().get(pk=rotation.pk)
    row.finished_at = timezone.now()
    row.save(update_fields=["finished_at"])
    return row
