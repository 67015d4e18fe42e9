"""Which columns hold field-encrypted data, and moving them to the current key version.

Each app registers its encrypted columns in its AppConfig.ready() with the associated data it
binds them to; `custos keys rotate` and `custos keys status` work over whatever is registered,
so a new encrypted column joins key rotation by registering, not by editing the command.

Re-encryption goes a batch per transaction and picks the rows not yet under the current
version, so stopping it anywhere and running it again carries on where it stopped; until then
old rows still decrypt with their old key.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.apps import apps
from django.db import models, transaction
from django.db.models import Count, Value
from django.db.models.functions import StrIndex, Substr

from custos.core import crypto

BATCH = 500


@dataclass(frozen=True)
class EncryptedField:
    name: str  # what operators read: "customers.contact"
    model: str  # app_label.ModelName
    field: str
    aad: Callable[[models.Model], bytes]  # the associated data the value was sealed with
    batch: int | None = None  # rows per transaction, when its values are large (whole files)

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
    name: str, model: str, field: str, aad: Callable[[models.Model], bytes], *, batch: int | None = None
) -> None:
    _registry[name] = EncryptedField(name, model, field, aad, batch)


def registered() -> list[EncryptedField]:
    return [_registry[k] for k in sorted(_registry)]


def rows_by_version(field: EncryptedField) -> dict[int, int]:
    """How many rows of the column each key version sealed ("v2:..." -> 2)."""
    head = Substr(field.field, 2, StrIndex(field.field, Value(":")) - 2)
    rows = (
        field.sealed()
        .order_by()
        .annotate(version=head)
        .values("version")
        .annotate(n=Count("pk"))
        .values_list("version", "n")
    )
    return {int(v): n for v, n in sorted(rows, key=lambda r: int(r[0]))}


def stale_count() -> int:
    return sum(f.stale().count() for f in registered())


def reencrypt(
    field: EncryptedField,
    *,
    batch: int = BATCH,
    limit: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Re-seal the column's rows under the current key, `batch` rows per transaction.

    Stops after `limit` rows when given (the rest wait for the next run); returns how many rows
    were re-sealed.
    """
    done = 0
    batch = min(batch, field.batch or batch)
    while limit is None or done < limit:
        size = batch if limit is None else min(batch, limit - done)
        with transaction.atomic():
            rows = list(field.stale().select_for_update().order_by("pk")[:size])
            if not rows:
                break
            for row in rows:
                aad = field.aad(row)
                value = crypto.decrypt(getattr(row, field.field), aad=aad)
                setattr(row, field.field, crypto.encrypt(value, aad=aad))
            field.model_class._default_manager.bulk_update(rows, [field.field])
        done += len(rows)
        if progress:
            progress(len(rows))
    return done
