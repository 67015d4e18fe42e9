"""Reading and checking entries for `verify`, range by range, in worker processes when it pays.

A range of entries (a power of two, aligned) is read, every entry checked (seq, payload against
payload_hash, leaf rebuilt from its columns against leaf_hash), and reduced to what the tree
check needs: the roots of its 256-leaf blocks, and the hash of the leaves before each signed
head's size that falls inside it. Ranges are independent, so with several CPUs they are checked
in forked processes, each with its own database connection, and their results are put together
in order by the parent.

This is the hot loop of verification. On PostgreSQL each chunk of entries is first checked by
the server itself, which lays each leaf out from the columns, hashes it and the payload with its
built-in sha256() and compares them with the stored hashes (_CHECKED): one row comes back per
chunk, with the leaf hashes for the tree. When it sees anything off (a gap, a redacted payload, a
mismatch), the chunk is read again row by row (check_laid_out), which names the first entry at
fault or accepts what is legitimate, such as a redaction. On SQLite rows come through a raw
cursor, strings as bytes ready for the leaf, which is packed here (one struct per entry).

Where SQLite's time goes, at a million entries (2026-11-29): handing each row to Python as twelve
objects costs 1.9 µs an entry, while SQLite reads the same columns in 0.4 µs and bare hashing of
an entry's three inputs takes 0.87 µs; checking and hashing here add 1.4 µs. Neither fewer
columns (the strings concatenated in SQL), text_factory=bytes, rowid ranges, nor map() instead of
the loop changed that by more than 5%. Hashing inside SQLite would need a second copy of SQLite
in the process (sqlean.py, apsw), one of the ways SQLite's own documentation lists to corrupt a
database (howtocorrupt.html, 2.2.1): not for the tool that vouches for the log.
"""

import binascii
import hashlib
import multiprocessing
import signal
import struct
from collections.abc import Container, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter

import numpy
from cryptography.exceptions import InvalidTag
from django.db import connections

from custos.core import crypto, sealed
from custos.ledger import merkle
from custos.ledger.hashing import EPOCH, HEAD, LEAF_VERSION
from custos.ledger.services import REDACTED

_PAYLOAD_AAD = sealed.aad_of("ledger.entry.payload")  # models.PAYLOAD_SEAL
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
# PostgreSQL: the server lays the columns out as 0x00 || LeafData (hashing.py). Every byte still
# comes from the stored columns: a changed column changes the bytes hashed here.
# (In PostgreSQL, | and << share one precedence: the parentheses are needed.)
# Microseconds since 1970 of a timestamptz. extract() computes in numeric, which was a quarter of
# the server's work per entry; date_part() computes in double precision, exact for these
# timestamps: the error of (µs / 1e6) * 1e6 stays under 0.25 µs while |µs| < 2^51 (1898 to 2041),
# so rounding gives the integer back. Outside those years, numeric.
_MICROS = (
    "CASE WHEN {ts} > '1900-01-01 00:00:00+00' AND {ts} < '2040-01-01 00:00:00+00'"
    " THEN (date_part('epoch', {ts}) * 1000000)::int8"
    " ELSE (extract(epoch FROM {ts}) * 1000000)::int8 END"
)
_LAYOUT = (
    "'\\x0001'::bytea || int8send(seq)"  # 0x00, then the leaf version
    " || int8send(" + _MICROS.format(ts="occurred_at") + ")"
    " || int8send(" + _MICROS.format(ts="recorded_at") + ")"
    " || set_byte('\\x00'::bytea, 0, (actor_id IS NOT NULL)::int | ((unit_id IS NOT NULL)::int << 1)"
    " | ((customer_id IS NOT NULL)::int << 2))"
    " || int8send(coalesce(actor_id, 0)) || int8send(coalesce(unit_id, 0)) || int8send(coalesce(customer_id, 0))"
    # the four uint16 lengths, as one int64
    " || int8send((octet_length(kind)::int8 << 48) | (octet_length(source)::int8 << 32)"
    " | (octet_length(source_id)::int8 << 16) | octet_length(payload_hash))"
    " || convert_to(kind || source || source_id || payload_hash, 'UTF8')"
)
# Row by row, in the binary protocol: the precise check, run on a chunk the server's check rejects.
_LAID_OUT = (
    "SELECT seq, convert_to(payload, 'UTF8'), convert_to(payload_hash, 'UTF8'), "  # noqa: S608 (constants only)
    + _LAYOUT
    + ", leaf_hash FROM ledger_entry WHERE seq >= %s AND seq < %s"
)
# A whole chunk's leaves checked by the server, as one row: PostgreSQL's own sha256() (OpenSSL,
# in C) hashes each leaf's bytes laid out from the columns and compares them with the stored
# hashes; back come the count, the first seq that failed a check, and the leaf hashes
# concatenated in seq order for the tree, which is built and checked here. The payloads are
# sealed (custos.core.sealed), so the server cannot hash them: they come here to be opened and
# hashed (_PAYLOADS, check_payloads).
# Verify trusts the server's built-in functions as it trusts the database to hand back the
# stored bytes (pg_catalog is named, so no function of the same name in another schema is used).
_CHECKED = (
    "SELECT count(*), count(*) FILTER (WHERE redacted), min(seq) FILTER (WHERE bad),"  # noqa: S608 (constants only)
    " string_agg(int8send(seq), ''), string_agg(leaf_hash, '')"
    " FROM (SELECT seq, payload IS NULL AS redacted, leaf_hash,"
    " pg_catalog.sha256(" + _LAYOUT + ") IS DISTINCT FROM leaf_hash AS bad"
    # Only these narrow rows are put in seq order, should the planner sort them (without
    # statistics, on a log just written, it did: the payloads with them spilled to disk).
    " FROM ledger_entry WHERE seq >= %s AND seq < %s ORDER BY seq) AS e"
)
_PAYLOADS = (
    "SELECT seq, payload, payload_hash FROM ledger_entry WHERE seq >= %s AND seq < %s AND payload IS NOT NULL"
)
if LEAF_VERSION != 1:  # pragma: no cover
    raise ImportError("scan._LAID_OUT lays out leaf version 1: change it with hashing.LEAF_VERSION")
# SQLite: hashing.HEAD with the leaf's 0x00 in front as a pad byte, so one pack lays out the start
# of what is hashed.
_PREFIXED_HEAD = struct.Struct(">x" + HEAD.format.lstrip(">"))
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


def _binary(connection, sql: str, lo: int, hi: int) -> list[tuple]:
    """Rows of `sql` for entries lo..hi-1 through psycopg's own cursor, in the binary protocol
    (Django's client-side cursor reads text)."""
    import psycopg

    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        try:
            cursor.execute(sql, (lo, hi), binary=True)
            return cursor.fetchall()
        except (psycopg.DataError, psycopg.errors.FeatureNotSupported) as exc:  # 'infinity', say
            raise Problem(f"entries {lo}..{hi - 1}: a timestamp no entry could have ({exc})") from None


def _fetch(connection, lo: int, hi: int) -> list[tuple]:
    """Entries lo..hi-1 in seq order (missing ones are simply absent)."""
    if connection.vendor == "postgresql":
        rows = _binary(connection, _LAID_OUT, lo, hi)
    else:
        with connection.cursor() as cursor:
            cursor.execute(_COLUMNS, [lo, hi])
            rows = cursor.fetchall()
    rows.sort(key=itemgetter(0))
    return rows


def _fetch_checked(connection, lo: int, hi: int) -> tuple:
    return _binary(connection, _CHECKED, lo, hi)[0]


def check_checked(row: tuple, lo: int, hi: int) -> list[bytes] | None:
    """Leaf hashes of entries lo..hi-1 from a _CHECKED row when the server found every entry
    sound; None when anything is off (a gap, a removed payload, a mismatch, a leaf_hash not 32
    bytes long), for the row-by-row check to name it."""
    n, redacted, first_bad, seqs, leaves = row
    if n != hi - lo or redacted or first_bad is not None or len(leaves) != 32 * n:
        return None
    if not numpy.array_equal(numpy.frombuffer(seqs, dtype=">i8"), numpy.arange(lo, hi)):
        return None  # not in seq order after all: neither are the leaves, for the tree
    return list(map(leaves.__getitem__, map(slice, range(0, 32 * n, 32), range(32, 32 * n + 32, 32))))


def opened(seq: int, body: bytes | str) -> bytes:
    """The plain canonical JSON of a stored payload (sealed at rest, custos.core.sealed); one
    stored before sealing is read as it is."""
    text = body.decode() if isinstance(body, bytes | memoryview) else body
    if not sealed.is_sealed(text):
        return text.encode()
    try:
        return crypto.decrypt(text, aad=_PAYLOAD_AAD).encode()
    except crypto.KeyConfigError as exc:
        raise Problem(f"entry {seq}: {exc}") from None
    except (InvalidTag, ValueError, binascii.Error):
        raise Problem(
            f"entry {seq}: payload does not open under its field key (replaced or damaged)"
        ) from None


def check_payloads(rows, covered: Container[int]) -> None:
    """Check (seq, stored payload, payload_hash) rows: each opened payload against its hash."""
    sha256 = hashlib.sha256
    for seq, body, digest in rows:
        if sha256(opened(seq, body)).hexdigest() != digest:
            _check_payload(seq, body, digest, covered)


def _check_payload(seq: int, body: bytes | None, digest: bytes, covered: Container[int]) -> None:
    if body is None:
        if seq not in covered:
            raise Problem(f"entry {seq}: payload removed without a {REDACTED} entry naming it")
    else:
        raise Problem(f"entry {seq}: payload does not match its payload_hash")


def check_laid_out(rows: list[tuple], expected: int, covered: Container[int]) -> list[bytes]:
    """Check entries expected, expected+1, ... in rows of (seq, payload, payload_hash, 0x00 ||
    leaf data, leaf_hash); returns their leaf hashes."""
    sha256 = hashlib.sha256
    leaves: list[bytes] = []
    append = leaves.append
    for seq, body, digest, data, leaf in rows:
        if seq != expected:
            raise Problem(f"entry {expected}: missing (the next entry is {seq})")
        if body is None or sha256(opened(seq, body)).hexdigest().encode() != digest:
            _check_payload(seq, body, digest, covered)
        h = sha256(data).digest()
        if h != leaf:
            raise Problem(f"entry {seq}: leaf_hash does not match its columns")
        append(h)
        expected += 1
    return leaves


def check_rows(rows: list[tuple], expected: int, covered: Container[int], to_micros) -> list[bytes]:
    """Check entries expected, expected+1, ... in rows of columns (_COLUMNS); returns their leaf hashes."""
    sha256, pack, join = hashlib.sha256, _PREFIXED_HEAD.pack, b"".join
    leaves: list[bytes] = []
    append = leaves.append
    # A batch shares recorded_at, and events often occurred_at: convert each distinct value once.
    occ_text = occ_us = rec_text = rec_us = None
    for seq, kind, occ, rec, actor, unit, customer, source, source_id, body, digest, leaf in rows:
        if seq != expected:
            raise Problem(f"entry {expected}: missing (the next entry is {seq})")
        if body is None or sha256(opened(seq, body)).hexdigest().encode() != digest:
            _check_payload(seq, body, digest, covered)
        try:
            if occ != occ_text:
                occ_text, occ_us = occ, to_micros(occ)
            if rec != rec_text:
                rec_text, rec_us = rec, to_micros(rec)
            # hashing.leaf_data_raw, inlined with the leaf's 0x00 in front: a tenth of this
            # loop's time went to the call and the concatenation
            present = (actor is not None) | (unit is not None) << 1 | (customer is not None) << 2
            head = pack(LEAF_VERSION, seq, occ_us, rec_us, present, actor or 0, unit or 0, customer or 0,
                        len(kind), len(source), len(source_id), len(digest))  # fmt: skip
        except (TypeError, ValueError, struct.error):
            raise Problem(f"entry {seq}: a column no entry could have (not a timestamp, too long)") from None
        h = sha256(join((head, kind, source, source_id, digest))).digest()
        if h != leaf:
            raise Problem(f"entry {seq}: leaf_hash does not match its columns")
        append(h)
        expected += 1
    return leaves


def check_range(
    using: str, lo: int, hi: int, size: int, covered: Container[int], head_sizes: list[int]
) -> RangeResult:
    """Check entries lo..hi-1 (lo a multiple of BLOCK) of a log of `size` entries."""
    connection = connections[using]
    laid_out = connection.vendor == "postgresql"
    leaves: list[bytes] = []
    for start in range(lo, hi, CHUNK):
        end = min(start + CHUNK, hi)
        got = check_checked(_fetch_checked(connection, start, end), start, end) if laid_out else None
        if got is not None:
            with connection.cursor() as cursor:
                cursor.execute(_PAYLOADS, [start, end])
                check_payloads(cursor.fetchall(), covered)
        if got is None:  # SQLite, or something is off: the row-by-row check names it (or accepts a redaction)
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
    using: str, size: int, covered: Container[int], head_sizes: list[int], jobs: int
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
