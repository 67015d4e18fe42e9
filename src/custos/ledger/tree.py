"""The ledger's Merkle tree as the database holds it: roots and proofs without reading the log.

Leaves are grouped in blocks of 256 (2**8). The hash of every complete, aligned subtree of 256
or more leaves is stored in ledger_node when the append that completes it commits. Any subtree
hash the RFC 9162 algorithms ask for is then either such a node, or lies inside one block and is
computed from at most 256 leaf hashes, or splits into those. A root or proof over a log of n
entries reads O(log n) nodes and at most two blocks of leaves.
"""

from django.db import DEFAULT_DB_ALIAS

from custos.core.errors import Conflict, InvalidInput
from custos.ledger import merkle
from custos.ledger.models import Entry, LedgerState, Node

BLOCK_LEVEL = 8
BLOCK = 1 << BLOCK_LEVEL


class TreeError(Conflict):
    """The stored log is not whole (an entry is missing): `custos ledger verify` says where."""

    code = "ledger_damaged"


def log_size(using: str = DEFAULT_DB_ALIAS) -> int:
    return LedgerState.objects.using(using).filter(pk=1).values_list("size", flat=True).first() or 0


class Tree:
    """Subtree hashes of the stored log, reading nodes and leaf blocks on demand (and caching them)."""

    def __init__(self, using: str = DEFAULT_DB_ALIAS, nodes: dict | None = None):
        self.using = using
        self._blocks: dict[int, list[bytes]] = {}
        # Nodes never change once written, so a caller may share this cache between trees.
        self._nodes: dict[tuple[int, int], bytes | None] = {} if nodes is None else nodes

    def _block(self, b: int) -> list[bytes]:
        if b not in self._blocks:
            start = b * BLOCK
            rows = (
                Entry.objects.using(self.using)
                .filter(seq__gte=start, seq__lt=start + BLOCK)
                .order_by("seq")
                .values_list("seq", "leaf_hash")
            )
            leaves = []
            for expected, (seq, leaf) in enumerate(rows, start):
                if seq != expected:
                    raise TreeError(f"entry {expected} is missing from the log")
                leaves.append(bytes(leaf))
            self._blocks[b] = leaves
        return self._blocks[b]

    def leaves(self, lo: int, hi: int) -> list[bytes]:
        out: list[bytes] = []
        for b in range(lo // BLOCK, (hi - 1) // BLOCK + 1):
            start = b * BLOCK
            out.extend(self._block(b)[max(lo, start) - start : min(hi, start + BLOCK) - start])
        if len(out) != hi - lo:
            raise TreeError(f"entry {lo + len(out)} is missing from the log")
        return out

    def node(self, level: int, index: int) -> bytes | None:
        key = (level, index)
        if key not in self._nodes:
            found = (
                Node.objects.using(self.using)
                .filter(level=level, index=index)
                .values_list("hash", flat=True)
                .first()
            )
            self._nodes[key] = bytes(found) if found is not None else None
        return self._nodes[key]

    def subtree(self, lo: int, hi: int) -> bytes:
        """MTH(D[lo:hi])."""
        n = hi - lo
        if n <= 0:
            return merkle.EMPTY_ROOT
        if n >= BLOCK and n & (n - 1) == 0 and lo % n == 0:
            level = n.bit_length() - 1
            stored = self.node(level, lo >> level)
            if stored is not None:
                return stored
            # A missing node (verify reports it) is recomputed from its children rather than failing.
        elif lo // BLOCK == (hi - 1) // BLOCK:
            return merkle.mth(self.leaves(lo, hi))
        k = merkle.split_point(n)
        return merkle.node_hash(self.subtree(lo, lo + k), self.subtree(lo + k, hi))


def _checked_size(size: int | None, using: str) -> int:
    current = log_size(using)
    if size is None:
        return current
    if size < 0 or size > current:
        raise InvalidInput(f"size {size} is outside the log, which has {current} entries")
    return size


def root(size: int | None = None, using: str = DEFAULT_DB_ALIAS) -> bytes:
    """The root hash of the first `size` entries (default: the whole log)."""
    size = _checked_size(size, using)
    return Tree(using).subtree(0, size)


def inclusion_proof(index: int, size: int | None = None, using: str = DEFAULT_DB_ALIAS) -> list[bytes]:
    size = _checked_size(size, using)
    if not 0 <= index < size:
        raise InvalidInput(f"entry {index} is not among the first {size} entries")
    return merkle.inclusion_path(index, size, Tree(using).subtree)


def consistency_proof(old: int, new: int | None = None, using: str = DEFAULT_DB_ALIAS) -> list[bytes]:
    new = _checked_size(new, using)
    if not 0 < old <= new:
        raise InvalidInput(f"a consistency proof needs 0 < old <= new (old {old}, new {new})")
    return merkle.consistency_path(old, new, Tree(using).subtree)


def completed_nodes(old: int, new: int, new_leaves: list[bytes], using: str = DEFAULT_DB_ALIAS) -> list[Node]:
    """The nodes an append of leaves old..new-1 completes, to store in the same transaction.

    Leaves of a block begun before `old`, and left siblings completed earlier, are read back;
    everything else comes from `new_leaves`.
    """
    done: dict[tuple[int, int], bytes] = {}
    tree = Tree(using)
    for b in range(old // BLOCK, new // BLOCK):
        start = b * BLOCK
        if start >= old:
            leaves = new_leaves[start - old : start - old + BLOCK]
        else:
            leaves = tree.leaves(start, old) + new_leaves[: start + BLOCK - old]
        done[(BLOCK_LEVEL, b)] = merkle.mth(leaves)
    level = BLOCK_LEVEL + 1
    while new >> level:
        for i in range(old >> level, new >> level):
            left = done.get((level - 1, 2 * i)) or tree.node(level - 1, 2 * i)
            if left is None:  # a sibling node missing from storage: rebuild it from its leaves
                left = tree.subtree((2 * i) << (level - 1), (2 * i + 1) << (level - 1))
            done[(level, i)] = merkle.node_hash(left, done[(level - 1, 2 * i + 1)])
        level += 1
    return [Node(level=lv, index=ix, hash=h) for (lv, ix), h in done.items()]
