"""The Merkle tree against a plain recursive implementation of RFC 9162, written here from the RFC.

The reference reads every leaf; the ledger's tree reads stored nodes and at most a couple of
256-leaf blocks. Both must give the same roots and proofs, and the RFC's verification
algorithms must accept them, and refuse a wrong leaf, index or root.
"""

import functools
import hashlib

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from custos.core.errors import InvalidInput
from custos.ledger import merkle, tree
from custos.ledger.models import Entry, Node
from custos.ledger.services import Event, append_batch
from tests.ledger.conftest import fill

# ---- the reference: RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1, recursion as written there ----------


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def k_of(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


def make_reference(leaves: tuple[bytes, ...]):
    @functools.cache
    def mth(lo: int, hi: int) -> bytes:
        n = hi - lo
        if n == 0:
            return sha(b"")
        if n == 1:
            return leaves[lo]
        k = k_of(n)
        return sha(b"\x01" + mth(lo, lo + k) + mth(lo + k, hi))

    def path(m: int, lo: int, hi: int) -> list[bytes]:
        n = hi - lo
        if n == 1:
            return []
        k = k_of(n)
        if m < k:
            return path(m, lo, lo + k) + [mth(lo + k, hi)]
        return path(m - k, lo + k, hi) + [mth(lo, lo + k)]

    def subproof(m: int, lo: int, hi: int, b: bool) -> list[bytes]:
        n = hi - lo
        if m == n:
            return [] if b else [mth(lo, hi)]
        k = k_of(n)
        if m <= k:
            return subproof(m, lo, lo + k, b) + [mth(lo + k, hi)]
        return subproof(m - k, lo + k, hi, False) + [mth(lo, lo + k)]

    return mth, (lambda m, n: path(m, 0, n)), (lambda m, n: subproof(m, 0, n, True))


def leaf_hashes(n: int) -> tuple[bytes, ...]:
    return tuple(sha(b"\x00" + i.to_bytes(4, "big")) for i in range(n))


def flip(h: bytes) -> bytes:
    return bytes([h[0] ^ 1]) + h[1:]


# ---- pure functions over lists ------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(n=st.integers(1, 600), data=st.data())
def test_proofs_over_lists_match_the_reference(n, data):
    leaves = leaf_hashes(n)
    ref_mth, ref_path, ref_proof = make_reference(leaves)
    subtree = merkle.list_subtree(leaves)
    root = merkle.mth(leaves)
    assert root == ref_mth(0, n)

    i = data.draw(st.integers(0, n - 1))
    path = merkle.inclusion_path(i, n, subtree)
    assert path == ref_path(i, n)
    assert merkle.verify_inclusion(leaves[i], i, n, path, root)
    assert not merkle.verify_inclusion(flip(leaves[i]), i, n, path, root)
    assert not merkle.verify_inclusion(leaves[i], i, n, path, flip(root))
    if n > 1:
        other = data.draw(st.integers(0, n - 1).filter(lambda j: j != i))
        assert not merkle.verify_inclusion(leaves[i], other, n, path, root)
    if path:
        assert not merkle.verify_inclusion(leaves[i], i, n, path[:-1], root)
        assert not merkle.verify_inclusion(leaves[i], i, n, [*path[:-1], flip(path[-1])], root)

    m = data.draw(st.integers(1, n))
    proof = merkle.consistency_path(m, n, subtree)
    assert proof == ref_proof(m, n)
    old_root = ref_mth(0, m)
    assert merkle.verify_consistency(m, n, old_root, root, proof)
    assert not merkle.verify_consistency(m, n, flip(old_root), root, proof)
    assert not merkle.verify_consistency(m, n, old_root, flip(root), proof)
    if proof:
        assert not merkle.verify_consistency(m, n, old_root, root, [*proof[:-1], flip(proof[-1])])
    if m < n:
        changed = leaf_hashes(n)[: m - 1] + (flip(leaves[m - 1]),) + leaves[m:]
        assert not merkle.verify_consistency(m, n, make_reference(changed)[0](0, m), root, proof)


def test_edge_cases():
    assert merkle.mth([]) == sha(b"")
    one = leaf_hashes(1)
    assert merkle.mth(one) == one[0]
    assert merkle.inclusion_path(0, 1, merkle.list_subtree(one)) == []
    assert merkle.verify_inclusion(one[0], 0, 1, [], one[0])
    assert not merkle.verify_inclusion(one[0], 1, 1, [], one[0])
    r, s = sha(b"r"), sha(b"s")
    assert merkle.verify_consistency(5, 5, r, r, [])
    assert not merkle.verify_consistency(5, 5, r, s, [])
    assert not merkle.verify_consistency(3, 5, r, s, [])
    assert not merkle.verify_consistency(6, 5, r, r, [sha(b"x")])
    with pytest.raises(ValueError):
        merkle.inclusion_path(3, 3, merkle.list_subtree(leaf_hashes(3)))


def test_hashes_of_another_length_and_proofs_from_an_empty_tree_are_refused():
    """RFC 9162's algorithms take 32-byte hashes and a first tree of at least one leaf: anything
    else is refused, whatever the rest of the proof says."""
    leaves = leaf_hashes(7)
    subtree = merkle.list_subtree(leaves)
    root, path = merkle.mth(leaves), merkle.inclusion_path(2, 7, subtree)
    assert merkle.verify_inclusion(leaves[2], 2, 7, path, root)
    for bad in (leaves[2][:31], leaves[2] + b"\x00", leaves[2].hex().encode(), b"", None, leaves[2].hex()):
        assert not merkle.verify_inclusion(bad, 2, 7, path, root)
        assert not merkle.verify_inclusion(leaves[2], 2, 7, path, bad)
        assert not merkle.verify_inclusion(leaves[2], 2, 7, [*path[:-1], bad], root)
    old_root, proof = merkle.mth(leaves[:3]), merkle.consistency_path(3, 7, subtree)
    assert merkle.verify_consistency(3, 7, old_root, root, proof)
    for bad in (old_root[:16], old_root + old_root, b"", None):
        assert not merkle.verify_consistency(3, 7, bad, root, proof)
        assert not merkle.verify_consistency(3, 7, old_root, bad, proof)
        assert not merkle.verify_consistency(3, 7, old_root, root, [bad, *proof[1:]])
    # an empty first tree: neither a path nor two empty roots prove anything
    empty = merkle.mth([])
    assert not merkle.verify_consistency(0, 7, empty, root, proof)
    assert not merkle.verify_consistency(0, 7, empty, root, [])
    assert not merkle.verify_consistency(0, 0, empty, empty, [])
    assert not merkle.verify_inclusion(empty, 0, 0, [], empty)
    with pytest.raises(ValueError):
        merkle.consistency_path(0, 3, merkle.list_subtree(leaf_hashes(3)))


# ---- the ledger's tree in the database --------------------------------------------------------


def stored_leaves() -> tuple[bytes, ...]:
    return tuple(bytes(h) for h in Entry.objects.order_by("seq").values_list("leaf_hash", flat=True))


def test_database_tree_matches_the_reference(db):
    size = 2345  # levels 8 to 11 stored, and ragged edges below
    fill(size, batch=700)
    leaves = stored_leaves()
    ref_mth, ref_path, ref_proof = make_reference(leaves)

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(n=st.integers(1, size), data=st.data())
    def check(n, data):
        root = tree.root(n)
        assert root == ref_mth(0, n)
        i = data.draw(st.integers(0, n - 1))
        path = tree.inclusion_proof(i, n)
        assert path == ref_path(i, n)
        assert merkle.verify_inclusion(leaves[i], i, n, path, root)
        assert not merkle.verify_inclusion(flip(leaves[i]), i, n, path, root)
        assert not merkle.verify_inclusion(leaves[i], i, n, path, flip(root))
        m = data.draw(st.integers(1, n))
        proof = tree.consistency_proof(m, n)
        assert proof == ref_proof(m, n)
        assert merkle.verify_consistency(m, n, ref_mth(0, m), root, proof)
        assert not merkle.verify_consistency(m, n, flip(ref_mth(0, m)), root, proof)

    check()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(batches=st.lists(st.integers(1, 300), min_size=1, max_size=6))
def test_every_complete_subtree_is_stored_whatever_the_batches(db, batches):
    start = tree.log_size()
    for k, n in enumerate(batches):
        append_batch([Event("test.b", {"k": k, "i": i}) for i in range(n)])
    size = tree.log_size()
    assert size == start + sum(batches)
    leaves = stored_leaves()
    ref_mth = make_reference(leaves)[0]
    expected = {}
    level = 8
    while size >> level:
        for i in range(size >> level):
            expected[(level, i)] = ref_mth(i << level, (i + 1) << level)
        level += 1
    stored = {(n.level, n.index): bytes(n.hash) for n in Node.objects.all()}
    assert stored == expected


def test_a_root_or_proof_reads_a_few_nodes_and_at_most_two_blocks(db):
    fill(4 * 1024 + 100, batch=1000)
    for call in (
        lambda: tree.root(),
        lambda: tree.inclusion_proof(1234),
        lambda: tree.consistency_proof(1000),
    ):
        with CaptureQueriesContext(connection) as queries:
            call()
        entry_reads = [q["sql"] for q in queries if "ledger_entry" in q["sql"]]
        assert len(queries) <= 12  # the log has 4196 entries and 31 stored nodes
        assert len(entry_reads) <= 2 and all(
            '"seq" < ' in sql for sql in entry_reads
        )  # one 256-leaf block each


def test_bad_sizes_and_indexes_are_refused(db):
    fill(10)
    for call in (
        lambda: tree.root(11),
        lambda: tree.inclusion_proof(10, 10),
        lambda: tree.inclusion_proof(0, 11),
        lambda: tree.consistency_proof(0, 5),
        lambda: tree.consistency_proof(6, 5),
        lambda: tree.root(-1),
    ):
        with pytest.raises(InvalidInput):
            call()
    assert tree.root(0) == sha(b"")
