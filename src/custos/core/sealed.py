"""Columns sealed at rest that the code reads and writes as plain values.

A SealedTextField holds AES-GCM ciphertext under the field keys ("v2:...", custos.core.crypto)
and hands the model the plain text: sealed when a row is saved (INSERT, UPDATE, bulk_update,
QuerySet.update), opened when a row or a values() list is read. Lookups are not sealed, so the
database can only answer "is empty" and "is NULL" about such a column: an empty string stays
empty (an empty body says nothing) and NULL stays NULL.

Each column seals under its own associated data (its name), so a ciphertext copied into another
column does not open; within a column rows can be swapped by whoever can write the database,
which the ledger, the record these columns copy, would show up.

Code that writes such a column with raw SQL (the archive's COPY, the ledger's append) seals the
value itself with `seal`; `custos keys rotate` re-seals them through the keyring (register()).
"""

import json
from collections.abc import Callable

from django.db import models

from custos.core import crypto, keyring


def aad_of(name: str) -> bytes:
    return f"sealed:{name}".encode()


def seal(value: str | None, aad: bytes) -> str | None:
    if not value:
        return value
    return crypto.encrypt(value, aad=aad)


def is_sealed(value: str) -> bool:
    head, sep, _body = value.partition(":")
    return bool(sep) and head[:1] == "v" and head[1:].isdigit()


def open_(value: str | None, aad: bytes) -> str | None:
    if not value or not is_sealed(value):
        return value  # empty, NULL, or written before the column was sealed
    return crypto.decrypt(value, aad=aad)


class SealedTextField(models.TextField):
    """Text sealed at rest under `seal_as` (the column's associated data)."""

    # Sealing changes nothing in the schema: turning a TextField into one alters no table.
    non_db_attrs = (*models.TextField.non_db_attrs, "seal_as")

    def __init__(self, *args, seal_as: str, **kwargs):
        self.seal_as = seal_as
        self._aad = aad_of(seal_as)
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, path, args, kwargs = super().deconstruct()
        kwargs["seal_as"] = self.seal_as
        return name, path, args, kwargs

    def from_db_value(self, value, expression, connection):
        return open_(value, self._aad)

    def get_db_prep_save(self, value, connection):
        value = super().get_db_prep_save(value, connection)
        if hasattr(value, "as_sql"):
            return value
        return seal(value, self._aad)

    def seal(self, value: str | None) -> str | None:
        return seal(value, self._aad)

    def sealer(self) -> Callable[[str | None], str | None]:
        """`seal` under the key current now, for the rows of one batch written with raw SQL."""
        encrypt = crypto.encryptor(self._aad)
        return lambda value: encrypt(value) if value else value


class SealedJSONField(SealedTextField):
    """A JSON value sealed at rest; the model sees the value ({} for an empty column)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("default", dict)
        super().__init__(*args, **kwargs)

    def from_db_value(self, value, expression, connection):
        text = super().from_db_value(value, expression, connection)
        return json.loads(text) if text else {}

    def get_db_prep_save(self, value, connection):
        if hasattr(value, "as_sql"):
            return value
        return seal(dump(value), self._aad)

    def to_python(self, value):
        return value

    def value_to_string(self, obj):
        return dump(self.value_from_object(obj))

    def seal(self, value) -> str:
        return seal(dump(value), self._aad)

    def sealer(self) -> Callable[[object], str]:
        encrypt = crypto.encryptor(self._aad)

        def seal_one(value) -> str:
            text = dump(value)
            return encrypt(text) if text else text

        return seal_one


def dump(value) -> str:
    """The JSON text of a value; an empty dict or None is the empty string (nothing to seal)."""
    if value in (None, {}, ""):
        return ""
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def register(name: str, model: str, field: str, *, batch: int | None = None) -> None:
    """Join the column to `custos keys status/rotate`."""
    keyring.register(name, model, field, aad=None, batch=batch, sealed_field=True)


def seal_existing(
    schema_editor, table: str, columns: dict[str, str], *, key: str = "id", batch: int = 2000
) -> int:
    """A migration's step: seal the clear values already in `columns` ({column: seal_as}) of
    `table`, `batch` rows at a time in key order; values already sealed are left as they are, so
    a migration that stopped half-way runs again. An empty JSON object becomes empty. Returns
    how many rows changed."""
    connection = schema_editor.connection
    q = connection.ops.quote_name
    names = list(columns)
    aads = [aad_of(columns[c]) for c in names]
    select = f"SELECT {q(key)}, {', '.join(q(c) for c in names)} FROM {q(table)} WHERE {q(key)} > %s ORDER BY {q(key)}"  # noqa: S608
    update = f"UPDATE {q(table)} SET {', '.join(f'{q(c)} = %s' for c in names)} WHERE {q(key)} = %s"  # noqa: S608
    changed, last = 0, None
    with connection.cursor() as cursor:
        while True:
            if last is None:
                cursor.execute(select.replace(f" WHERE {q(key)} > %s", "") + f" LIMIT {int(batch)}")
            else:
                cursor.execute(select + f" LIMIT {int(batch)}", [last])
            rows = cursor.fetchall()
            if not rows:
                return changed
            last = rows[-1][0]
            out = []
            for row in rows:
                values = list(row[1:])
                new = [
                    v if v is None or (isinstance(v, str) and is_sealed(v)) else seal(_text(v), aad)
                    for v, aad in zip(values, aads, strict=True)
                ]
                if new != values:
                    out.append([*new, row[0]])
            if out:
                cursor.executemany(update, out)
                changed += len(out)


def _text(value) -> str:
    if not isinstance(value, str):
        value = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return "" if value.strip() in ("", "{}") else value
