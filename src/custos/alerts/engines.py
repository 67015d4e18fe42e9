"""The detection engine for a unit: the shipped lexicon plus the terms and allowed channels of the
unit and every unit above it.

Building an engine takes tens of milliseconds, scanning with one far less, so engines are cached
per process, keyed by the lexicon version (one row, bumped by every change: one cheap query per
append batch tells whether the cache still holds) and the unit's path. Units with the same
effective lexicon share one engine; units without any terms of their own use the default one.
"""

import threading

from custos.alerts.models import AllowedChannel, LexiconTerm, LexiconVersion
from custos.alerts.thresholds import ancestor_ids
from custos.detection.engine import Engine
from custos.detection.lexicon import Term

_lock = threading.Lock()
_cache: dict = {"version": None, "terms": {}, "allow": {}, "by_path": {}, "by_content": {}}


def current_version() -> int:
    return LexiconVersion.objects.filter(pk=1).values_list("version", flat=True).first() or 0


def bump() -> int:
    """Invalidate every cached engine (call inside the transaction that changes the lexicon)."""
    row, _created = LexiconVersion.objects.select_for_update().get_or_create(pk=1)
    row.version += 1
    row.save(update_fields=["version"])
    return row.version


def _load(version: int) -> None:
    terms: dict[int, list[Term]] = {}
    for unit_id, text, category, severity in LexiconTerm.objects.filter(enabled=True).values_list(
        "unit_id", "text", "category", "severity"
    ):
        terms.setdefault(unit_id, []).append(Term(text, category, severity))
    allow: dict[int, list[str]] = {}
    for unit_id, value in AllowedChannel.objects.filter(enabled=True).values_list("unit_id", "value"):
        allow.setdefault(unit_id, []).append(value)
    _cache.update(version=version, terms=terms, allow=allow, by_path={}, by_content={})


def effective(path: str | None, version: int | None = None) -> tuple[tuple[Term, ...], tuple[str, ...]]:
    """The unit's own and inherited terms and allowed channels."""
    version = current_version() if version is None else version
    with _lock:
        if _cache["version"] != version:
            _load(version)
        if path is None:
            return (), ()
        chain = ancestor_ids(path)
        terms = tuple(t for unit_id in chain for t in _cache["terms"].get(unit_id, ()))
        allow = tuple(a for unit_id in chain for a in _cache["allow"].get(unit_id, ()))
        return terms, allow


def engine_for(path: str | None, version: int | None = None) -> Engine:
    """The engine for messages of staff in the unit at `path` (None: the shipped lexicon only)."""
    version = current_version() if version is None else version
    with _lock:
        if _cache["version"] != version:
            _load(version)
        if path is None:
            return Engine.from_default()
        engine = _cache["by_path"].get(path)
        if engine is not None:
            return engine
        chain = ancestor_ids(path)
        terms = tuple(t for unit_id in chain for t in _cache["terms"].get(unit_id, ()))
        allow = tuple(a for unit_id in chain for a in _cache["allow"].get(unit_id, ()))
        key = (terms, allow)
        engine = _cache["by_content"].get(key)
        if engine is None:
            engine = Engine.from_default(extra_terms=terms, allow=allow)
            _cache["by_content"][key] = engine
        _cache["by_path"][path] = engine
        return engine
