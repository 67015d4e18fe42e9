"""REST endpoints of evidence packages, retention rules and legal holds (mounted at /api/v1/evidence).

POST /packages builds in the background: poll GET /packages/{id} until status is done, then GET
/packages/{id}/download (the requester only; every download is a ledger entry). A package's file
is deleted CUSTOS_EVIDENCE_KEEP_DAYS after it was built: its download is then a 410 (`package_expired`),
and a new package for the same selection can be requested.
"""

from datetime import datetime
from uuid import UUID

from django.http import FileResponse
from ninja import Field, Path, Router, Schema, Status

from custos.api.auth import viewer
from custos.evidence import selectors, services
from custos.evidence.selectors import Selection

router = Router(tags=["evidence"])
BIGINT = 2**63 - 1


class PackageIn(Schema):
    customer_id: int | None = Field(None, ge=1, le=BIGINT)
    employee_id: int | None = Field(None, ge=1, le=BIGINT)
    since: datetime | None = Field(None, description="entries that occurred at or after")
    until: datetime | None = Field(None, description="entries that occurred before")


class PackageOut(Schema):
    id: UUID = Field(..., alias="public_id")
    status: str
    stage: str
    done: int
    total: int
    percent: int
    error: str
    requested_at: datetime
    finished_at: datetime | None
    customer_id: int | None
    employee_id: int | None
    since: datetime | None
    until: datetime | None
    entries: int
    size_bytes: int
    manifest_sha256: str
    ledger_seq: int | None
    expires_at: datetime | None = Field(None, description="when the file will be deleted (CUSTOS_EVIDENCE_KEEP_DAYS)")
    expired_at: datetime | None = Field(None, description="when the file was deleted; a download is then a 410")


class RuleIn(Schema):
    kind_prefix: str = Field(..., max_length=64, description="e.g. 'message.' or 'call.logged'")
    days: int = Field(..., ge=1, le=services.MAX_DAYS)


class RuleOut(Schema):
    kind_prefix: str
    days: int
    updated_at: datetime


class HoldIn(Schema):
    reason: str = Field(..., max_length=500)
    customer_id: int | None = Field(None, ge=1, le=BIGINT)
    employee_id: int | None = Field(None, ge=1, le=BIGINT)
    unit_id: int | None = Field(None, ge=1, le=BIGINT)
    since: datetime | None = None
    until: datetime | None = None


class ReleaseIn(Schema):
    reason: str = Field(..., max_length=500)


class HoldOut(Schema):
    id: int
    customer_id: int | None
    employee_id: int | None
    unit_id: int | None
    since: datetime | None
    until: datetime | None
    reason: str
    placed_by_id: int | None
    placed_at: datetime
    active: bool
    released_by_id: int | None
    released_at: datetime | None
    release_reason: str


class RetentionRunOut(Schema):
    kind_prefix: str
    days: int
    cutoff: datetime
    expired: int
    held: int
    redacted: int


@router.post("/packages", response={202: PackageOut}, summary="Build an evidence package (in the background)")
def create_package(request, body: PackageIn):
    package = services.request_package(viewer(request), Selection(**body.dict()))
    return Status(202, package)


@router.get("/packages", response=list[PackageOut], summary="The caller's own evidence packages")
def list_packages(request):
    return list(selectors.packages_of(viewer(request))[:100])


@router.get("/packages/{package_id}", response=PackageOut, summary="Status and progress of a package")
def get_package(request, package_id: UUID):
    return selectors.get_package(viewer(request), package_id)


@router.get(
    "/packages/{package_id}/download",
    summary="The package ZIP (its requester only; recorded); 410 once it has expired",
)
def download_package(request, package_id: UUID):
    me = viewer(request)
    package = selectors.get_package(me, package_id)
    path = services.package_path(package)
    services.record_download(me, package)
    return FileResponse(path.open("rb"), as_attachment=True, filename=package.filename, content_type="application/zip")


@router.get("/retention/rules", response=list[RuleOut], summary="Retention periods by entry kind")
def list_rules(request):
    return list(selectors.retention_rules(viewer(request)))


@router.post("/retention/rules", response=RuleOut, summary="Set the retention period of a kind (admins)")
def put_rule(request, body: RuleIn):
    return services.set_rule(viewer(request), body.kind_prefix, body.days)


@router.delete("/retention/rules/{kind_prefix}", response={204: None}, summary="Keep a kind forever again (admins)")
def delete_rule(request, kind_prefix: str):
    services.remove_rule(viewer(request), kind_prefix)
    return Status(204, None)


@router.get("/retention/dry-run", response=list[RetentionRunOut], summary="What a retention run would redact now")
def retention_dry_run(request):
    me = viewer(request)
    selectors.retention_rules(me)
    return services.run_retention(dry_run=True)


@router.get("/holds", response=list[HoldOut], summary="Legal holds")
def list_holds(request, active: bool | None = None):
    return list(selectors.legal_holds(viewer(request), active=active))


@router.post("/holds", response={201: HoldOut}, summary="Place a legal hold (admins and auditors)")
def place_hold(request, body: HoldIn):
    return Status(201, services.place_hold(viewer(request), services.HoldInput(**body.dict())))


@router.post("/holds/{hold_id}/release", response=HoldOut, summary="Release a legal hold (admins and auditors)")
def release_hold(request, body: ReleaseIn, hold_id: int = Path(..., ge=1, le=BIGINT)):
    return services.release_hold(viewer(request), hold_id, body.reason)


@router.get("/holds/{hold_id}", response=HoldOut)
def get_hold(request, hold_id: int = Path(..., ge=1, le=BIGINT)):
    return selectors.get_hold(viewer(request), hold_id)
