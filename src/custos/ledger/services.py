"""Writing to the ledger: appending entries, and the one narrow change allowed after, redaction.

`append_batch` takes many events in one transaction. The same (source, source_id) twice is one
entry: the caller learns which events were duplicates and gets the existing entry back.
Projections registered in custos.ledger.projections see the new entries inside the same
transaction, so a read model never disagrees with the ledger.

Appending is the hot path of the whole product (every chat message is an entry), so rows go in
with one executemany of pre-adapted values (a COPY on PostgreSQL) instead of the ORM's per-object
machinery: a batch is a lock on the state row, one look-up for duplicates, one insert, one
update, and now and then the tree nodes the batch completed. Entry objects are only built for
whoever asks for them.
"""

import hashlib
import json
import uuid
from dataclasses import dataclass, field
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, connections, transaction
from django.utils import timezone

from custos.core.errors import InvalidInput, NotFound
from custos.ledger import hashing, projections, tree
from custos.ledger.models import Entry, Node

REDACTED = "retention.redacted"
_FIELDS = Entry._meta.concrete_fields
_PAYLOAD = Entry._meta.get_field("payload")
_LIMITS = {f.name: f.max_length for f in _FIELDS if f.name in ("kind", "source", "source_id")}
_CHUNK = 900  # parameters per IN (...): far below every backend's limit
COPY_FROM = 16  # rows; below this an INSERT's single round trip beats COPY's two
# canonical_json's encoder, made once: json.dumps would build it anew for every entry.
_ENCODER = json.JSONEncoder(ensure_ascii=False, sort_keys=True, separators=(",", ":"), allow_nan=False)
_MIN_ID, _MAX_ID = -(2**63), 2**63 - 1


@dataclass
class Event:
    kind: str
    payload: dict = field(default_factory=dict)
    actor_id: int | None = None
    unit_id: int | None = None
    customer_id: int | None = None
    source: str = "custos"
    source_id: str | None = None
    occurred_at: datetime | None = None


class Appended:
    """What became of one event: its entry, and whether it was a duplicate of one already there.

    The Entry object is built on first access: a batch of a thousand appended by an importer
    that only counts duplicates should not pay for a thousand model instances.
    """

    __slots__ = ("_entry", "_source", "duplicate", "seq")

    def __init__(self, entry: Entry | None = None, duplicate: bool = False, *, seq=None, source=None):
        self._entry, self.duplicate = entry, duplicate
        self.seq = entry.seq if entry is not None else seq
        self._source = source  # (alias, row values) of a new entry, or the Appended it duplicates

    @property
    def entry(self) -> Entry:
        if self._entry is None:
            if isinstance(self._source, Appended):
                self._entry = self._source.entry
            else:
                using, values = self._source
                self._entry = Entry.from_db(using, None, values)  # marked saved: never inserted again
        return self._entry

    @property
    def kind(self) -> str:
        if self._entry is None and isinstance(self._source, tuple):
            return self._source[1][1]
        return self.entry.kind

    def __repr__(self):
        return f"Appended(seq={self.seq}, duplicate={self.duplicate})"


def _sql(connection) -> dict[str, str]:
    # Built from the model's own names and fixed text, never from input: values go as parameters.
    q = connection.ops.quote_name
    columns = ", ".join(q(f.column) for f in _FIELDS)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    return {
        "insert": f"INSERT INTO {q(Entry._meta.db_table)} ({columns}) VALUES ({', '.join(['%s'] * len(_FIELDS))})",  # noqa: S608
        "copy": f"COPY {q(Entry._meta.db_table)} ({columns}) FROM STDIN",
        "lock": f"SELECT size FROM ledger_ledgerstate WHERE id = 1{lock}",  # noqa: S608
        "init": "INSERT INTO ledger_ledgerstate (id, size) VALUES (1, 0) ON CONFLICT (id) DO NOTHING",
        "grow": "UPDATE ledger_ledgerstate SET size = %s WHERE id = 1",
        "dupes": "SELECT source_id, seq FROM ledger_entry WHERE source = %s AND source_id IN ({})",
    } | (
        # The array behind a scalar sub-SELECT: a constant array has the planner estimate each
        # of its (up to 10,000) elements against the column's statistics, 75 ms a batch on a
        # ledger of half a million entries, against 26 ms for the same index probes.
        # Read from the key table the partitioning keeps (custos.core.partitioning, migration
        # archive 0012): one probe a key, where ledger_entry would take one in every month's partition.
        {"any": "SELECT source_id, seq FROM ledger_entry_key WHERE source = %s AND source_id = ANY((SELECT %s::text[])::text[])"}
        if connection.vendor == "postgresql"
        else {}
    )


def _lock_size(cursor, sql) -> int:
    """Lock the state row (PostgreSQL: FOR UPDATE; SQLite: the write lock BEGIN IMMEDIATE took)."""
    cursor.execute(sql["lock"])
    row = cursor.fetchone()
    if row is None:
        cursor.execute(sql["init"])
        cursor.execute(sql["lock"])
        row = cursor.fetchone()
    return row[0]


def _existing(cursor, sql, keys: set[tuple[str, str]]) -> dict[tuple[str, str], int]:
    by_source: dict[str, list[str]] = {}
    for source, source_id in keys:
        by_source.setdefault(source, []).append(source_id)
    found = {}
    for source, ids in by_source.items():
        if "any" in sql:
            # One array parameter: a batch of 10,000 keys as IN lists of 900 cost a tenth of a
            # second to send and plan, most of the duplicate check (bench.pool).
            cursor.execute(sql["any"], [source, ids])
            for source_id, seq in cursor.fetchall():
                found[(source, source_id)] = seq
            continue
        for i in range(0, len(ids), _CHUNK):
            chunk = ids[i : i + _CHUNK]
            cursor.execute(sql["dupes"].format(", ".join(["%s"] * len(chunk))), [source, *chunk])
            for source_id, seq in cursor.fetchall():
                found[(source, source_id)] = seq
    return found


def _check(event: Event) -> None:
    # Raw inserts skip Django's validation; PostgreSQL would refuse too long a value, SQLite not.
    for name, limit in _LIMITS.items():
        value = getattr(event, name)
        if not isinstance(value, str) or not value or len(value) > limit:
            raise InvalidInput(f"event {name} must be a non-empty string of at most {limit} characters")
    for name in ("actor_id", "unit_id", "customer_id"):
        value = getattr(event, name)
        if value is not None and (type(value) is not int or not _MIN_ID <= value <= _MAX_ID):
            raise InvalidInput(f"event {name} must be a 64-bit integer or None")


def _valid(e: Event) -> bool:
    """The common case of _check in one expression (the hot path); _check says what is wrong."""
    return (
        type(e.kind) is str
        and 0 < len(e.kind) <= _LIMITS["kind"]
        and type(e.source) is str
        and 0 < len(e.source) <= _LIMITS["source"]
        and type(e.source_id) is str
        and 0 < len(e.source_id) <= _LIMITS["source_id"]
        and (e.actor_id is None or (type(e.actor_id) is int and _MIN_ID <= e.actor_id <= _MAX_ID))
        and (e.unit_id is None or (type(e.unit_id) is int and _MIN_ID <= e.unit_id <= _MAX_ID))
        and (e.customer_id is None or (type(e.customer_id) is int and _MIN_ID <= e.customer_id <= _MAX_ID))
    )


# Bulk appends (the pool's nightly job: half a million entries in minutes) outgrow the planner's
# statistics of the ledger long before autovacuum, slow or switched off, analyzes it again: it
# then takes a new source for a handful of rows and checks duplicates by walking every entry of
# that source (bench.pool: from 0.3 s a batch to 3 s after ten batches, against 15 ms once
# analyzed). Past this many rows appended by this process, and past half the table as last
# analyzed, it analyzes the table: a dozen times as a ledger grows from nothing to a million.
ANALYZE_AFTER = 5_000
_grown = {"rows": 0, "floor": ANALYZE_AFTER}


def _keep_statistics(cursor, appended: int) -> None:
    _grown["rows"] += appended
    if _grown["rows"] < _grown["floor"]:
        return
    cursor.execute("ANALYZE ledger_entry")
    cursor.execute("SELECT reltuples FROM pg_class WHERE oid = 'ledger_entry'::regclass")
    _grown["rows"], _grown["floor"] = 0, max(ANALYZE_AFTER, int(cursor.fetchone()[0] // 2))


def _insert(connection, cursor, sql, rows: list[tuple]) -> None:
    """One executemany; on PostgreSQL a COPY for larger batches, some five times faster there.

    Both run inside the append transaction: an error in any row undoes the whole batch.
    """
    if connection.vendor == "postgresql" and len(rows) >= COPY_FROM:
        # Straight to psycopg's cursor for COPY; Django's wrapper still turns errors into its own.
        with connection.wrap_database_errors, cursor.cursor.copy(sql["copy"]) as copy:
            for row in rows:
                copy.write_row(row)
        _keep_statistics(cursor, len(rows))
    else:
        cursor.executemany(sql["insert"], rows)


def append_batch(events: list[Event], using: str = DEFAULT_DB_ALIAS) -> list[Appended]:
    if not events:
        return []
    with transaction.atomic(using=using):
        return _append(events, using)


def _append(events: list[Event], using: str) -> list[Appended]:
    connection = connections[using]
    sql = _sql(connection)
    adapt = connection.ops.adapt_datetimefield_value
    now = timezone.now()
    now_db, now_us = adapt(now), hashing.micros(now)
    for event in events:
        if not event.source_id:
            event.source_id = uuid.uuid4().hex
        if not _valid(event):
            _check(event)
    # Locals for the loop below, which runs once per entry of every append in the product.
    encode, sha256, leaf_data, micros = _ENCODER.encode, hashlib.sha256, hashing.leaf_data, hashing.micros
    seal = _PAYLOAD.sealer()

    with connection.cursor() as cursor:
        size = _lock_size(cursor, sql)
        existing = _existing(cursor, sql, {(e.source, e.source_id) for e in events})
        seq = size
        rows, leaves, results = [], [], []
        fresh: dict[int, Appended] = {}
        for event in events:
            key = (event.source, event.source_id)
            if key in existing:
                found = existing[key]
                results.append(Appended(duplicate=True, seq=found, source=fresh.get(found)))
                continue
            occurred = event.occurred_at
            if occurred is None:
                occurred, occurred_db, occurred_us = now, now_db, now_us
            else:
                if timezone.is_naive(occurred):
                    occurred = timezone.make_aware(occurred)
                occurred_db, occurred_us = adapt(occurred), micros(occurred)
            text = encode(event.payload)  # canonical JSON, as custos.core.canonical makes it
            digest = sha256(text.encode()).hexdigest()
            kind, actor, unit, customer, source, source_id = (
                event.kind,
                event.actor_id,
                event.unit_id,
                event.customer_id,
                event.source,
                event.source_id,
            )
            data = leaf_data(seq, kind, occurred_us, now_us, actor, unit, customer, source, source_id, digest)
            leaf = sha256(b"\x00" + data).digest()
            # Stored sealed; the hash, the leaf and the Entry handed back hold the plain text.
            rows.append(
                (
                    seq,
                    kind,
                    occurred_db,
                    now_db,
                    actor,
                    unit,
                    customer,
                    source,
                    source_id,
                    seal(text),
                    digest,
                    leaf,
                )
            )
            values = (seq, kind, occurred, now, actor, unit, customer, source, source_id, text, digest, leaf)
            appended = fresh[seq] = Appended(seq=seq, source=(using, values))
            results.append(appended)
            leaves.append(leaf)
            existing[key] = seq
            seq += 1

        if rows:
            _insert(connection, cursor, sql, rows)
            cursor.execute(sql["grow"], [seq])
            if seq // tree.BLOCK > size // tree.BLOCK:
                Node.objects.using(using).bulk_create(tree.completed_nodes(size, seq, leaves, using))

    # Duplicates of entries from earlier batches: fetched in one query.
    older = [a for a in results if a.duplicate and a._source is None]
    if older:
        by_seq = Entry.objects.using(using).in_bulk([a.seq for a in older])
        for a in older:
            a._entry = by_seq[a.seq]
    if fresh and projections.any_registered():
        kinds = {a.kind for a in fresh.values()}
        wanted = {kind for kind in kinds if projections.wanted(kind)}
        if wanted:
            projections.feed([a.entry for a in fresh.values() if a.kind in wanted])
    return results


def append(kind: str, payload: dict | None = None, **fields) -> Entry:
    """Append one event; returns the entry (the existing one if it was a duplicate)."""
    return append_batch([Event(kind=kind, payload=payload or {}, **fields)])[0].entry


def redacted_seqs(entry: Entry) -> list[int]:
    """The seqs a retention.redacted entry names."""
    return list(json.loads(entry.payload)["seqs"]) if entry.payload else []


@transaction.atomic
def redact(seqs, reason: str, actor_id: int | None = None) -> Entry | None:
    """Erase the bodies of entries under a retention rule, keeping them in the tree.

    Appends a `retention.redacted` entry naming the seqs and the reason, then sets their payload
    to NULL, the one change the database triggers allow. The leaf covers payload_hash, so the
    tree and every signed head still verify. Handlers registered with projections.on_redacted
    then clear their copies of those bodies. Seqs already redacted are skipped; returns None
    when nothing was left to redact.
    """
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("a redaction needs a reason")
    try:
        wanted = sorted({int(s) for s in seqs})
    except (TypeError, ValueError) as exc:
        raise InvalidInput("seqs must be integers") from exc
    if not wanted:
        raise InvalidInput("name at least one entry to redact")
    kinds: dict[int, str] = {}
    done: set[int] = set()
    for i in range(0, len(wanted), _CHUNK):
        chunk = Entry.objects.filter(seq__in=wanted[i : i + _CHUNK])
        kinds.update(chunk.values_list("seq", "kind"))
        done.update(chunk.filter(payload__isnull=True).values_list("seq", flat=True))
    missing = [s for s in wanted if s not in kinds]
    if missing:
        raise NotFound(f"no entry {missing[0]} in the ledger")
    if REDACTED in kinds.values():
        raise InvalidInput("a redaction entry cannot itself be redacted: it is what proves the others were")
    todo = [s for s in wanted if s not in done]
    if not todo:
        return None
    entry = append(REDACTED, {"seqs": todo, "reason": reason}, actor_id=actor_id, source="retention")
    for i in range(0, len(todo), _CHUNK):
        Entry.objects.filter(seq__in=todo[i : i + _CHUNK]).update(payload=None)
    projections.redacted(todo)  # read models drop their copies of the bodies in this transaction
    return entry
