"""REST endpoints of the archive.

Ingestion (work phones and connectors), signed per request (signing.py), no session, no
personal token:
    POST /api/v1/ingest/events                 a batch of up to 1,000 events; a result per event
    PUT  /api/v1/ingest/blobs/{sha256}         a small attachment in one request (<= 2 MiB)
    GET  /api/v1/ingest/blobs/{sha256}         is it stored?
    POST /api/v1/ingest/uploads                open a resumable upload {sha256, size}
    GET  /api/v1/ingest/uploads/{id}           where it stands (offset)
    PUT  /api/v1/ingest/uploads/{id}?offset=N  the next chunk (<= 2 MiB)
    POST /api/v1/ingest/uploads/{id}/finish    verify the SHA-256 and store

For people (personal token or console session), scoped like everything else:
    POST /api/v1/ingest/credentials            issue a device/integration token with its signing secret
    GET  /api/v1/archive/conversations, /{id}/messages, /api/v1/archive/search
    POST /api/v1/archive/contacts/{id}/link    link an unmatched contact to a customer
"""

import json
from datetime import UTC, datetime

from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from custos.access.models import ApiToken
from custos.api.auth import viewer
from custos.api.pagination import CountAheadPage
from custos.archive import blobs, credentials, selectors, services, signing, uploads
from custos.core.errors import InvalidInput
from custos.org import selectors as org_selectors

router = Router(tags=["archive"])

EVENTS_MAX_BYTES = 16 * 1024 * 1024


class TooLarge(InvalidInput):
    code = "too_large"
    status = 413


def _body(request, limit: int) -> bytes:
    """The request body, read here (not by Django's 2.5 MB check) up to our own limit."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > limit:
        raise TooLarge(f"the body is {length} bytes; at most {limit} are accepted here")
    if not hasattr(request, "_body"):
        request._body = request.read(length) if length else b""
    return request._body


def _signed(request, limit: int) -> tuple[ApiToken, bytes]:
    body = _body(request, limit)
    return signing.authenticate(request, body), body


SIGNED = {
    "parameters": [
        {"in": "header", "name": h, "required": True, "schema": {"type": "string"}} for h in signing.HEADERS
    ]
}


class EventResult(Schema):
    index: int
    status: str = Field(..., description="accepted | duplicate | rejected")
    source_id: str | None = None
    seq: int | None = None
    reason: str | None = None


class IngestOut(Schema):
    accepted: int
    duplicates: int
    rejected: int
    results: list[EventResult]


@router.post(
    "/ingest/events",
    auth=None,
    response=IngestOut,
    summary="Append a batch of events from a work phone or connector (HMAC-signed)",
    openapi_extra={
        **SIGNED,
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {
                    "schema": {
                        "type": "object",
                        "properties": {"events": {"type": "array", "maxItems": 1000, "items": {"type": "object"}}},
                    }
                }
            },
        },
    },
)
def ingest_events(request):
    token, body = _signed(request, EVENTS_MAX_BYTES)
    try:
        data = json.loads(body or b"null")
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput("the body is not JSON") from None
    events = data.get("events") if isinstance(data, dict) else None
    results = services.ingest(token, events)
    counts = {s: sum(1 for r in results if r.status == s) for s in ("accepted", "duplicate", "rejected")}
    return {
        "accepted": counts["accepted"],
        "duplicates": counts["duplicate"],
        "rejected": counts["rejected"],
        "results": [r.as_dict() for r in results],
    }


class BlobOut(Schema):
    sha256: str
    stored: bool
    size: int | None = None


@router.put("/ingest/blobs/{sha256}", auth=None, response={201: BlobOut}, openapi_extra=SIGNED)
def put_blob(request, sha256: str):
    token, body = _signed(request, uploads.MAX_CHUNK)
    blob = blobs.store_bytes(body, blobs.check_hash(sha256), token_id=token.pk)
    return Status(201, BlobOut(sha256=blob.sha256, stored=True, size=blob.size))


@router.get("/ingest/blobs/{sha256}", auth=None, response=BlobOut, openapi_extra=SIGNED)
def get_blob(request, sha256: str):
    _signed(request, 0)
    sha256 = blobs.check_hash(sha256)
    blob = blobs.Blob.objects.filter(sha256=sha256).first()
    return BlobOut(sha256=sha256, stored=blob is not None, size=blob.size if blob else None)


class UploadIn(Schema):
    sha256: str = Field(..., pattern=r"^[0-9a-fA-F]{64}$")
    size: int = Field(..., ge=0)


class UploadOut(Schema):
    id: str | None = None
    sha256: str
    size: int
    offset: int
    stored: bool = False
    chunk_max: int = uploads.MAX_CHUNK


def _upload_out(session) -> UploadOut:
    return UploadOut(id=session.id, sha256=session.sha256, size=session.size, offset=session.offset)


@router.post("/ingest/uploads", auth=None, response={200: UploadOut, 201: UploadOut}, openapi_extra=SIGNED)
def start_upload(request):
    token, body = _signed(request, 10_000)
    try:
        data = UploadIn.model_validate_json(body)
    except ValueError as exc:
        raise InvalidInput(f"send {{sha256, size}}: {str(exc).splitlines()[-1]}") from None
    session = uploads.start(token.pk, data.sha256, data.size)
    if session is None:
        return Status(200, UploadOut(sha256=data.sha256.lower(), size=data.size, offset=data.size, stored=True))
    return Status(201, _upload_out(session))


@router.get("/ingest/uploads/{upload_id}", auth=None, response=UploadOut, openapi_extra=SIGNED)
def upload_status(request, upload_id: str):
    token, _ = _signed(request, 0)
    return _upload_out(uploads.get(token.pk, upload_id))


@router.put("/ingest/uploads/{upload_id}", auth=None, response=UploadOut, openapi_extra=SIGNED)
def upload_chunk(request, upload_id: str, offset: int | None = None):
    token, body = _signed(request, uploads.MAX_CHUNK)  # who is asking comes before what is wrong
    if offset is None or offset < 0:
        raise InvalidInput("give ?offset=N, the byte offset of this chunk")
    return _upload_out(uploads.put_chunk(token.pk, upload_id, offset, body))


@router.post("/ingest/uploads/{upload_id}/finish", auth=None, response=BlobOut, openapi_extra=SIGNED)
def finish_upload(request, upload_id: str):
    token, _ = _signed(request, 10_000)
    blob = uploads.finish(token.pk, upload_id)
    return BlobOut(sha256=blob.sha256, stored=True, size=blob.size)


class CredentialIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    kind: str = Field("device", pattern="^(device|integration)$")
    days: int | None = Field(366, ge=1, le=366)
    employee_id: int | None = None
    unit_id: int | None = None


class CredentialOut(Schema):
    id: int
    kind: str
    name: str
    prefix: str
    employee_id: int | None
    unit_id: int | None
    expires_at: datetime | None
    token: str = Field(..., description="Shown once; only its hash is kept.")
    secret: str = Field(..., description="The HMAC signing secret. Shown once.")


@router.post("/ingest/credentials", response={201: CredentialOut}, summary="Issue a device or integration token")
def issue_credential(request, body: CredentialIn):
    me = viewer(request)
    employee = org_selectors.get_employee(me, body.employee_id) if body.employee_id else None
    unit = org_selectors.get_unit(me, body.unit_id) if body.unit_id else None
    token, clear, secret = credentials.issue(
        actor=me, kind=body.kind, name=body.name, days=body.days, employee=employee, unit=unit, source="api"
    )
    return Status(
        201,
        CredentialOut(
            id=token.pk,
            kind=token.kind,
            name=token.name,
            prefix=token.prefix,
            employee_id=token.employee_id,
            unit_id=token.unit_id,
            expires_at=token.expires_at,
            token=clear,
            secret=secret,
        ),
    )


class ConversationOut(Schema):
    id: int
    key: str
    title: str
    employee_id: int
    employee_name: str = Field(..., alias="employee.name")
    customer_id: int | None
    contact_id: int | None
    group_id: int | None
    messages: int
    last_at: datetime | None
    deleted_on_device_at: datetime | None


class MessageOut(Schema):
    id: int
    entry_seq: int
    conversation_id: int | None
    kind: str
    msgtype: str
    employee_id: int
    customer_id: int | None
    sender_role: str
    text: str
    attachment_sha256: str
    attachment_name: str
    attachment_mime: str
    attachment_size: int | None
    amount_fen: int | None
    occurred_at: datetime
    recalled_at: datetime | None
    deleted_on_device: bool
    extra: dict


@router.get("/archive/conversations", response=list[ConversationOut])
@paginate
def list_conversations(request, employee_id: int | None = None, customer_id: int | None = None):
    qs = selectors.conversations_visible(viewer(request))
    if employee_id:
        qs = qs.filter(employee_id=employee_id)
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    return qs


@router.get("/archive/conversations/{conversation_id}/messages", response=list[MessageOut])
@paginate
def conversation_messages(request, conversation_id: int):
    return selectors.messages_of(viewer(request), conversation_id)


BIGINT = 2**63 - 1


class SearchIn(Schema):
    q: str = Field("", max_length=200)
    employee_id: int | None = Field(None, ge=1, le=BIGINT)
    customer_id: int | None = Field(None, ge=1, le=BIGINT)
    unit_id: int | None = Field(None, ge=1, le=BIGINT)
    since: datetime | None = None
    until: datetime | None = None
    kind: str | None = Field(None, max_length=40)


class SearchPage(CountAheadPage):
    def cap(self) -> int:
        return selectors.HITS_CAP  # what a search fetches by its words before ordering a page


@router.get("/archive/search", response=list[MessageOut], summary="Search messages, file names and call notes")
@paginate(SearchPage)
def search(request, filters: Query[SearchIn]):
    data = filters.dict()
    for name in ("since", "until"):
        data[name] = _utc(data[name], name)
    return selectors.search(viewer(request), selectors.SearchFilters(**data))


def _utc(moment: datetime | None, name: str) -> datetime | None:
    """In UTC: PostgreSQL refuses offsets beyond ±16 h that ISO 8601 parsers accept."""
    if moment is None:
        return None
    try:
        if moment.tzinfo is None:
            return moment.replace(tzinfo=UTC)
        return moment.astimezone(UTC)
    except OverflowError:
        raise InvalidInput(f"{name}: out of range") from None


class LinkIn(Schema):
    customer_id: int


class ContactOut(Schema):
    id: int
    external_id: str
    name: str
    customer_id: int | None
    phone_masked: str


@router.post("/archive/contacts/{contact_id}/link", response=ContactOut)
def link_contact(request, contact_id: int, body: LinkIn):
    return services.link_contact(actor=viewer(request), contact_id=contact_id, customer_id=body.customer_id)
