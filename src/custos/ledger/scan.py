"""Reading and checking entries for `verify`, range by range, in worker processes when it pays.

A range of entries (a power of two, aligned) is read, every entry checked (seq, payload against
payload_hash, leaf rebuilt from its columns against leaf_hash), and reduced to what the tree
check needs: the roots of its 256-leaf blocks, and the hash of the leaves before each signed
head's size that falls inside it. Ranges are independent, so with several CPUs they are checked
in forked processes, each with its own database connection, and their results are put together
in order by the parent.

This is the hot loop of verification: rows come through a raw cursor, strings as bytes ready for
the leaf. On SQLite the leaf data is packed here from the columns (one struct per entry); on
PostgreSQL the server lays it out from the columns and the rows come in the binary protocol, so
that per entry the Python is two hashes and a few comparisons.
"""

import hashlib
import multiprocessing
import signal
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter

from django.db import connections

from custos.ledger import merkle
from custos.ledger.hashing import EPOCH, LEAF_VERSION, leaf_data_raw
from custos.ledger.services import REDACTED

CHUNK = 16384  # entries per query
RANGE = 65536  # entries per unit of work: a power of two, a multiple of CHUNK and of the 256-leaf block
BLOCK = 256

# SQLite: the columns in LeafData order. Strings come as UTF-8 bytes, ready for the leaf;
# timestamps as the text Django stored (a cast keeps Django's converter away), turned into
# microseconds here. No ORDER BY: the rows of a range are sorted in Python, which costs nothing on
# rows already in order, and no query planner can turn it into a sort on disk.
_COLUMNS = (
    "SELECT seq, CAST(kind AS BLOB), CAST(occurred_at AS TEXT), CAST(recorded_at AS TEXT), actor_id, unit_id,"
    " customer_id, CAST(source AS BLOB), CAST(source_id AS BLOB), CAST(payload AS BLOB),"
    " CAST(payload_hash AS BLOB), leaf_hash FROM ledger_entry WHERE seq >= %s AND seq < %s"
)
# PostgreSQL: the server lays the columns out as 0x00 || LeafData (hashing.py), in the binary
# protocol. Reading twelve values a row through the driver cost more than all the hashing; five
# cost half as much, and the layout work runs in the server's own process, beside the checking.
# Every byte still comes from the stored columns: a changed column changes the bytes hashed here.
# (In PostgreSQL, | and << share one precedence: the parentheses are needed.)
_LAID_OUT = (
    "SELECT seq, convert_to(payload, 'UTF8'), convert_to(payload_hash, 'UTF8'),"
    " '\\x0001'::bytea || int8send(seq)"  # 0x00, then the leaf version
    " || int8send((extract(epoch FROM occurred_at) * 1000000)::int8)"
    " || int8send((extract(epoch FROM recorded_at) * 1000000)::int8)"
    " || set_byte('\\x00'::bytea, 0, (actor_id IS NOT NULL)::int | ((unit_id IS NOT NULL)::int << 1)"
    " | ((customer_id IS NOT NULL)::int << 2))"
    " || int8send(coalesce(actor_id, 0)) || int8send(coalesce(unit_id, 0)) || int8send(coalesce(customer_id, 0))"
    " || substring(int4send(octet_length(kind)) FROM 3) || substring(int4send(octet_length(source)) FROM 3)"
    " || substring(int4send(octet_length(source_id)) FROM 3) || substring(int4send(octet_length(payload_hash)) FROM 3)"
    " || convert_to(kind || source || source_id || payload_hash, 'UTF8'),"
    " leaf_hash FROM ledger_entry WHERE seq >= %s AND seq < %s"
)
if LEAF_VERSION != 1:  # pragma: no cover
    raise ImportError("scan._LAID_OUT lays out leaf version 1: change it with hashing.LEAF_VERSION")
_NAIVE_EPOCH = EPOCH.replace(tzinfo=None)
_US = timedelta(microseconds=1)


class Problem(Exception):
    """The first thing found wrong; its message is the one line `custos ledger verify` prints."""


@dataclass
class RangeResult:
    lo: int
    hi: int
    roots: list[bytes]  # of the complete 256-leaf blocks in lo..hi-1
    tails: dict[int, bytes]  # head size s -> MTH of the leaves from s's block start to s


def _sqlite_micros(text: str) -> int:
    """Microseconds since the epoch of a timestamp as Django stores it in SQLite (naive UTC text)."""
    ts = datetime.fromisoformat(text)
    if ts.tzinfo is not None:  # not how Django writes it, but the same instant all the same
        ts = ts.astimezone(UTC).replace(tzinfo=None)
    return (ts - _NAIVE_EPOCH) // _US


def _fetch(connection, lo: int, hi: int) -> list[tuple]:
    """Entries lo..hi-1 in seq order (missing ones are simply absent)."""
    if connection.vendor == "postgresql":
        # psycopg's own cursor for the binary protocol: Django's client-side cursor reads text.
        import psycopg

        connection.ensure_connection()
        with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
            try:
                cursor.execute(_LAID_OUT, (lo, hi), binary=True)
                rows = cursor.fetchall()
            except (psycopg.DataError, psycopg.errors.FeatureNotSupported) as exc:  # 'infinity', say
                raise Problem(f"entries {lo}..{hi - 1}: a timestamp no entry could have ({exc})") from None
    else:
        with connection.cursor() as cursor:
            cursor.execute(_COLUMNS, [lo, hi])
            rows = cursor.fetchall()
    rows.sort(key=itemgetter(0))
    return rows


def _check_payload(seq: int, body: bytes | None, digest: bytes, covered: set[int]) -> None:
    if body is None:
        if seq not in covered:
            raise Problem(f"entry {seq}: payload removed without a {REDACTED} entry naming it")
    else:
        raise Problem(f"entry {seq}: payload does not match its payload_hash")


def check_laid_out(rows: list[tuple], expected: int, covered: set[int]) -> list[bytes]:
    """Check entries expected, expected+1, ... in rows of (seq, payload, payload_hash, 0x00 ||
    leaf data, leaf_hash); returns their leaf hashes."""
    sha256 = hashlib.sha256
    leaves: list[bytes] = []
    append = leaves.append
    for seq, body, digest, data, leaf in rows:
        if seq != expected:
            raise Problem(f"entry {expected}: missing (the next entry is {seq})")
        if body is None or sha256(body).hexdigest().encode() != digest:
            _check_payload(seq, body, digest, covered)
        h = sha256(data).digest()
        if h != leaf:
            raise Problem(f"entry {seq}: leaf_hash does not match its columns")
        append(h)
        expected += 1
    return leaves


def check_rows(rows: list[tuple], expected: int, covered: set[int], to_micros) -> list[bytes]:
    """Check entries expected, expected+1, ... in rows of columns (_COLUMNS); returns their leaf hashes."""
    sha256, leaf_data = hashlib.sha256, leaf_data_raw
    leaves: list[bytes] = []
    append = leaves.append
    # A batch shares recorded_at, and events often occurred_at: convert each distinct value once.
    occ_text = occ_us = rec_text = rec_us = None
    for seq, kind, occ, rec, actor, unit, customer, source, source_id, body, digest, leaf in rows:
        if seq != expected:
            raise Problem(f"entry {expected}: missing (the next entry is {seq})")
        if body is None or sha256(body).hexdigest().encode() != digest:
            _check_payload(seq, body, digest, covered)
        try:
            if occ != occ_text:
                occ_text, occ_us = occ, to_micros(occ)
            if rec != rec_text:
                rec_text, rec_us = rec, to_micros(rec)
            occ, rec = occ_us, rec_us
            data = leaf_data(seq, kind, occ, rec, actor, unit, customer, source, source_id, digest)
        except (TypeError, ValueError, struct.error):
            raise Problem(f"entry {seq}: a column no entry could have (not a timestamp, too long)") from None
        h = sha256(b"\x00" + data).digest()
        if h != leaf:
            raise Problem(f"entry {seq}: leaf_hash does not match its columns")
        append(h)
        expected += 1
    return leaves


def check_range(
    using: str, lo: int, hi: int, size: int, covered: set[int], head_sizes: list[int]
) -> RangeResult:
    """Check entries lo..hi-1 (lo a multiple of BLOCK) of a log of `size` entries."""
    connection = connections[using]
    laid_out = connection.vendor == "postgresql"
    leaves: list[bytes] = []
    for start in range(lo, hi, CHUNK):
        end = min(start + CHUNK, hi)
        rows = _fetch(connection, start, end)
        if laid_out:
            got = check_laid_out(rows, start, covered)
        else:
            got = check_rows(rows, start, covered, _sqlite_micros)
        if len(got) < end - start:
            missing = start + len(got)
            at_end = (
                f" (the log ends at {missing - 1}, the ledger state says {size} entries)"
                if end == size
                else ""
            )
            raise Problem(f"entry {missing}: missing{at_end}")
        leaves.extend(got)
    full = len(leaves) - len(leaves) % BLOCK
    roots = [merkle.mth(leaves[b : b + BLOCK]) for b in range(0, full, BLOCK)]
    tails = {}
    for s in head_sizes:
        if lo < s <= hi:
            block_start = (s - 1) // BLOCK * BLOCK
            tails[s] = merkle.mth(leaves[block_start - lo : s - lo])
    return RangeResult(lo, hi, roots, tails)


# ---- running ranges, here or in forked workers ----------------------------------------------------

_job: dict = {}  # what forked workers inherit: alias, size, covered seqs, head sizes


_inherited: list = []  # kept, never closed: freeing it would end the parent's session on the shared socket


def _own_connection(using: str) -> None:
    """Pool initializer: forget any database connection inherited through fork and open a new one.

    The parent closes its connection before forking, yet after a browser test had run in the same
    process the workers were seen sharing one inherited socket and reading each other's rows.
    Dropping the reference (not closing: that would end the parent's session) makes each worker
    connect afresh on first use.
    """
    # A worker must end when the pool terminates it (on Ctrl-C), whatever SIGTERM handler the
    # process that called verify had (a Huey consumer has one). In a test process that had run
    # `custos simulate` in-process, the workers inherited a handler that raised KeyboardInterrupt
    # instead: one died holding the pool's queue lock, and verify waited for the other forever.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    connection = connections[using]
    _inherited.append(connection.connection)
    connection.connection = None
    connection.in_atomic_block = False
    connection.needs_rollback = False
    connection.savepoint_ids = []


def _work(bounds: tuple[int, int]) -> RangeResult | Problem | None:
    if _job["stop"].is_set():
        return None  # a problem was found before this range: its result will not be read
    try:
        return check_range(_job["using"], *bounds, _job["size"], _job["covered"], _job["heads"])
    except Problem as problem:
        return problem  # returned, not raised: the parent reports problems in log order


def can_fork(using: str) -> bool:
    """Workers need their own connections to the same data: not an in-memory database, not data
    only this connection's open transaction can see, and a platform that forks."""
    connection = connections[using]
    if connection.in_atomic_block or "fork" not in multiprocessing.get_all_start_methods():
        return False
    return not (connection.vendor == "sqlite" and connection.is_in_memory_db())


def ranges(
    using: str, size: int, covered: set[int], head_sizes: list[int], jobs: int
) -> Iterator[RangeResult]:
    """RangeResults for 0..size-1 in order; a Problem is raised when its range's turn comes."""
    bounds = [(lo, min(lo + RANGE, size)) for lo in range(0, size, RANGE)]
    if jobs <= 1 or len(bounds) < 2 or not can_fork(using):
        for lo, hi in bounds:
            yield check_range(using, lo, hi, size, covered, head_sizes)
        return
    context = multiprocessing.get_context("fork")
    stop = context.Event()
    _job.update(using=using, size=size, covered=covered, heads=head_sizes, stop=stop)
    connections[using].close()  # each worker opens its own; a forked socket must not be shared
    pool = context.Pool(min(jobs, len(bounds)), initializer=_own_connection, initargs=(using,))
    # The pool is ended by close() and join(), not by terminate(): terminating workers was seen to
    # hang verify for good (a worker killed while it held the queue's lock, or an idle one that
    # held it while terminate waited for it). When a problem is found, the ranges not begun come
    # back at once unchecked, and the ones being checked finish, which takes well under a second.
    ended_in_order = False
    try:
        for result in pool.imap(_work, bounds):
            if isinstance(result, Problem):
                raise result
            yield result
        ended_in_order = True
    except (Problem, GeneratorExit):
        stop.set()
        ended_in_order = True
        raise
    finally:
        if ended_in_order:
            pool.close()
        else:  # interrupted (Ctrl-C): nothing is waited for
            pool.terminate()
        pool.join()
        _job.clear()
