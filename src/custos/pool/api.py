"""REST endpoints of the public pool (/api/v1/pool/...).

Reads through selectors (scoped: a pool or customer outside what the caller may see is a 404),
writes through services. A claim that loses the race is a 409 with `already_claimed`.
"""

from datetime import date, datetime

from django.utils.translation import gettext as _
from ninja import Field, Path, Router, Schema, Status

from custos.api.auth import viewer
from custos.core.errors import Forbidden, NotFound
from custos.customers.api import WRITERS
from custos.customers.schemas import BIGINT
from custos.customers.selectors import get_customer
from custos.org.selectors import get_employee, get_unit
from custos.pool import recycle, selectors, services
from custos.pool.models import RecycleRule

router = Router(tags=["pool"])
ObjId = Path(..., ge=1, le=BIGINT)


class PoolIn(Schema):
    unit_id: int = Field(..., ge=1, le=BIGINT)
    name: str = Field("", max_length=60)
    visibility: str = "unit"
    claims_per_day: int = Field(10, ge=0, le=1000)
    max_held: int = Field(300, ge=0, le=100000)
    cooldown_days: int = Field(30, ge=0, le=365)
    reason_required: bool = True


class PoolPatch(Schema):
    name: str | None = Field(None, max_length=60)
    visibility: str | None = None
    claims_per_day: int | None = Field(None, ge=0, le=1000)
    max_held: int | None = Field(None, ge=0, le=100000)
    cooldown_days: int | None = Field(None, ge=0, le=365)
    reason_required: bool | None = None


class PoolOut(Schema):
    id: int
    name: str
    unit_id: int
    visibility: str
    claims_per_day: int
    max_held: int
    cooldown_days: int
    reason_required: bool


class RuleIn(Schema):
    kind: str
    days: int = Field(30, ge=0, le=3650)
    grade: str = Field("", max_length=8)
    remind_days: int = Field(3, ge=0, le=365)


class RuleOut(Schema):
    id: int
    pool_id: int
    kind: str
    grade: str
    days: int
    remind_days: int
    enabled: bool
    description: str


class EnabledIn(Schema):
    enabled: bool


class MemberIn(Schema):
    employee_id: int = Field(..., ge=1, le=BIGINT)
    can_claim: bool = True
    can_receive: bool = True
    weight: float = Field(1.0, ge=0, le=1000)
    daily_cap: int | None = Field(None, ge=0, le=10000)
    friends_cap: int | None = Field(None, ge=0, le=10000)
    monthly_quota: int | None = Field(None, ge=0, le=100000)


class MemberOut(Schema):
    employee_id: int
    name: str
    can_claim: bool
    can_receive: bool
    weight: float
    daily_cap: int | None
    friends_cap: int | None
    monthly_quota: int | None


class PoolCustomerOut(Schema):
    id: int
    name: str
    grade: str
    unit_id: int
    unit: str
    since: datetime | None
    why: str
    rule_kind: str | None
    previous_owner: str | None


class ReasonIn(Schema):
    reason: str = Field("", max_length=200)


class ClaimedOut(Schema):
    id: int
    name: str
    owner_id: int


class AllocationIn(Schema):
    pool_id: int = Field(..., ge=1, le=BIGINT)
    strategy: str
    customer_ids: list[int] | None = Field(None, max_length=2000)
    count: int | None = Field(None, ge=1, le=2000)
    receiver_ids: list[int] | None = Field(None, max_length=500)
    weights: dict[str, float] | None = None
    quota: int | None = Field(None, ge=1, le=2000)
    manual: dict[str, int] | None = None
    seed: int | None = Field(None, ge=0, le=2**48)
    daily_cap: int | None = Field(None, ge=0, le=10000)
    rule: dict[str, str] | None = None


class AllocationOut(Schema):
    id: int
    pool_id: int
    status: str
    strategy: str
    seed: int | None
    assigned: dict[str, int]
    unassigned: dict[str, str]
    receivers: list[dict]


class RecycleIn(Schema):
    dry_run: bool = True


class ShiftIn(Schema):
    unit_id: int = Field(..., ge=1, le=BIGINT)
    weekday: int = Field(..., ge=0, le=6)
    starts: str = Field(..., max_length=8)
    ends: str = Field(..., max_length=8)


class LeaveIn(Schema):
    employee_id: int = Field(..., ge=1, le=BIGINT)
    starts: date
    ends: date
    reason: str = Field("", max_length=200)


def _pool_out(p) -> dict:
    return {
        k: getattr(p, k)
        for k in (
            "id",
            "name",
            "unit_id",
            "visibility",
            "claims_per_day",
            "max_held",
            "cooldown_days",
            "reason_required",
        )
    }


def _rule_out(r) -> dict:
    return {
        "id": r.pk, "pool_id": r.pool_id, "kind": r.kind, "grade": r.grade, "days": r.days,
        "remind_days": r.remind_days, "enabled": r.enabled, "description": recycle.describe(r),
    }  # fmt: skip


def _allocation_out(a) -> dict:
    return {
        "id": a.pk, "pool_id": a.pool_id, "status": a.status, "strategy": a.strategy, "seed": a.seed,
        "assigned": a.assigned, "unassigned": a.unassigned, "receivers": a.params.get("receivers", []),
    }  # fmt: skip


def _managed(me, pool_id: int):
    pool = selectors.get_pool(me, pool_id)
    if not selectors.managed_pools(me).filter(pk=pool.pk).exists():
        raise Forbidden(_("Only managers may change a pool."))
    return pool


@router.get("/pool/pools", response=list[PoolOut], summary="Pools the caller may see")
def list_pools(request):
    return [_pool_out(p) for p in selectors.pools_visible(viewer(request))]


@router.post("/pool/pools", response={201: PoolOut}, auth=WRITERS, summary="Create a unit's pool")
def create_pool(request, body: PoolIn):
    me = viewer(request)
    data = body.dict()
    unit = get_unit(me, data.pop("unit_id"))
    return Status(201, _pool_out(services.create_pool(actor=me, unit=unit, **data)))


@router.patch(
    "/pool/pools/{pool_id}", response=PoolOut, auth=WRITERS, summary="Change a pool's visibility or limits"
)
def update_pool(request, body: PoolPatch, pool_id: int = ObjId):
    me = viewer(request)
    data = {k: v for k, v in body.dict().items() if v is not None}
    return _pool_out(services.update_pool(actor=me, pool=selectors.get_pool(me, pool_id), **data))


@router.get("/pool/pools/{pool_id}/rules", response=list[RuleOut])
def list_rules(request, pool_id: int = ObjId):
    return [_rule_out(r) for r in selectors.rules_of(selectors.get_pool(viewer(request), pool_id))]


@router.post(
    "/pool/pools/{pool_id}/rules", response={201: RuleOut}, auth=WRITERS, summary="Add a recycle rule"
)
def add_rule(request, body: RuleIn, pool_id: int = ObjId):
    me = viewer(request)
    rule = services.add_rule(actor=me, pool=selectors.get_pool(me, pool_id), **body.dict())
    return Status(201, _rule_out(rule))


@router.post("/pool/rules/{rule_id}/enabled", response=RuleOut, auth=WRITERS, summary="Turn a rule on or off")
def rule_enabled(request, body: EnabledIn, rule_id: int = ObjId):
    me = viewer(request)
    return _rule_out(
        services.set_rule_enabled(actor=me, rule=_visible_rule(me, rule_id), enabled=body.enabled)
    )


@router.delete(
    "/pool/rules/{rule_id}",
    response={204: None},
    auth=WRITERS,
    summary="Remove a recycle rule (kept, hidden and off, when it already moved or reminded customers)",
)
def remove_rule(request, rule_id: int = ObjId):
    me = viewer(request)
    services.remove_rule(actor=me, rule=_visible_rule(me, rule_id))
    return Status(204, None)


def _visible_rule(me, rule_id: int) -> RecycleRule:
    rule = RecycleRule.objects.filter(
        pk=rule_id, pool__in=selectors.pools_visible(me), removed_at__isnull=True
    ).first()
    if rule is None:
        raise NotFound(_("Rule not found."))
    return rule


@router.get("/pool/pools/{pool_id}/members", response=list[MemberOut])
def list_members(request, pool_id: int = ObjId):
    pool = selectors.get_pool(viewer(request), pool_id)
    return [
        {**{k: getattr(m, k) for k in MemberOut.model_fields if k != "name"}, "name": m.employee.name}
        for m in selectors.members_of(pool)
    ]


@router.post(
    "/pool/pools/{pool_id}/members", response={201: MemberOut}, auth=WRITERS, summary="Add or change a member"
)
def set_member(request, body: MemberIn, pool_id: int = ObjId):
    me = viewer(request)
    data = body.dict()
    employee = get_employee(me, data.pop("employee_id"))
    m = services.set_member(actor=me, pool=selectors.get_pool(me, pool_id), employee=employee, **data)
    return Status(
        201, {**{k: getattr(m, k) for k in MemberOut.model_fields if k != "name"}, "name": employee.name}
    )


@router.delete(
    "/pool/pools/{pool_id}/members/{employee_id}",
    response={204: None},
    auth=WRITERS,
    summary="Take a person out of a pool (they keep the customers they hold)",
)
def remove_member(request, pool_id: int = ObjId, employee_id: int = ObjId):
    me = viewer(request)
    employee = get_employee(me, employee_id)
    member = selectors.members_of(selectors.get_pool(me, pool_id)).filter(employee=employee).first()
    if member is None:
        raise NotFound(_("Member not found."))
    services.remove_member(actor=me, member=member)
    return Status(204, None)


@router.get(
    "/pool/customers",
    response=list[PoolCustomerOut],
    summary="Customers in the pool, with why and since when",
)
def list_customers(
    request, pool_id: int | None = None, grade: str | None = None, limit: int = 50, offset: int = 0
):
    me = viewer(request)
    limit, offset = max(1, min(limit, 200)), max(0, offset)
    pool = selectors.get_pool(me, pool_id) if pool_id else None
    rows = selectors.pool_customers(me, pool=pool, grade=grade)[offset : offset + limit]
    return [
        {
            "id": c.pk,
            "name": c.name,
            "grade": c.grade,
            "unit_id": c.unit_id,
            "unit": c.unit.name,
            "since": c.pool_since,
            "why": c.pool_reason or _("put back by hand"),
            "rule_kind": c.pool_rule_kind,
            "previous_owner": c.previous_owner_name,
        }  # fmt: skip
        for c in rows
    ]


@router.post(
    "/pool/customers/{customer_id}/claim",
    response=ClaimedOut,
    auth=WRITERS,
    summary="Claim a pool customer (领取); 409 already_claimed if someone was faster",
)
def claim(request, body: ReasonIn, customer_id: int = ObjId):
    c = services.claim(
        actor=viewer(request), customer_id=customer_id, reason=body.reason, ledger_source="api"
    )
    return {"id": c.pk, "name": c.name, "owner_id": c.owner_id}


@router.post(
    "/pool/customers/{customer_id}/protect", auth=WRITERS, summary="Mark a key account: never recycled"
)
def protect(request, body: ReasonIn, customer_id: int = ObjId):
    me = viewer(request)
    services.protect(actor=me, customer=get_customer(me, customer_id), reason=body.reason)
    return {"protected": True}


@router.post(
    "/pool/allocations", response={201: AllocationOut}, auth=WRITERS, summary="Preview a draw out of the pool"
)
def preview(request, body: AllocationIn):
    me = viewer(request)
    data = body.dict()
    pool = _managed(me, data.pop("pool_id"))
    manual = {int(k): v for k, v in (data.pop("manual") or {}).items() if k.isdigit()}
    return Status(201, _allocation_out(services.preview(actor=me, pool=pool, manual=manual, **data)))


@router.get("/pool/allocations/{allocation_id}", response=AllocationOut)
def get_allocation(request, allocation_id: int = ObjId):
    return _allocation_out(selectors.get_allocation(viewer(request), allocation_id))


@router.post(
    "/pool/allocations/{allocation_id}/commit",
    response=AllocationOut,
    auth=WRITERS,
    summary="Make a previewed draw",
)
def commit(request, allocation_id: int = ObjId):
    me = viewer(request)
    return _allocation_out(services.commit(actor=me, allocation=selectors.get_allocation(me, allocation_id)))


@router.post(
    "/pool/recycle", auth=WRITERS, summary="Run the recycle job now, or only list what it would move"
)
def run_recycle(request, body: RecycleIn):
    me = viewer(request)
    if me.role not in ("admin", "executive") or not me.may_sign_in:
        raise Forbidden(_("Only administrators and executives may run the recycle job."))
    if body.dry_run:
        report = recycle.dry_run()
        return {
            "dry_run": True,
            "would_move": [
                {
                    "customer": f.customer_id,
                    "name": f.name,
                    "owner": f.owner_id,
                    "pool": f.pool.pk,
                    "rule": f.rule.pk,
                    "why": f.why,
                }
                for f in report.would_move
            ],
        }
    report = recycle.run(actor=me)
    return {"dry_run": False, "run": report.run, "moved": len(report.moved), "reminded": report.reminded}


@router.get(
    "/pool/notices", summary="Customers about to go back to the pool: the caller's, and their scope's"
)
def notices(request):
    return [
        {
            "customer": n.customer_id,
            "name": n.customer.name,
            "owner": n.owner.name,
            "due_on": n.due_on,
            "why": recycle.describe(n.rule),
        }
        for n in selectors.notices_for(viewer(request))[:500]
    ]


@router.get("/pool/stats", summary="Pool size and age, claims and conversion per person, recycled per owner")
def stats(request, days: int = 90):
    s = selectors.stats(viewer(request), days=max(1, min(days, 3650)))
    return {
        "size": s.size,
        "oldest": s.oldest,
        "age_days": s.age_buckets,
        "claims": s.claims,
        "recycled": s.recycled,
    }


@router.post(
    "/pool/shifts", response={201: dict}, auth=WRITERS, summary="Add a shift (排班) to a unit's schedule"
)
def add_shift(request, body: ShiftIn):
    me = viewer(request)
    s = services.add_shift(
        actor=me, unit=get_unit(me, body.unit_id), weekday=body.weekday, starts=body.starts, ends=body.ends
    )
    return Status(
        201,
        {
            "id": s.pk,
            "unit_id": s.unit_id,
            "weekday": s.weekday,
            "starts": s.starts.isoformat(),
            "ends": s.ends.isoformat(),
        },
    )


@router.post(
    "/pool/leaves", response={201: dict}, auth=WRITERS, summary="Leave: off the schedule for these days"
)
def add_leave(request, body: LeaveIn):
    me = viewer(request)
    leave = services.add_leave(
        actor=me,
        employee=get_employee(me, body.employee_id),
        starts=body.starts,
        ends=body.ends,
        reason=body.reason,
    )
    return Status(
        201, {"id": leave.pk, "employee_id": leave.employee_id, "starts": leave.starts, "ends": leave.ends}
    )
