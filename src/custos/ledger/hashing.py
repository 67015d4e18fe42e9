"""How an entry becomes a Merkle leaf (RFC 6962: leaf hash = SHA-256(0x00 || leaf data)).

The leaf data is a fixed binary layout in the style of RFC 6962's own TLS structures, so anyone
can recompute it from an entry's columns in a few lines of any language:

    struct {                     // big-endian throughout
        uint8  version = 1;
        uint64 seq;
        int64  occurred_at;      // microseconds since 1970-01-01T00:00:00Z
        int64  recorded_at;      // microseconds since 1970-01-01T00:00:00Z
        uint8  present;          // bit 0: actor, bit 1: unit, bit 2: customer (0 = NULL)
        int64  actor_id;         // 0 when absent
        int64  unit_id;
        int64  customer_id;
        uint16 kind_length, source_length, source_id_length, payload_sha256_length;
        opaque kind[kind_length];                  // UTF-8
        opaque source[source_length];              // UTF-8
        opaque source_id[source_id_length];        // UTF-8
        opaque payload_sha256[payload_sha256_length];  // the 64 hex digits of SHA-256(payload)
    } LeafData;

Binary rather than canonical JSON because `custos ledger verify` rebuilds every leaf: packing a
struct costs a microsecond, serialising JSON with sorted keys ten times that. The leaf covers the
hash of the payload, not the payload, so a body redacted under a retention rule (payload set to
NULL, see services.redact) leaves the tree verifiable.
"""

import hashlib
import struct
from datetime import UTC, datetime, timedelta

LEAF_VERSION = 1
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)
HEAD = struct.Struct(">BQqqBqqqHHHH")
_sha256 = hashlib.sha256


def micros(ts: datetime) -> int:
    """Microseconds since the epoch of an aware datetime (the precision both databases keep)."""
    return (ts - EPOCH) // _US


def payload_hash(payload_json: bytes) -> str:
    return _sha256(payload_json).hexdigest()


def leaf_data_raw(
    seq, kind, occurred_us, recorded_us, actor_id, unit_id, customer_id, source, source_id, payload_hash
) -> bytes:
    """The LeafData bytes from UTF-8 bytes for the four strings (verify reads them as bytes)."""
    present = (actor_id is not None) | (unit_id is not None) << 1 | (customer_id is not None) << 2
    head = HEAD.pack(
        LEAF_VERSION,
        seq,
        occurred_us,
        recorded_us,
        present,
        actor_id or 0,
        unit_id or 0,
        customer_id or 0,
        len(kind),
        len(source),
        len(source_id),
        len(payload_hash),
    )
    return b"".join((head, kind, source, source_id, payload_hash))


def leaf_data(
    seq, kind, occurred_us, recorded_us, actor_id, unit_id, customer_id, source, source_id, payload_hash
) -> bytes:
    """The LeafData bytes; timestamps in microseconds (see `micros`), ids None when absent."""
    return leaf_data_raw(
        seq,
        kind.encode(),
        occurred_us,
        recorded_us,
        actor_id,
        unit_id,
        customer_id,
        source.encode(),
        source_id.encode(),
        payload_hash.encode(),
    )


def leaf_hash(data: bytes) -> bytes:
    return _sha256(b"\x00" + data).digest()


def entry_leaf_data(entry) -> bytes:
    return leaf_data(
        entry.seq,
        entry.kind,
        micros(entry.occurred_at),
        micros(entry.recorded_at),
        entry.actor_id,
        entry.unit_id,
        entry.customer_id,
        entry.source,
        entry.source_id,
        entry.payload_hash,
    )


def entry_leaf_hash(entry) -> bytes:
    return leaf_hash(entry_leaf_data(entry))
