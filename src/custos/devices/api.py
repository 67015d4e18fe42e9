"""REST endpoints of the work phones (/api/v1/devices/...).

The agent protocol, for the phone (agent.py: signed like /api/v1/ingest):
    POST /devices/agent/enrol                    trade a one-time code for the device credential
    POST /devices/agent/heartbeat                last seen, state, SIM; answers the policy revision to run
    GET  /devices/agent/policy                   the policy the phone should run
    POST /devices/agent/policy                   the revision it applied, and what it could not enforce
    POST /devices/agent/commands                 poll: the queued commands, now delivered
    POST /devices/agent/commands/{id}/ack        the result of one command

For people (personal token or console session), scoped like everything else:
    GET/POST /devices, GET /devices/{id}, POST /devices/{id}/assign, /enrolment-code, /commands, /retire
    GET /devices/non-compliant, GET /devices/policies, POST /devices/units/{unit_id}/policy,
    POST /devices/{id}/policy
"""

from datetime import datetime

from django.utils import timezone
from ninja import Field, Path, Query, Router, Schema, Status
from ninja.pagination import paginate

from custos.api.auth import viewer
from custos.customers.api import WRITERS
from custos.customers.schemas import BIGINT
from custos.devices import agent, commands, config, policies, selectors, services
from custos.devices.models import Command
from custos.org.selectors import get_employee, get_unit

router = Router(tags=["devices"])
ObjId = Path(..., ge=1, le=BIGINT)
Short = Field("", max_length=64)


# --- the agent protocol ------------------------------------------------------------------------


class EnrolIn(Schema):
    code: str = Field(
        ..., min_length=4, max_length=40, description="The one-time enrolment code, dashes optional"
    )
    serial: str = Field(..., min_length=3, max_length=64)
    imei: str = Field("", max_length=20)
    model: str = Field("", max_length=100)
    os: str = Field("", max_length=60)
    phone_number: str = Field("", max_length=20)
    sim_serial: str = Field("", max_length=32, description="The SIM's ICCID")


class EnrolOut(Schema):
    device_id: int
    token: str = Field(..., description="The device token. Shown once; only its hash is kept.")
    secret: str = Field(..., description="The HMAC signing secret. Shown once.")
    heartbeat_seconds: int
    policy_revision: int | None


class HeartbeatIn(Schema):
    battery: int | None = Field(None, ge=0, le=100)
    charging: bool | None = None
    network: str = Field("", max_length=20)
    agent_version: str = Field("", max_length=40)
    os: str = Field("", max_length=60)
    screen_locked: bool | None = None
    storage_free_mb: int | None = Field(None, ge=0, le=10**9)
    sim_serial: str = Field("", max_length=32)
    phone_number: str = Field("", max_length=20)
    apps: list[str] | None = Field(
        None, max_length=500, description="Package names of the apps installed by the user"
    )


class HeartbeatOut(Schema):
    policy_revision: int | None = Field(..., description="The revision to run: fetch it when it differs")
    commands_waiting: int
    heartbeat_seconds: int
    server_time: datetime


class PolicyOut(Schema):
    revision: int | None
    version: int | None
    rules: dict


class AppliedIn(Schema):
    revision: int = Field(..., ge=1, le=BIGINT)
    failures: list[str] = Field(
        default_factory=list, max_length=20, description="Settings it could not enforce"
    )


class AgentCommandOut(Schema):
    id: int
    kind: str
    payload: dict
    attempt: int = Field(..., alias="attempts")


class PollOut(Schema):
    commands: list[AgentCommandOut]


class AckIn(Schema):
    ok: bool
    result: str = Field("", max_length=500)


class AckOut(Schema):
    id: int
    status: str


def _policy_out(version) -> dict:
    if version is None:
        return {"revision": None, "version": None, "rules": dict(policies.DEFAULT_RULES)}
    return {"revision": version.pk, "version": version.version, "rules": version.rules}


@router.post(
    "/agent/enrol",
    auth=[agent.enrolment_caller],
    response={201: EnrolOut},
    summary="A work phone trades its one-time enrolment code for its credential",
)
def agent_enrol(request, body: EnrolIn):
    device, token, secret = services.enrol(**body.dict())
    current = policies.effective(device)
    return Status(
        201,
        EnrolOut(
            device_id=device.pk,
            token=token,
            secret=secret,
            heartbeat_seconds=config.heartbeat_seconds(),
            policy_revision=current.pk if current else None,
        ),
    )


SIGNED = agent.DeviceSignature()


@router.post(
    "/agent/heartbeat",
    auth=SIGNED,
    response=HeartbeatOut,
    openapi_extra=agent.SIGNED,
    summary="A work phone reports in (signed)",
)
def agent_heartbeat(request, body: HeartbeatIn):
    device = services.heartbeat(request.auth, body.dict(exclude_none=True))
    current = policies.effective(device)
    return {
        "policy_revision": current.pk if current else None,
        "commands_waiting": device.commands.filter(status=Command.Status.QUEUED).count(),
        "heartbeat_seconds": config.heartbeat_seconds(),
        "server_time": timezone.now(),
    }


@router.get(
    "/agent/policy",
    auth=SIGNED,
    response=PolicyOut,
    openapi_extra=agent.SIGNED,
    summary="The policy the phone should run (signed)",
)
def agent_policy(request):
    return _policy_out(policies.effective(request.auth))


@router.post(
    "/agent/policy",
    auth=SIGNED,
    response=PolicyOut,
    openapi_extra=agent.SIGNED,
    summary="The phone applied a policy revision (signed)",
)
def agent_policy_applied(request, body: AppliedIn):
    device = policies.applied(request.auth, body.revision, body.failures)
    return _policy_out(device.policy_applied)


@router.post(
    "/agent/commands",
    auth=SIGNED,
    response=PollOut,
    openapi_extra=agent.SIGNED,
    summary="Poll: the commands waiting for the phone (signed)",
)
def agent_poll(request):
    return {"commands": commands.poll(request.auth)}


@router.post(
    "/agent/commands/{command_id}/ack",
    auth=SIGNED,
    response=AckOut,
    openapi_extra=agent.SIGNED,
    summary="The result of one command (signed)",
)
def agent_ack(request, body: AckIn, command_id: int = ObjId):
    command = commands.acknowledge(request.auth, command_id, body.ok, body.result)
    return {"id": command.pk, "status": command.status}


# --- for people ------------------------------------------------------------------------------


class DeviceOut(Schema):
    id: int
    serial: str
    imei: str
    model: str
    os: str
    phone_number: str
    unit_id: int
    unit_name: str
    employee_id: int | None
    employee_name: str | None
    state: str
    connection: str = Field(..., description="online | silent | never | retired")
    last_seen_at: datetime | None
    enrolled_at: datetime | None
    battery: int | None
    compliance: str = Field(..., description="compliant | pending | non_compliant | no_policy | retired")
    compliance_reasons: list[str]
    policy_revision: int | None
    policy_version_applied: int | None
    open_commands: int
    locked_at: datetime | None
    wiped_at: datetime | None
    retired_at: datetime | None
    retired_reason: str


def _device_out(row: selectors.Row) -> dict:
    d = row.device
    return {
        "id": d.pk,
        "serial": d.serial,
        "imei": d.imei,
        "model": d.model,
        "os": d.os,
        "phone_number": d.phone_number,
        "unit_id": d.unit_id,
        "unit_name": d.unit.name,
        "employee_id": d.employee_id,
        "employee_name": d.employee.name if d.employee else None,
        "state": d.state,
        "connection": row.connection,
        "last_seen_at": d.last_seen_at,
        "enrolled_at": d.enrolled_at,
        "battery": d.last_report.get("battery"),
        "compliance": row.compliance.state,
        "compliance_reasons": [str(r) for r in row.compliance.reasons],
        "policy_revision": row.compliance.revision.pk if row.compliance.revision else None,
        "policy_version_applied": d.policy_applied.version if d.policy_applied_id else None,
        "open_commands": row.open_commands,
        "locked_at": d.locked_at,
        "wiped_at": d.wiped_at,
        "retired_at": d.retired_at,
        "retired_reason": d.retired_reason,
    }


def _row(me, device_id: int) -> dict:
    return _device_out(selectors.row(me, device_id))


class FleetFilters(Schema):
    unit_id: int | None = Field(None, ge=1, le=BIGINT)
    connection: str = Field(
        "",
        max_length=20,
        description="online | silent | never | retired | all (retired phones are left out otherwise)",
    )
    compliance: str = Field("", max_length=20, description="compliant | pending | non_compliant | no_policy")


@router.get("", response=list[DeviceOut], summary="The fleet in the caller's scope")
@paginate
def list_devices(request, filters: Query[FleetFilters]):
    rows = selectors.fleet(
        viewer(request), unit_id=filters.unit_id, state=filters.connection, compliance=filters.compliance
    )
    return [_device_out(r) for r in rows]


@router.get("/non-compliant", response=list[DeviceOut], summary="Phones not running their policy in full")
def non_compliant(request):
    return [_device_out(r) for r in selectors.fleet(viewer(request), compliance="non_compliant")]


class DeviceIn(Schema):
    serial: str = Field(..., min_length=3, max_length=64)
    employee_id: int | None = Field(None, ge=1, le=BIGINT)
    unit_id: int | None = Field(None, ge=1, le=BIGINT)
    imei: str = Field("", max_length=20)
    model: str = Field("", max_length=100)
    os: str = Field("", max_length=60)
    phone_number: str = Field("", max_length=20)


@router.post("", response={201: DeviceOut}, auth=WRITERS, summary="Register a company phone")
def register(request, body: DeviceIn):
    me = viewer(request)
    employee = get_employee(me, body.employee_id) if body.employee_id else None
    unit = get_unit(me, body.unit_id) if body.unit_id and employee is None else None
    device = services.register(
        actor=me,
        serial=body.serial,
        employee=employee,
        unit=unit,
        imei=body.imei,
        model=body.model,
        os=body.os,
        phone_number=body.phone_number,
    )
    return Status(201, _row(me, device.pk))


@router.get("/{device_id}", response=DeviceOut)
def get_device(request, device_id: int = ObjId):
    return _row(viewer(request), device_id)


class AssignIn(Schema):
    employee_id: int | None = Field(None, ge=1, le=BIGINT)
    unit_id: int | None = Field(None, ge=1, le=BIGINT)


@router.post(
    "/{device_id}/assign",
    response=DeviceOut,
    auth=WRITERS,
    summary="Give the phone to another employee or unit (enrol again)",
)
def assign(request, body: AssignIn, device_id: int = ObjId):
    me = viewer(request)
    device = selectors.get_device(me, device_id)
    employee = get_employee(me, body.employee_id) if body.employee_id else None
    unit = get_unit(me, body.unit_id) if body.unit_id and employee is None else None
    services.assign(actor=me, device=device, employee=employee, unit=unit)
    return _row(me, device_id)


class RetireIn(Schema):
    reason: str = Field(..., min_length=1, max_length=200)


@router.post(
    "/{device_id}/retire",
    response=DeviceOut,
    auth=WRITERS,
    summary="Take the phone out of service: credential revoked, waiting commands cancelled, history kept",
)
def retire(request, body: RetireIn, device_id: int = ObjId):
    me = viewer(request)
    services.retire(actor=me, device=selectors.get_device(me, device_id), reason=body.reason)
    return _row(me, device_id)


class CodeIn(Schema):
    hours: int | None = Field(None, ge=1, le=24 * 14)


class CodeOut(Schema):
    device_id: int
    code: str = Field(..., description="Shown once; only its hash is kept")
    expires_at: datetime


@router.post(
    "/{device_id}/enrolment-code",
    response={201: CodeOut},
    auth=WRITERS,
    summary="A one-time enrolment code for the phone",
)
def enrolment_code(request, body: CodeIn, device_id: int = ObjId):
    me = viewer(request)
    code, clear = services.issue_code(actor=me, device=selectors.get_device(me, device_id), hours=body.hours)
    return Status(201, CodeOut(device_id=device_id, code=clear, expires_at=code.expires_at))


class CommandIn(Schema):
    kind: str = Field("ring", max_length=20, description=", ".join(Command.Kind.values))
    package: str = Field("", max_length=150)
    url: str = Field("", max_length=500)
    reason: str = Field("", max_length=200)


class CommandOut(Schema):
    id: int
    device_id: int
    kind: str
    status: str
    payload: dict
    attempts: int
    case_id: int | None
    created_at: datetime
    created_by_id: int | None
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    result: str


@router.get(
    "/{device_id}/commands", response=list[CommandOut], summary="The phone's commands with their results"
)
@paginate
def list_commands(request, device_id: int = ObjId):
    return selectors.commands_of(viewer(request), device_id)


@router.post(
    "/{device_id}/commands", response={201: CommandOut}, auth=WRITERS, summary="Queue a command for the phone"
)
def queue_command(request, body: CommandIn, device_id: int = ObjId):
    me = viewer(request)
    command = commands.queue(
        actor=me,
        device=selectors.get_device(me, device_id),
        kind=body.kind,
        package=body.package,
        url=body.url,
        reason=body.reason,
    )
    return Status(201, command)


class PolicyIn(Schema):
    allowed_apps: list[str] = Field(default_factory=list, max_length=policies.MAX_APPS)
    disabled: list[str] = Field(
        default_factory=list, max_length=10, description="camera, bluetooth, screenshots, factory_reset"
    )
    call_recording: bool = True
    archive_upload: bool = True


class PolicyVersionOut(Schema):
    revision: int = Field(..., alias="pk")
    version: int
    policy_id: int
    unit_id: int | None = Field(None, alias="policy.unit_id")
    device_id: int | None = Field(None, alias="policy.device_id")
    rules: dict
    created_at: datetime


@router.get(
    "/policies/current",
    response=list[PolicyVersionOut],
    summary="The current version of each policy in scope",
)
def list_policies(request):
    return selectors.policies_visible(viewer(request))


@router.post(
    "/units/{unit_id}/policy",
    response={201: PolicyVersionOut},
    auth=WRITERS,
    summary="Publish a new version of a unit's policy",
)
def publish_unit_policy(request, body: PolicyIn, unit_id: int = ObjId):
    me = viewer(request)
    return Status(201, policies.publish(actor=me, unit=get_unit(me, unit_id), rules=body.dict()))


@router.post(
    "/{device_id}/policy",
    response={201: PolicyVersionOut},
    auth=WRITERS,
    summary="Publish a new version of one phone's own policy",
)
def publish_device_policy(request, body: PolicyIn, device_id: int = ObjId):
    me = viewer(request)
    return Status(
        201, policies.publish(actor=me, device=selectors.get_device(me, device_id), rules=body.dict())
    )
