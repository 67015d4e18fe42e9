"""`custos ledger verify`: recompute everything the ledger claims, from the stored columns up.

1. every signed head's signature, and that sizes never shrink from one head to the next;
2. one pass over the entries in seq order (scan.py): seqs 0..size-1 without a gap, each payload
   against its payload_hash (a NULL payload must be named by a retention.redacted entry), each
   leaf rebuilt from the columns against the stored leaf_hash;
3. the tree rebuilt from those leaves: every stored node, every head's root at its size;
4. consistency proofs between successive heads; no entry or node beyond the log.

It stops at the first problem and names it in one line.
"""

import json
from collections.abc import Callable, Container
from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Q

from custos.ledger import heads, merkle, scan, tree
from custos.ledger.models import Entry, Node, SignedHead
from custos.ledger.scan import Problem
from custos.ledger.services import REDACTED

__all__ = ["Problem", "Report", "verify"]


# Checks other apps add (e.g. the archive re-hashing attachment files named in payloads): each is
# called with the database alias after the ledger itself verified, raising Problem at the first fault.
_extra_checks: dict[str, Callable[[str], None]] = {}


def register_check(name: str, check: Callable[[str], None]) -> None:
    _extra_checks[name] = check


@dataclass
class Report:
    size: int
    heads: int
    nodes: int


def _redacted(using: str) -> set[int]:
    """Seqs named by retention.redacted entries (their own payloads are checked in the pass)."""
    covered: set[int] = set()
    entries = Entry.objects.using(using).filter(kind=REDACTED).values_list("payload", flat=True)
    for payload in entries.iterator():
        if payload:
            covered.update(json.loads(payload).get("seqs", []))
    return covered


class _Redacted(Container[int]):
    """The seqs of _redacted, looked up the first time a removed payload is met: a log without
    one never reads them (a scan of every entry's kind, 6% of verify's time at a million entries on
    SQLite, before any range could be checked). Forked workers each look them up on their own."""

    def __init__(self, using: str):
        self.using = using
        self.seqs: set[int] | None = None

    def __contains__(self, seq: object) -> bool:
        if self.seqs is None:
            self.seqs = _redacted(self.using)
        return seq in self.seqs


def _stored_nodes(using: str, start: int, end: int) -> dict[tuple[int, int], bytes]:
    """Stored nodes completed by leaves start..end-1: at level L, indexes start>>L .. (end>>L)-1."""
    q = Q()
    level = tree.BLOCK_LEVEL
    while end >> level:
        if (end >> level) > (start >> level):
            q |= Q(level=level, index__gte=start >> level, index__lt=end >> level)
        level += 1
    if not q:
        return {}
    rows = Node.objects.using(using).filter(q).values_list("level", "index", "hash")
    return {(lv, ix): bytes(h) for lv, ix, h in rows}


class _TreeCheck:
    """Builds the tree over block roots, left to right, checking stored nodes and head roots."""

    def __init__(self, using: str, head_list: list[SignedHead]):
        self.using = using
        self.stack: list[tuple[int, int, bytes]] = []  # complete subtrees left to right: (level, index, hash)
        self.heads = sorted(head_list, key=lambda h: (h.size, h.pk))
        self.next_head = 0
        self.nodes_checked = 0

    def root(self, tail: bytes | None) -> bytes:
        """MTH of the leaves the stack covers, followed by a subtree `tail` of a partial block."""
        h = tail
        for _level, _index, x in reversed(self.stack):
            h = x if h is None else merkle.node_hash(x, h)
        return merkle.EMPTY_ROOT if h is None else h

    def _heads_up_to(self, size: int, tails: dict[int, bytes]) -> None:
        while self.next_head < len(self.heads) and self.heads[self.next_head].size <= size:
            head = self.heads[self.next_head]
            if self.root(tails.get(head.size)) != bytes(head.root_hash):
                raise Problem(f"{head}: its root does not match the log's first {head.size} entries")
            self.next_head += 1

    def _push(self, level: int, index: int, h: bytes, stored: dict) -> None:
        while True:
            found = stored.get((level, index))
            if found is None:
                raise Problem(f"node ({level}, {index}) is missing from ledger_node")
            if found != h:
                first, last = index << level, ((index + 1) << level) - 1
                raise Problem(f"node ({level}, {index}) does not match the entries {first}..{last}")
            self.nodes_checked += 1
            if not self.stack or self.stack[-1][0] != level:
                self.stack.append((level, index, h))
                return
            _lv, left_index, left = self.stack.pop()
            level, index, h = level + 1, left_index >> 1, merkle.node_hash(left, h)

    def add(self, result: scan.RangeResult) -> None:
        self._heads_up_to(result.lo, {})  # heads of size 0
        stored = _stored_nodes(self.using, result.lo, result.hi)
        block = result.lo // tree.BLOCK
        for root in result.roots:
            # heads ending inside this block are checked against the stack before it is pushed
            self._heads_up_to(block * tree.BLOCK + tree.BLOCK, result.tails)
            self._push(tree.BLOCK_LEVEL, block, root, stored)
            block += 1
        self._heads_up_to(result.hi, result.tails)  # heads inside the last, partial block

    def finish(self, size: int) -> None:
        self._heads_up_to(size, {})  # heads of size 0 when the log is empty
        if self.next_head < len(self.heads):
            head = self.heads[self.next_head]
            raise Problem(
                f"{head}: the log has only {size} entries: entries were removed after it was signed"
            )


def _check_signatures(head_list: list[SignedHead]) -> None:
    key = heads.public_key()
    key_id = heads.key_id(key)
    previous = None
    for head in head_list:
        if head.key_id != key_id:
            raise Problem(f"{head}: signed by key {head.key_id[:16]}…, not this log's key {key_id[:16]}…")
        if not heads.signature_ok(head, key):
            raise Problem(f"{head}: its signature does not verify")
        if previous is not None and head.size < previous.size:
            raise Problem(f"{head}: smaller than {previous}, signed before it: the log shrank")
        previous = head


def _check_consistency(head_list: list[SignedHead], using: str) -> None:
    nodes: dict = {}
    for old, new in zip(head_list, head_list[1:], strict=False):
        if old.size == 0 or old.size == new.size:
            continue  # equal sizes were compared root to root in the pass
        path = merkle.consistency_path(old.size, new.size, tree.Tree(using, nodes).subtree)
        if not merkle.verify_consistency(
            old.size, new.size, bytes(old.root_hash), bytes(new.root_hash), path
        ):
            raise Problem(f"{new}: not consistent with {old}")


def _check_bounds(using: str) -> None:
    # One statement each, so appends committed meanwhile are compared with their own size.
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT min(seq), max(seq), (SELECT size FROM ledger_ledgerstate WHERE id = 1) FROM ledger_entry"
        )
        low, top, now_size = cursor.fetchone()
        if low is not None and low < 0:
            raise Problem(f"entry {low}: a seq outside the log")
        if top is not None and top >= (now_size or 0):
            raise Problem(f"entry {top}: beyond the ledger state's size {now_size or 0}")
        cursor.execute(
            'SELECT level, "index" FROM ledger_node'
            ' WHERE (("index" + 1) << level) > coalesce((SELECT size FROM ledger_ledgerstate WHERE id = 1), 0)'
        )
        extra = cursor.fetchone()
        if extra:
            raise Problem(f"node ({extra[0]}, {extra[1]}) is beyond the log")


def verify(
    using: str = DEFAULT_DB_ALIAS, progress: Callable[[int], None] | None = None, jobs: int = 1
) -> Report:
    """Check the whole ledger; raises Problem naming the first thing wrong, else returns a Report.

    jobs > 1 checks ranges of entries in that many forked processes where the database allows it
    (see scan.can_fork); the result is the same.
    """
    size = tree.log_size(using)
    head_list = list(SignedHead.objects.using(using).order_by("id"))
    _check_signatures(head_list)
    covered = _Redacted(using)
    check = _TreeCheck(using, head_list)
    head_sizes = sorted({h.size for h in head_list})
    for result in scan.ranges(using, size, covered, head_sizes, jobs):
        check.add(result)
        if progress:
            progress(result.hi - result.lo)
    check.finish(size)
    _check_consistency(head_list, using)
    _check_bounds(using)
    for check_extra in _extra_checks.values():
        check_extra(using)
    return Report(size=size, heads=len(head_list), nodes=check.nodes_checked)
