"""Read models fed from the ledger.

A projection registers a handler that receives each batch of new entries inside the append
transaction, and a reset that empties its tables so `custos ledger rebuild NAME` can replay
the whole ledger into it.

Redaction: a projection that copies payload text (the archive's message table, a search index)
must drop those copies when a retention rule erases the bodies. It registers
`on_redacted(name, clear)`; services.redact calls `clear(seqs)` inside the redacting transaction,
after the payloads are set to NULL, with the seqs just redacted. On a rebuild the projection
sees redacted entries with `payload` None and must copy nothing from them.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, transaction
from django.db.models import Q

from custos.core.errors import NotFound


@dataclass
class Projection:
    name: str
    kinds: tuple[str, ...]  # kind prefixes this projection reads, e.g. ("message.",)
    handle: Callable[[list], None]
    reset: Callable[[], None]

    def wants(self, kind: str) -> bool:
        return kind.startswith(self.kinds)  # asked per entry per projection: one C call


_registry: dict[str, Projection] = {}
_redaction_handlers: dict[str, Callable[[list[int]], None]] = {}


def register(
    name: str, *, kinds: tuple[str, ...], handle: Callable[[list], None], reset: Callable[[], None]
) -> None:
    _registry[name] = Projection(name, tuple(kinds), handle, reset)


def on_redacted(name: str, clear: Callable[[list[int]], None]) -> None:
    """Call `clear(seqs)` whenever entries are redacted, so copies of their bodies go too."""
    _redaction_handlers[name] = clear


def unregister_redacted(name: str) -> None:
    _redaction_handlers.pop(name, None)


def redacted(seqs: list[int]) -> None:
    for clear in list(_redaction_handlers.values()):
        clear(seqs)


def registered() -> dict[str, Projection]:
    return dict(_registry)


def any_registered() -> bool:
    return bool(_registry)


def wanted(kind: str) -> bool:
    """Does some projection read entries of this kind?"""
    return any(projection.wants(kind) for projection in _registry.values())


def feed(entries: list) -> None:
    kinds = {e.kind for e in entries}  # a batch holds a handful of kinds: each asked once
    for projection in _registry.values():
        mine = {kind for kind in kinds if projection.wants(kind)}
        if mine:
            wanted = entries if len(mine) == len(kinds) else [e for e in entries if e.kind in mine]
            projection.handle(wanted)


def rebuild(name: str, *, batch_size: int = 1000, using: str = DEFAULT_DB_ALIAS) -> int:
    """Empty projection `name` and replay every entry it wants, in seq order, in one transaction.

    Returns the number of entries replayed. One transaction, so readers see the old read model
    or the new one, never half of it. It holds the append lock (the ledger state row), so no entry
    is fed twice or missed by an append committing meanwhile; appends wait for the rebuild.
    """
    try:
        projection = _registry[name]
    except KeyError:
        known = ", ".join(sorted(_registry)) or "none registered"
        raise NotFound(f"no projection named {name!r} (known: {known})") from None
    from custos.ledger.models import Entry, LedgerState

    wanted = Q()
    for prefix in projection.kinds:
        wanted |= Q(kind__startswith=prefix)
    replayed, last = 0, -1
    with transaction.atomic(using=using):
        list(LedgerState.objects.using(using).select_for_update().filter(pk=1))
        projection.reset()
        while True:
            batch = list(Entry.objects.using(using).filter(wanted, seq__gt=last).order_by("seq")[:batch_size])
            if not batch:
                return replayed
            projection.handle(batch)
            replayed += len(batch)
            last = batch[-1].seq
