"""Reads of the ledger, always through the viewer's scope.

all      auditors, executives, admins: every entry
subtree  managers: entries whose unit is their unit or below it
own      sales and service: entries they are the actor of

Heads and consistency proofs concern the whole log and reveal no entry, so every signed-in
employee may have them; an inclusion proof is for an entry the viewer may see.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db.models import Q, QuerySet
from django.utils import timezone

from custos.access.scope import Scope, scope_of
from custos.core.errors import InvalidInput, NotFound
from custos.ledger import heads, tree
from custos.ledger.models import Entry, SignedHead
from custos.org.models import Employee
from custos.org.selectors import units_visible

# Conditions the apps above the ledger add for a viewer limited to product lines or grades, each
# scope -> Q on Entry: the archive's leaves out the messages of a customer outside the limits that
# were recorded before their contact was linked (the entry names no customer; the archive does).
_limits: list[Callable[[Scope], Q]] = []


def register_limit(condition: Callable[[Scope], Q]) -> None:
    _limits.append(condition)


def entries_visible(viewer: Employee) -> QuerySet[Entry]:
    scope = scope_of(viewer)
    qs = scope.limit_customers(Entry.objects.all())
    if scope.limited:
        for condition in _limits:
            qs = qs.filter(condition(scope))
    if scope.kind == "all":
        return qs
    if scope.kind == "subtree":
        return qs.filter(unit_id__in=units_visible(viewer).values("pk"))
    if scope.kind == "own":
        return qs.filter(actor_id=viewer.pk)
    return qs.none()


def _utc(ts: datetime) -> datetime:
    try:
        return (timezone.make_aware(ts) if timezone.is_naive(ts) else ts).astimezone(UTC)
    except (OverflowError, ValueError) as exc:  # year 1 at +08:00 is before the calendar starts
        raise InvalidInput(f"{ts.isoformat()} is not a time the ledger can hold") from exc


def list_entries(
    viewer: Employee,
    *,
    kind: str | None = None,
    actor_id: int | None = None,
    customer_id: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> QuerySet[Entry]:
    """Entries in seq order; `kind` is a prefix ("auth." or "auth.login"), since/until bound occurred_at."""
    qs = entries_visible(viewer)
    if kind:
        qs = qs.filter(kind__startswith=kind)
    if actor_id is not None:
        qs = qs.filter(actor_id=actor_id)
    if customer_id is not None:
        qs = qs.filter(customer_id=customer_id)
    since, until = (_utc(t) if t is not None else None for t in (since, until))
    if since is not None and until is not None and since > until:
        raise InvalidInput("since must not be after until")
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    if until is not None:
        qs = qs.filter(occurred_at__lt=until)
    return qs.order_by("seq")


def get_entry(viewer: Employee, seq: int) -> Entry:
    entry = entries_visible(viewer).filter(seq=seq).first()
    if entry is None:
        raise NotFound(f"no entry {seq} in your scope")
    return entry


def latest_head(viewer: Employee) -> SignedHead:
    head = heads.latest()
    if head is None:
        raise NotFound("no signed tree head yet")
    return head


@dataclass
class Inclusion:
    seq: int
    size: int
    leaf_hash: bytes
    proof: list[bytes]
    root_hash: bytes
    head: SignedHead | None


@dataclass
class Consistency:
    old: int
    new: int
    old_root: bytes
    new_root: bytes
    proof: list[bytes]


def _default_size() -> int:
    head = heads.latest()
    return head.size if head else tree.log_size()


def _head_of_size(size: int) -> SignedHead | None:
    return SignedHead.objects.filter(size=size).order_by("-id").first()


def inclusion(viewer: Employee, seq: int, size: int | None = None) -> Inclusion:
    """Proof that entry `seq` is in the log of `size` entries (default: the latest signed head)."""
    entry = get_entry(viewer, seq)
    size = _default_size() if size is None else size
    if size <= seq:
        raise InvalidInput(f"entry {seq} is not among the first {size} entries")
    proof = tree.inclusion_proof(seq, size)
    head = _head_of_size(size)
    root = bytes(head.root_hash) if head else tree.root(size)
    return Inclusion(seq, size, bytes(entry.leaf_hash), proof, root, head)


def consistency(viewer: Employee, old: int, new: int | None = None) -> Consistency:
    """Proof that the log of `new` entries (default: the latest signed head) extends the one of `old`."""
    new = _default_size() if new is None else new
    proof = tree.consistency_proof(old, new)
    return Consistency(old, new, tree.root(old), tree.root(new), proof)
