"""Merkle tree arithmetic of RFC 9162 (Certificate Transparency v2), independent of storage.

MTH({})      = SHA-256()
MTH({d0})    = leaf hash (entries store it: SHA-256(0x00 || leaf data))
MTH(D[n])    = SHA-256(0x01 || MTH(D[0:k]) || MTH(D[k:n])), k the largest power of 2 < n

Proof generation is written against `subtree(lo, hi) -> MTH(D[lo:hi])`, so the same code serves
the database-backed log (tree.py, from stored nodes) and plain lists (tests, the verifier).
"""

import hashlib
from collections.abc import Callable, Sequence

Subtree = Callable[[int, int], bytes]

EMPTY_ROOT = hashlib.sha256(b"").digest()
_sha256 = hashlib.sha256
HASH_SIZE = 32


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(b"\x01" + left + right).digest()


def split_point(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def mth(leaves: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes, built bottom-up (equal to the recursive definition: the left
    subtree at each split is a power of two, so pairing from the left never crosses a split)."""
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    while len(level) > 1:
        odd = level[-1] if len(level) % 2 else None
        it = iter(level)
        level = [_sha256(b"\x01" + a + b).digest() for a, b in zip(it, it, strict=False)]
        if odd is not None:
            level.append(odd)
    return level[0]


def inclusion_path(index: int, size: int, subtree: Subtree) -> list[bytes]:
    """PATH(index, D[size]) of RFC 9162 §2.1.3.1, leaf side first."""
    if not 0 <= index < size:
        raise ValueError(f"index {index} is not in a tree of size {size}")
    path = []
    lo, hi = 0, size
    while hi - lo > 1:
        k = split_point(hi - lo)
        if index < lo + k:
            path.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree(lo, lo + k))
            lo += k
    path.reverse()
    return path


def consistency_path(old: int, new: int, subtree: Subtree) -> list[bytes]:
    """PROOF(old, D[new]) = SUBPROOF(old, D[new], true) of RFC 9162 §2.1.4.1."""
    if not 0 < old <= new:
        raise ValueError(f"no consistency proof from size {old} to size {new}")
    path = []
    lo, hi, m, whole = 0, new, old, True
    while m != hi - lo:
        k = split_point(hi - lo)
        if m <= k:
            path.append(subtree(lo + k, hi))
            hi = lo + k
        else:
            path.append(subtree(lo, lo + k))
            lo += k
            m -= k
            whole = False
    if not whole:
        path.append(subtree(lo, hi))
    path.reverse()
    return path


def _hashes(*values) -> bool:
    """Every value a SHA-256 hash: 32 bytes. RFC 9162's algorithms assume it; a caller that
    passes a hex string, a truncated or a padded value gets False, not a comparison that fails
    somewhere later or, worse, one that happens to pass."""
    return all(isinstance(v, bytes | bytearray) and len(v) == HASH_SIZE for v in values)


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: does `path` prove leaf hash `leaf` at `index` in the tree `root` of `size`?"""
    if not 0 <= index < size or not _hashes(leaf, root, *path):
        return False
    fn, sn, r = index, size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def verify_consistency(old: int, new: int, old_root: bytes, new_root: bytes, path: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: does `path` prove the tree of `new` leaves extends the one of `old`?

    An empty old tree proves nothing (RFC 9162: the first tree must have at least one leaf)."""
    if old < 1 or not _hashes(old_root, new_root, *path):
        return False
    if old == new:
        return not path and old_root == new_root
    if not 0 < old < new or not path:
        return False
    path = list(path)
    if old & (old - 1) == 0:  # old is a power of two: its root is itself a node of the new tree
        path.insert(0, old_root)
    fn, sn = old - 1, new - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == old_root and sr == new_root and sn == 0


def list_subtree(leaves: Sequence[bytes]) -> Subtree:
    """`subtree` over an in-memory list of leaf hashes."""
    return lambda lo, hi: mth(leaves[lo:hi])
