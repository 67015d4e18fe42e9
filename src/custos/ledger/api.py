"""REST endpoints of the ledger (mounted at /api/v1/ledger): entries, signed heads, proofs.

Hashes are lowercase hex, signatures base64; a client checks proofs with the algorithms of
RFC 9162 §2.1.3.2 and §2.1.4.2 and a head's signature with the Ed25519 public key from /head.
"""

import base64
import json
from datetime import datetime
from typing import Any

from ninja import Field, Path, Query, Router, Schema
from ninja.pagination import paginate

from custos.api.auth import viewer
from custos.api.pagination import Page
from custos.ledger import heads, selectors

router = Router(tags=["ledger"])

# Ids and seqs are 64-bit in the database; a bigger number is a 422 here, not an overflow there.
BIGINT = 2**63 - 1


class EntryOut(Schema):
    seq: int
    kind: str
    occurred_at: datetime
    recorded_at: datetime
    actor_id: int | None
    unit_id: int | None
    customer_id: int | None
    source: str
    source_id: str
    payload: Any = Field(None, description="the body; null once redacted under a retention rule")
    redacted: bool
    payload_hash: str
    leaf_hash: str

    @staticmethod
    def resolve_payload(obj):
        return None if obj.payload is None else json.loads(obj.payload)

    @staticmethod
    def resolve_leaf_hash(obj):
        return bytes(obj.leaf_hash).hex()


class EntryFilters(Schema):
    kind: str | None = Field(None, max_length=64, description="kind prefix, e.g. 'auth.' or 'auth.login'")
    actor_id: int | None = Field(None, ge=-BIGINT, le=BIGINT)
    customer_id: int | None = Field(None, ge=-BIGINT, le=BIGINT)
    since: datetime | None = Field(None, description="occurred at or after")
    until: datetime | None = Field(None, description="occurred before")


class HeadOut(Schema):
    id: int
    size: int
    root_hash: str
    timestamp: datetime
    timestamp_ms: int
    signature: str = Field(..., description="base64 Ed25519 signature of RFC 6962's TreeHeadSignature")
    key_id: str = Field(..., description="SHA-256 of the DER public key")

    @staticmethod
    def resolve_root_hash(obj):
        return bytes(obj.root_hash).hex()

    @staticmethod
    def resolve_timestamp_ms(obj):
        return heads.timestamp_ms(obj.timestamp)

    @staticmethod
    def resolve_signature(obj):
        return base64.b64encode(bytes(obj.signature)).decode()


class LatestHeadOut(HeadOut):
    public_key: str = Field(..., description="the log's Ed25519 public key, PEM")

    @staticmethod
    def resolve_public_key(obj):
        return heads.public_key_pem()


class InclusionOut(Schema):
    seq: int
    size: int
    leaf_hash: str
    proof: list[str]
    root_hash: str
    head: HeadOut | None = Field(None, description="the signed head of this size, if one was signed")


class ConsistencyOut(Schema):
    old: int
    new: int
    old_root: str
    new_root: str
    proof: list[str]


@router.get("/entries", response=list[EntryOut], summary="Ledger entries in the caller's scope, in seq order")
@paginate(Page)
def list_entries(request, filters: Query[EntryFilters]):
    return selectors.list_entries(viewer(request), **filters.dict())


@router.get("/entries/{seq}", response=EntryOut)
def get_entry(request, seq: int = Path(..., ge=0, le=BIGINT)):
    return selectors.get_entry(viewer(request), seq)


@router.get("/head", response=LatestHeadOut, summary="The latest signed tree head and the key to check it")
def latest_head(request):
    return selectors.latest_head(viewer(request))


@router.get("/proof/inclusion", response=InclusionOut, summary="Proof that an entry is in the log")
def inclusion_proof(
    request, seq: int = Query(..., ge=0, le=BIGINT), size: int | None = Query(None, ge=1, le=BIGINT)
):
    found = selectors.inclusion(viewer(request), seq, size)
    return {
        "seq": found.seq,
        "size": found.size,
        "leaf_hash": found.leaf_hash.hex(),
        "proof": [p.hex() for p in found.proof],
        "root_hash": found.root_hash.hex(),
        "head": found.head,
    }


@router.get(
    "/proof/consistency", response=ConsistencyOut, summary="Proof that a newer log extends an older one"
)
def consistency_proof(
    request, old: int = Query(..., ge=1, le=BIGINT), new: int | None = Query(None, ge=1, le=BIGINT)
):
    found = selectors.consistency(viewer(request), old, new)
    return {
        "old": found.old,
        "new": found.new,
        "old_root": found.old_root.hex(),
        "new_root": found.new_root.hex(),
        "proof": [p.hex() for p in found.proof],
    }
