"""REST endpoints of field work (/api/v1/field/...).

From the work phone, signed like ingest (custos.archive.signing: device token + HMAC), no session:
    POST /field/agent/check-ins     check in at a customer's (photo uploaded first to /ingest/blobs)
    POST /field/agent/check-outs    check out with the visit report
    POST /field/agent/track         up to 1,000 track points

For people (personal token or console session), scoped like everything else:
    GET  /field/visits, /field/visits/{id}, /field/route?employee_id=&day=
    GET/POST /field/sites, DELETE /field/sites/{id}
    GET/PUT  /field/employees/{employee_id}/area
"""

from datetime import date, datetime, time

from django.utils.translation import gettext as _
from ninja import Field, Path, Query, Router, Schema, Status
from pydantic import ValidationError

from custos.access import tokens
from custos.access.models import ApiToken
from custos.api.auth import viewer
from custos.archive import signing
from custos.core.errors import Forbidden, InvalidInput
from custos.customers.api import WRITERS
from custos.customers.schemas import BIGINT
from custos.devices.agent import SIGNING_HELP
from custos.field import selectors, services
from custos.field.models import KIND_LABELS, Visit

router = Router(tags=["field"])
ObjId = Path(..., ge=1, le=BIGINT)
AGENT_MAX_BYTES = 1024 * 1024

SIGNED = {
    "description": SIGNING_HELP,
    "parameters": [
        {"in": "header", "name": h, "required": True, "schema": {"type": "string"}}
        for h in ("Authorization", *signing.HEADERS)
    ],
}


def _signed(request, schema: type[Schema] | None) -> tuple[ApiToken, Schema | None]:
    """The device token that signed the request (custos.archive.signing's verifier), then the body."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > AGENT_MAX_BYTES:
        raise InvalidInput(_("The body is %(n)d bytes; at most 1 MiB is accepted here.") % {"n": length})
    body = request.body if length else b""
    scheme, _sep, clear = request.headers.get("Authorization", "").partition(" ")
    known = tokens.authenticate(clear.strip()) if scheme.lower() == "bearer" else None
    if known is not None and known.kind == ApiToken.Kind.PERSONAL:
        # A person's valid token: a known caller with the wrong credential for a phone's route.
        raise Forbidden(_("Only a work phone's signed device token may report field work."))
    token = signing.authenticate(request, body)
    if schema is None:
        return token, None
    try:
        return token, schema.model_validate_json(body or b"{}")
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise InvalidInput(f"{where}: {first.get('msg')}" if where else str(first.get("msg"))) from None


def _agent_schema(schema: type[Schema]) -> dict:
    return {
        **SIGNED,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema.model_json_schema()}},
        },
    }


class PositionIn(Schema):
    lat: float = Field(..., ge=-90, le=90)
    lon: float = Field(..., ge=-180, le=180)
    accuracy_m: float = Field(..., ge=0, le=100_000)
    at: datetime
    mock_location: bool = False

    def position(self) -> services.Position:
        return services.Position(self.lat, self.lon, self.accuracy_m, self.at, self.mock_location)


class CheckInIn(PositionIn):
    customer_id: int = Field(..., ge=1, le=BIGINT)
    photo_sha256: str = Field(..., pattern=r"^[0-9a-fA-F]{64}$")
    address: str = Field("", max_length=200)


class CheckOutIn(PositionIn):
    visit_id: int = Field(..., ge=1, le=BIGINT)
    report: str = Field("", max_length=2000)
    outcome: str = Field("", max_length=200)


class TrackIn(Schema):
    points: list[PositionIn] = Field(..., max_length=services.MAX_POINTS)


class AlertBrief(Schema):
    id: int
    rule: str
    label: str
    severity: str
    summary: str


def _alerts_out(alerts) -> list[dict]:
    return [
        {"id": a.pk, "rule": a.rule, "label": str(KIND_LABELS.get(a.rule, a.rule)), "severity": a.severity,
         "summary": a.summary}
        for a in alerts
    ]  # fmt: skip


class VisitOut(Schema):
    id: int
    employee_id: int
    employee: str
    customer_id: int
    customer: str
    site_id: int | None
    checked_in_at: datetime
    lat: float
    lon: float
    accuracy_m: float
    mock_location: bool
    distance_m: float | None
    photo_sha256: str
    photo_phash: str
    watermark: dict
    checked_out_at: datetime | None
    minutes: int | None
    report: str
    follow_up_id: int | None
    alerts: list[AlertBrief] = []


def _visit_out(visit: Visit, alerts=()) -> dict:
    return {
        "id": visit.pk,
        "employee_id": visit.employee_id,
        "employee": visit.employee.name,
        "customer_id": visit.customer_id,
        "customer": visit.customer.name,
        "site_id": visit.site_id,
        "checked_in_at": visit.checked_in_at,
        "lat": visit.lat,
        "lon": visit.lon,
        "accuracy_m": visit.accuracy_m,
        "mock_location": visit.mock_location,
        "distance_m": visit.distance_m,
        "photo_sha256": visit.photo_sha256,
        "photo_phash": visit.photo_phash,
        "watermark": visit.watermark,
        "checked_out_at": visit.checked_out_at,
        "minutes": visit.minutes,
        "report": visit.report,
        "follow_up_id": visit.follow_up_id,
        "alerts": _alerts_out(alerts),
    }


class TrackOut(Schema):
    accepted: int
    alerts: list[AlertBrief]


# --- the phone ----------------------------------------------------------------------------------


@router.post(
    "/agent/check-ins",
    auth=None,
    response={200: VisitOut, 201: VisitOut},
    summary="Check in at a customer's from a work phone (HMAC-signed)",
    openapi_extra=_agent_schema(CheckInIn),
)
def agent_check_in(request):
    token, data = _signed(request, CheckInIn)
    visit, raised = services.check_in(
        token, customer_id=data.customer_id, position=data.position(), photo_sha256=data.photo_sha256,
        address=data.address,
    )  # fmt: skip
    return Status(201 if raised is not None else 200, _visit_out(visit, raised or ()))


@router.post(
    "/agent/check-outs",
    auth=None,
    response=VisitOut,
    summary="Check out of a visit with its report, from a work phone (HMAC-signed)",
    openapi_extra=_agent_schema(CheckOutIn),
)
def agent_check_out(request):
    token, data = _signed(request, CheckOutIn)
    visit = services.check_out(
        token, visit_id=data.visit_id, position=data.position(), report=data.report, outcome=data.outcome
    )
    return _visit_out(visit)


@router.post(
    "/agent/track",
    auth=None,
    response=TrackOut,
    summary="Track points from a work phone (HMAC-signed)",
    openapi_extra=_agent_schema(TrackIn),
)
def agent_track(request):
    token, data = _signed(request, TrackIn)
    accepted, raised = services.track(token, [p.position() for p in data.points])
    return {"accepted": accepted, "alerts": _alerts_out(raised)}


class AgentSiteOut(Schema):
    customer_id: int
    customer: str
    name: str
    address: str
    lat: float
    lon: float
    radius_m: int
    polygon: list


@router.get(
    "/agent/sites",
    auth=None,
    response=list[AgentSiteOut],
    summary="The sites of the customers this phone's employee may visit (HMAC-signed)",
    openapi_extra=SIGNED,
)
def agent_sites(request, limit: int = Query(500, ge=1, le=2000)):
    token, _ = _signed(request, None)
    employee = services.device_employee(token)
    rows = selectors.sites_visible(employee).order_by("customer_id", "id")[:limit]
    return [_site_out(s) for s in rows]


# --- people -------------------------------------------------------------------------------------


class VisitQuery(Schema):
    employee_id: int | None = Field(None, ge=1, le=BIGINT)
    customer_id: int | None = Field(None, ge=1, le=BIGINT)
    day: date | None = None
    flagged: bool = False
    limit: int = Field(50, ge=1, le=200)
    offset: int = Field(0, ge=0, le=10**9)


@router.get("/visits", response=list[VisitOut], summary="Visits the caller may see, newest first")
def list_visits(request, q: Query[VisitQuery]):
    me = viewer(request)
    f = selectors.VisitFilters(
        employee_id=q.employee_id, customer_id=q.customer_id, day=q.day, flagged=q.flagged
    )
    visits = list(selectors.list_visits(me, f)[q.offset : q.offset + q.limit])
    alerts = selectors.alerts_by_visit(visits)
    return [_visit_out(v, alerts.get(v.pk, ())) for v in visits]


@router.get("/visits/{visit_id}", response=VisitOut)
def get_visit(request, visit_id: int = ObjId):
    visit = selectors.get_visit(viewer(request), visit_id)
    return _visit_out(visit, selectors.alerts_by_visit([visit]).get(visit.pk, ()))


class RouteQuery(Schema):
    employee_id: int = Field(..., ge=1, le=BIGINT)
    day: date


@router.get("/route", summary="A salesperson's day: track points, visits and the customers' sites")
def route(request, q: Query[RouteQuery]):
    data = selectors.route(viewer(request), q.employee_id, q.day)
    return {
        "employee_id": data["employee"].pk,
        "day": data["day"].isoformat(),
        "points": [
            {"at": at.isoformat(), "lat": lat, "lon": lon, "accuracy_m": acc, "mock_location": mock}
            for at, lat, lon, acc, mock in data["points"]
        ],
        "visits": [_visit_out(v, data["alerts"].get(v.pk, ())) for v in data["visits"]],
        "sites": [_site_out(s) for s in data["sites"]],
        "alerts": _alerts_out(data["day_alerts"]),
    }


class SiteIn(Schema):
    customer_id: int = Field(..., ge=1, le=BIGINT)
    name: str = Field(..., min_length=1, max_length=100)
    address: str = Field("", max_length=200)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    radius_m: int | None = Field(200, ge=10, le=50_000)
    polygon: list[list[float]] | None = Field(None, max_length=500)


class SiteOut(Schema):
    id: int
    customer_id: int
    customer: str
    name: str
    address: str
    lat: float
    lon: float
    radius_m: int
    polygon: list


def _site_out(site) -> dict:
    return {
        "id": site.pk, "customer_id": site.customer_id, "customer": site.customer.name, "name": site.name,
        "address": site.address, "lat": site.lat, "lon": site.lon, "radius_m": site.radius_m, "polygon": site.polygon,
    }  # fmt: skip


@router.get("/sites", response=list[SiteOut], summary="Customer sites with their geofences")
def list_sites(
    request, customer_id: int | None = Query(None, ge=1, le=BIGINT), limit: int = Query(100, ge=1, le=500)
):
    qs = selectors.sites_visible(viewer(request))
    if customer_id:
        qs = qs.filter(customer_id=customer_id)
    return [_site_out(s) for s in qs[:limit]]


@router.post("/sites", response={201: SiteOut}, auth=WRITERS)
def create_site(request, data: SiteIn):
    site = services.set_site(actor=viewer(request), **data.dict())
    return Status(201, _site_out(site))


@router.delete("/sites/{site_id}", response={204: None}, auth=WRITERS)
def remove_site(request, site_id: int = ObjId):
    me = viewer(request)
    services.remove_site(actor=me, site=selectors.get_site(me, site_id))
    return Status(204, None)


class ShiftIO(Schema):
    weekday: int = Field(..., ge=0, le=6)
    starts: time
    ends: time


class AreaIn(Schema):
    name: str = Field("", max_length=100, description="required; checked after the employee is found")
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    radius_m: int | None = Field(None, ge=10, le=50_000)
    polygon: list[list[float]] | None = Field(None, max_length=500)
    shifts: list[ShiftIO] = Field(default_factory=list, max_length=50)


class AreaOut(Schema):
    id: int
    employee_id: int
    name: str
    lat: float | None
    lon: float | None
    radius_m: int | None
    polygon: list
    shifts: list[ShiftIO]


def _area_out(area) -> dict:
    return {
        "id": area.pk, "employee_id": area.employee_id, "name": area.name, "lat": area.lat, "lon": area.lon,
        "radius_m": area.radius_m, "polygon": area.polygon,
        "shifts": [{"weekday": s.weekday, "starts": s.starts, "ends": s.ends} for s in area.shifts.all()],
    }  # fmt: skip


@router.get("/employees/{employee_id}/area", response={200: AreaOut, 204: None})
def get_area(request, employee_id: int = ObjId):
    area = selectors.area_of(viewer(request), employee_id)
    return Status(204, None) if area is None else _area_out(area)


@router.put("/employees/{employee_id}/area", response=AreaOut, auth=WRITERS)
def put_area(request, data: AreaIn, employee_id: int = ObjId):
    area = services.set_area(
        actor=viewer(request), employee_id=employee_id, name=data.name, lat=data.lat, lon=data.lon,
        radius_m=data.radius_m, polygon=data.polygon,
        shifts=[(s.weekday, s.starts, s.ends) for s in data.shifts],
    )  # fmt: skip
    return _area_out(area)
