import contextlib

import pytest
from django.db import connection

from custos.ledger import heads, triggers
from custos.ledger.services import Event, append_batch


def fill(n: int, *, start: int = 0, batch: int = 1000, kind: str = "test.item", **fields) -> list:
    """Append n entries (source 'fill', source ids start..start+n-1) in batches; returns the entries."""
    entries = []
    for lo in range(start, start + n, batch):
        events = [
            Event(kind, {"i": i, "text": f"第{i}条"}, source="fill", source_id=str(i), **fields)
            for i in range(lo, min(lo + batch, start + n))
        ]
        entries.extend(a.entry for a in append_batch(events))
    return entries


@contextlib.contextmanager
def dba():
    """Raw SQL with the triggers dropped, as someone with the database owner's rights could."""
    triggers.remove(connection)
    try:
        with connection.cursor() as cursor:
            yield cursor
    finally:
        triggers.install(connection)


@pytest.fixture
def signing_key_file(tmp_path, monkeypatch):
    """A data directory of its own, so the key is generated afresh into it."""
    monkeypatch.setenv("CUSTOS_DATA_DIR", str(tmp_path))
    monkeypatch.delenv(heads.KEY_ENV, raising=False)
    heads.signing_key.cache_clear()
    yield tmp_path / heads.KEY_FILE
    heads.signing_key.cache_clear()
