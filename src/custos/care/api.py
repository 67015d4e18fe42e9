"""REST endpoints of care (/api/v1/care/...).

Reads through selectors scoped to the caller: the service desk reaches every customer of its
unit's subtree whoever the owner, a complaint stays out of its owner's sight; writes through
services. Anything outside the caller's reach is a 404.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Literal

from django.utils.translation import gettext as _
from ninja import Field, File, Path, Query, Router, Schema, Status, UploadedFile

from custos.api.auth import viewer
from custos.care import greetings, key_accounts, loyalty, points_import, selectors, services
from custos.care.models import GreetingTemplate, Holiday, LoyaltyLevel, LoyaltyProgram
from custos.core.errors import InvalidInput
from custos.customers import importer, imports
from custos.customers.api import WRITERS
from custos.customers.schemas import BIGINT, ImportJobOut

router = Router(tags=["care"])
ObjId = Path(..., ge=1, le=BIGINT)
Line = Literal["development", "service"]


class LineOut(Schema):
    kind: str
    employee_id: int
    employee_name: str
    since: datetime | None


class LineIn(Schema):
    employee_id: int = Field(..., ge=1, le=BIGINT)


class CadenceOut(Schema):
    grade: str
    every_days: int


class CadenceIn(Schema):
    every_days: int = Field(..., ge=0, le=3650)


class TaskOut(Schema):
    id: int
    customer_id: int
    customer_name: str
    kind: str
    queue: str
    assignee_id: int | None
    due_on: date
    status: str
    note: str
    reached: bool | None
    satisfaction: int | None
    complaint: str
    wants_other_contact: bool
    outcome_note: str
    archive_message_id: int | None
    source_task_id: int | None
    done_at: datetime | None


class TaskIn(Schema):
    customer_id: int = Field(..., ge=1, le=BIGINT)
    due_on: date
    note: str = Field("", max_length=300)


class OutcomeIn(Schema):
    reached: bool
    satisfaction: int | None = Field(None, ge=1, le=5)
    complaint: str = Field("", max_length=2000)
    wants_other_contact: bool = False
    note: str = Field("", max_length=2000)
    archive_message_id: int | None = Field(None, ge=1, le=BIGINT)


class ResolveIn(Schema):
    note: str = Field(..., min_length=1, max_length=2000)


class TaskFilter(Schema):
    when: Literal["today", "overdue", "due", "week", "open", "done"] = "due"
    queue: Literal["desk", "manager"] | None = None
    limit: int = Field(100, ge=1, le=500)
    offset: int = Field(0, ge=0, le=1_000_000)


class PlanIn(Schema):
    customer_id: int = Field(..., ge=1, le=BIGINT)
    visitor_id: int = Field(..., ge=1, le=BIGINT)
    every_days: int = Field(..., ge=1, le=730)
    gifts: str = Field("", max_length=300)
    events: str = Field("", max_length=300)
    remind_days: int = Field(3, ge=0, le=60)
    first_visit_on: date | None = None


class PlanOut(Schema):
    id: int
    customer_id: int
    customer_name: str
    visitor_id: int
    visitor_name: str
    every_days: int
    gifts: str
    events: str
    remind_days: int
    next_visit_on: date
    active: bool
    overdue: bool


class VisitIn(Schema):
    kind: Literal["visit", "gift", "event"] = "visit"
    visited_on: date | None = None
    note: str = Field("", max_length=2000)


class VisitOut(Schema):
    id: int
    plan_id: int
    kind: str
    visited_on: date
    visitor_id: int
    note: str


def _task_out(t) -> dict:
    return {
        **{f: getattr(t, f) for f in TaskOut.model_fields if hasattr(t, f) and f != "customer_name"},
        "customer_name": t.customer.name,
    }


def _plan_out(p) -> dict:
    from django.utils import timezone

    return {
        "id": p.pk, "customer_id": p.customer_id, "customer_name": p.customer.name, "visitor_id": p.visitor_id,
        "visitor_name": p.visitor.name, "every_days": p.every_days, "gifts": p.gifts, "events": p.events,
        "remind_days": p.remind_days, "next_visit_on": p.next_visit_on, "active": p.active,
        "overdue": p.active and p.next_visit_on < timezone.localdate(),
    }  # fmt: skip


# The work split ----------------------------------------------------------------------------------


@router.get(
    "/customers/{customer_id}/lines", response=list[LineOut], summary="Who at the company knows a customer"
)
def list_lines(request, customer_id: int = ObjId):
    return [
        {
            "kind": line["kind"],
            "employee_id": line["employee"].pk,
            "employee_name": line["employee"].name,
            "since": line["since"],
        }
        for line in selectors.lines_of(viewer(request), customer_id)
    ]


@router.put(
    "/customers/{customer_id}/lines/{line}",
    response=LineOut,
    auth=WRITERS,
    summary="Give a customer's development or service line to someone",
)
def assign_line(request, line: Line, body: LineIn, customer_id: int = ObjId):
    row = services.assign_responsibility(
        actor=viewer(request), customer_id=customer_id, kind=line, employee_id=body.employee_id
    )
    return {
        "kind": row.kind,
        "employee_id": row.employee_id,
        "employee_name": row.employee.name,
        "since": row.assigned_at,
    }


@router.delete(
    "/customers/{customer_id}/lines/{line}",
    response={204: None},
    auth=WRITERS,
    summary="End a customer's line",
)
def end_line(request, line: Line, customer_id: int = ObjId):
    services.end_responsibility(actor=viewer(request), customer_id=customer_id, kind=line)
    return Status(204, None)


# The return-visit schedule -----------------------------------------------------------------------


@router.get("/cadence", response=list[CadenceOut], summary="Days between return visits per grade")
def list_cadence(request):
    viewer(request)
    return [{"grade": g, "every_days": d} for g, d in sorted(services.cadence().items())]


@router.put(
    "/cadence/{grade}", response=CadenceOut, auth=WRITERS, summary="Set a grade's days between return visits"
)
def set_cadence(request, body: CadenceIn, grade: str = Path(..., min_length=1, max_length=8)):
    row = services.set_cadence(actor=viewer(request), grade=grade, every_days=body.every_days)
    return {"grade": row.grade, "every_days": row.every_days}


# The desk's tasks --------------------------------------------------------------------------------


@router.get("/tasks", response=list[TaskOut], summary="Contact tasks: today's and overdue by default")
def list_tasks(request, filters: Query[TaskFilter]):
    qs = selectors.tasks(viewer(request), when=filters.when, queue=filters.queue)
    return [_task_out(t) for t in qs[filters.offset : filters.offset + filters.limit]]


@router.post("/tasks", response={201: TaskOut}, auth=WRITERS, summary="Plan a return visit by hand")
def add_task(request, body: TaskIn):
    task = services.add_task(
        actor=viewer(request), customer_id=body.customer_id, due_on=body.due_on, note=body.note
    )
    return Status(201, _task_out(task))


@router.get("/tasks/{task_id}", response=TaskOut)
def get_task(request, task_id: int = ObjId):
    return _task_out(selectors.get_task(viewer(request), task_id))


@router.post("/tasks/{task_id}/outcome", response=TaskOut, auth=WRITERS, summary="Record how a contact went")
def record_outcome(request, body: OutcomeIn, task_id: int = ObjId):
    task = services.record_outcome(actor=viewer(request), task_id=task_id, **body.dict())
    return _task_out(task)


@router.post(
    "/tasks/{task_id}/resolve",
    response=TaskOut,
    auth=WRITERS,
    summary="Resolve a complaint in a manager's queue",
)
def resolve(request, body: ResolveIn, task_id: int = ObjId):
    return _task_out(services.resolve(actor=viewer(request), task_id=task_id, note=body.note))


# Key-account plans -------------------------------------------------------------------------------


@router.get(
    "/plans", response=list[PlanOut], summary="Key-account plans (overdue=true: visits past their day)"
)
def list_plans(request, overdue: bool = False):
    me = viewer(request)
    qs = key_accounts.overdue(me) if overdue else key_accounts.plans_visible(me).filter(active=True)
    return [_plan_out(p) for p in qs[:500]]


@router.post("/plans", response={201: PlanOut}, auth=WRITERS, summary="Make a key-account plan")
def create_plan(request, body: PlanIn):
    plan = key_accounts.create_plan(actor=viewer(request), **body.dict())
    return Status(201, _plan_out(plan))


@router.get("/plans/{plan_id}", response=PlanOut)
def get_plan(request, plan_id: int = ObjId):
    return _plan_out(key_accounts.get_plan(viewer(request), plan_id))


@router.get("/plans/{plan_id}/visits", response=list[VisitOut])
def list_visits(request, plan_id: int = ObjId):
    plan = key_accounts.get_plan(viewer(request), plan_id)
    return [
        {
            "id": v.pk,
            "plan_id": plan.pk,
            "kind": v.kind,
            "visited_on": v.visited_on,
            "visitor_id": v.visitor_id,
            "note": v.note,
        }
        for v in plan.visits.all()[:500]
    ]


@router.post(
    "/plans/{plan_id}/visits", response={201: VisitOut}, auth=WRITERS, summary="Record a visit, gift or event"
)
def record_visit(request, body: VisitIn, plan_id: int = ObjId):
    v = key_accounts.record_visit(actor=viewer(request), plan_id=plan_id, **body.dict())
    return Status(
        201,
        {
            "id": v.pk,
            "plan_id": v.plan_id,
            "kind": v.kind,
            "visited_on": v.visited_on,
            "visitor_id": v.visitor_id,
            "note": v.note,
        },
    )


@router.post("/plans/{plan_id}/end", response=PlanOut, auth=WRITERS, summary="End a key-account plan")
def end_plan(request, plan_id: int = ObjId):
    return _plan_out(key_accounts.end_plan(actor=viewer(request), plan_id=plan_id))


# Small care --------------------------------------------------------------------------------------


class OccasionOut(Schema):
    day: date
    kind: str
    customer_id: int | None
    customer_name: str | None
    label: str
    years: int | None
    text: str


class TemplateIn(Schema):
    occasion: Literal["birthday", "anniversary", "holiday"]
    title: str = Field(..., min_length=1, max_length=60)
    text: str = Field(..., min_length=1, max_length=500)


class TemplateOut(Schema):
    id: int
    occasion: str
    title: str
    text: str


class HolidayIn(Schema):
    name: str = Field(..., min_length=1, max_length=40)
    day: date


class HolidayOut(Schema):
    id: int
    name: str
    day: date


@router.get(
    "/greetings", response=list[OccasionOut], summary="Birthdays, anniversaries and holidays coming up"
)
def list_greetings(request, days: int = Query(7, ge=1, le=31)):
    return [
        {
            "day": o.day, "kind": o.kind, "customer_id": o.customer.pk if o.customer else None,
            "customer_name": o.customer.name if o.customer else None, "label": o.label, "years": o.years, "text": o.text,
        }
        for o in greetings.upcoming(viewer(request), days=days)
    ]  # fmt: skip


@router.get("/greeting-templates", response=list[TemplateOut])
def list_templates(request):
    viewer(request)
    return list(GreetingTemplate.objects.all()[:200])


@router.post(
    "/greeting-templates", response={201: TemplateOut}, auth=WRITERS, summary="Add a greeting template"
)
def add_template(request, body: TemplateIn):
    return Status(201, greetings.add_template(actor=viewer(request), **body.dict()))


@router.get("/holidays", response=list[HolidayOut])
def list_holidays(request):
    viewer(request)
    return list(Holiday.objects.all()[:500])


@router.post("/holidays", response={201: HolidayOut}, auth=WRITERS, summary="Add a holiday worth a greeting")
def add_holiday(request, body: HolidayIn):
    return Status(201, greetings.add_holiday(actor=viewer(request), **body.dict()))


# Loyalty -----------------------------------------------------------------------------------------


class LevelIn(Schema):
    name: str = Field(..., min_length=1, max_length=40)
    rank: int = Field(..., ge=0, le=100)
    min_spend: Decimal = Field(Decimal(0), ge=0, le=Decimal("1e11"), max_digits=14, decimal_places=2)
    min_purchases: int = Field(0, ge=0, le=100000)
    benefits: str = Field("", max_length=500)


class LevelOut(Schema):
    code: str
    name: str
    rank: int
    min_spend: Decimal
    min_purchases: int
    benefits: str


class ProgramIn(Schema):
    points_per_yuan: Decimal = Field(..., ge=0, le=1000, max_digits=8, decimal_places=2)
    expiry_days: int = Field(..., ge=1, le=3650)
    window_days: int = Field(..., ge=1, le=3650)


class ProgramOut(Schema):
    points_per_yuan: Decimal
    expiry_days: int
    window_days: int


class PointsOut(Schema):
    kind: str
    points: int
    reason: str
    expires_on: date | None
    created_at: datetime


class LoyaltyOut(Schema):
    level: LevelOut | None
    balance: int
    spend: Decimal
    purchases: int
    expiring_within_30_days: int
    history: list[PointsOut]


class RedeemIn(Schema):
    points: int = Field(..., ge=1, le=10_000_000)
    reward: str = Field(..., min_length=1, max_length=200)


@router.get("/loyalty/levels", response=list[LevelOut])
def list_levels(request):
    viewer(request)
    return list(LoyaltyLevel.objects.order_by("rank"))


@router.put(
    "/loyalty/levels/{code}",
    response=LevelOut,
    auth=WRITERS,
    summary="Set a member level's thresholds and benefits",
)
def set_level(request, body: LevelIn, code: str = Path(..., min_length=1, max_length=20)):
    return loyalty.set_level(actor=viewer(request), code=code, **body.dict())


@router.get("/loyalty/program", response=ProgramOut)
def get_program(request):
    viewer(request)
    return LoyaltyProgram.get()


@router.put(
    "/loyalty/program",
    response=ProgramOut,
    auth=WRITERS,
    summary="Points per yuan, expiry, the levels' window",
)
def set_program(request, body: ProgramIn):
    return loyalty.set_program(actor=viewer(request), **body.dict())


@router.get(
    "/customers/{customer_id}/loyalty", response=LoyaltyOut, summary="A customer's level, points and history"
)
def customer_loyalty(request, customer_id: int = ObjId):
    customer = selectors.get_customer_in_reach(viewer(request), customer_id)
    s = loyalty.summary(customer, limit=100)
    return {**s, "expiring_within_30_days": s["expiring"]}


@router.post(
    "/customers/{customer_id}/points/redeem",
    response={201: PointsOut},
    auth=WRITERS,
    summary="Spend points on a reward",
)
def redeem(request, body: RedeemIn, customer_id: int = ObjId):
    return Status(201, loyalty.redeem(actor=viewer(request), customer_id=customer_id, **body.dict()))


class ImportRowError(Schema):
    row: int
    message: str


class ImportOut(Schema):
    dry_run: bool
    would_import: int
    imported: int
    unchanged: int
    errors: list[ImportRowError]


SYNC_ROWS = 2000  # a larger sheet goes through an import job, checked and imported by the worker


@router.post(
    "/loyalty/import",
    response=ImportOut,
    auth=WRITERS,
    summary="Points and levels from a small POS export (up to 2,000 rows) at once; dry_run=true changes nothing",
)
def import_points(request, file: File[UploadedFile], dry_run: bool = Query(False)):
    me = viewer(request)
    points_import.require(me)
    importer.check_upload(file.name, file.size)  # before reading it: the size limit holds
    data = file.read()
    header, rows = importer.read_bytes(data, file.name)
    rows = list(rows)
    if len(rows) > SYNC_ROWS:
        raise InvalidInput(
            _("A sheet of more than %(n)s rows goes through POST /api/v1/care/loyalty/imports.")
            % {"n": SYNC_ROWS}
        )
    report = points_import.run(me, header, rows, digest=points_import.digest_of(data), dry_run=dry_run)
    return {"dry_run": dry_run, **report.summary()}


@router.post(
    "/loyalty/imports",
    response={201: ImportJobOut},
    auth=WRITERS,
    summary="Upload a POS export of any size: the worker checks every row (the dry run); poll the job",
)
def points_job_upload(request, file: File[UploadedFile]):
    me = viewer(request)
    points_import.require(me)
    importer.check_upload(file.name, file.size)
    job = imports.upload(me, file.name, file.read(), kind=points_import.KIND)
    return Status(201, imports.check(me, job.pk, {}, kind=points_import.KIND))


@router.get(
    "/loyalty/imports/{job_id}",
    response=ImportJobOut,
    summary="A points import of yours: the dry run's report, then the import's progress",
)
def points_job(request, job_id: int = ObjId):
    return imports.get_job(viewer(request), job_id, kind=points_import.KIND)


@router.post(
    "/loyalty/imports/{job_id}/run",
    response={202: ImportJobOut},
    auth=WRITERS,
    summary="Import a checked, error-free points sheet in the background; poll the job for progress",
)
def points_job_run(request, job_id: int = ObjId):
    me = viewer(request)
    points_import.require(me)
    return Status(202, imports.queue(me, job_id, kind=points_import.KIND))
