"""REST endpoints for departures, plans, rotations, contact tasks and device commands (/api/v1/).

Reads go through selectors (scoped: outside the caller's scope a case is a 404); writes through
services. The device poll is the one route a device token may call, and the one a frozen
employee's device may still call: to fetch its lock command.
"""

from dataclasses import asdict

from django.http import HttpRequest
from django.utils.translation import gettext as _
from ninja import Path, Router, Status
from ninja.security import HttpBearer

from custos.access import tokens
from custos.api.auth import viewer
from custos.core.errors import Forbidden
from custos.customers.api import WRITERS
from custos.customers.schemas import BIGINT
from custos.handover import reports, selectors, services
from custos.handover.schemas import (
    CaseDetail,
    CaseIn,
    CaseOut,
    PlanIn,
    PlanOut,
    PollIn,
    PollOut,
    ReasonIn,
    RotationIn,
    RotationOut,
    SeedIn,
    TaskOut,
)
from custos.org.selectors import get_employee

router = Router(tags=["handover"])
ObjId = Path(..., ge=1, le=BIGINT)


class DeviceToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        device = tokens.authenticate_device_for_commands(token)
        if device is None and tokens.authenticate(token) is not None:
            # A valid token of another kind: known caller, wrong credential for this route.
            raise Forbidden(_("Only a device token may poll for device commands."))
        return device


def _case_detail(me, case_id: int):
    case = selectors.get_case(me, case_id)
    case.summary = services.refresh(case, me)
    case.checklist_items = list(selectors.checklist(me, case_id))
    return case


def _plan(me, plan_id: int):
    plan = selectors.get_plan(me, plan_id)
    plan.move_rows = list(selectors.moves_of(plan, me))
    return plan


@router.get("/handover/cases", response=list[CaseOut], summary="Departure cases in the caller's scope")
def list_cases(request, status: str | None = None):
    return list(selectors.list_cases(viewer(request), status=status))


@router.post("/handover/cases", response={201: CaseDetail}, auth=WRITERS, summary="Open a departure case (the employee becomes resigning)")
def open_case(request, body: CaseIn):
    me = viewer(request)
    case = services.open_case(actor=me, employee=get_employee(me, body.employee_id), last_day=body.last_day, reason=body.reason)
    return Status(201, _case_detail(me, case.pk))


@router.get("/handover/cases/{case_id}", response=CaseDetail, summary="A case with its checklist, re-ticked from the data")
def get_case(request, case_id: int = ObjId):
    return _case_detail(viewer(request), case_id)


@router.post("/handover/cases/{case_id}/freeze", response=CaseDetail, auth=WRITERS, summary="Freeze the leaver now and lock their devices")
def freeze(request, body: ReasonIn, case_id: int = ObjId):
    me = viewer(request)
    services.freeze_now(actor=me, case=selectors.get_case(me, case_id), reason=body.reason)
    return _case_detail(me, case_id)


@router.post("/handover/cases/{case_id}/items/{item_id}/waive", response=CaseDetail, auth=WRITERS)
def waive(request, body: ReasonIn, case_id: int = ObjId, item_id: int = ObjId):
    me = viewer(request)
    services.waive(actor=me, item=selectors.get_item(me, case_id, item_id), reason=body.reason)
    return _case_detail(me, case_id)


@router.post("/handover/cases/{case_id}/close", response=CaseDetail, auth=WRITERS)
def close(request, case_id: int = ObjId):
    me = viewer(request)
    services.close_case(actor=me, case=selectors.get_case(me, case_id))
    return _case_detail(me, case_id)


@router.get("/handover/cases/{case_id}/report", summary="What was handed over, to whom, what was lost, retention")
def case_report(request, case_id: int = ObjId):
    r = reports.departure(viewer(request), case_id)
    return {
        "case": r.case.pk,
        "employee": r.case.employee.name,
        "handed_over": r.handed_over,
        "receivers": [
            {"employee_id": g["employee"].pk, "name": g["employee"].name, "count": g["count"], "customers": g["customers"]}
            for g in r.receivers
        ],
        "left_with_leaver": r.left_with_leaver,
        "deleted_by_customers": [{**d, "at": d["at"].isoformat()} for d in r.deleted_by_customers],
        "unanswered": r.unanswered,
        "waived": r.waived,
        "retention": [{**asdict(x), "rate": x.rate} for x in r.retention],
    }


@router.post("/handover/plans", response={201: PlanOut}, auth=WRITERS, summary="Preview a plan: who would get which customer")
def preview(request, body: PlanIn):
    me = viewer(request)
    plan = services.preview(
        actor=me,
        kind=body.kind,
        strategy=body.strategy,
        receiver_ids=body.receiver_ids,
        case=selectors.get_case(me, body.case_id) if body.case_id else None,
        from_employee=get_employee(me, body.from_employee_id) if body.from_employee_id else None,
        customer_ids=body.customer_ids,
        weights=body.weights,
        quota=body.quota,
        manual=body.manual,
        seed=body.seed,
        daily_cap=body.daily_cap,
        reason=body.reason,
    )
    return Status(201, _plan(me, plan.pk))


@router.get("/handover/plans/{plan_id}", response=PlanOut)
def get_plan(request, plan_id: int = ObjId):
    return _plan(viewer(request), plan_id)


@router.post("/handover/plans/{plan_id}/commit", response=PlanOut, auth=WRITERS, summary="Carry out a preview, all or nothing")
def commit(request, plan_id: int = ObjId):
    me = viewer(request)
    services.commit(actor=me, plan=selectors.get_plan(me, plan_id))
    return _plan(me, plan_id)


@router.post("/handover/plans/{plan_id}/discard", response=PlanOut, auth=WRITERS)
def discard(request, plan_id: int = ObjId):
    me = viewer(request)
    services.discard(actor=me, plan=selectors.get_plan(me, plan_id))
    return _plan(me, plan_id)


@router.get("/handover/rotations", response=list[RotationOut])
def list_rotations(request):
    return list(selectors.rotations_visible(viewer(request)))


@router.post("/handover/rotations", response={201: RotationOut}, auth=WRITERS, summary="A rotation (轮岗) of staff across units")
def create_rotation(request, body: RotationIn):
    me = viewer(request)
    return Status(201, services.create_rotation(actor=me, name=body.name, unit_ids=body.unit_ids, months=body.months, strategy=body.strategy))


@router.post("/handover/rotations/{rotation_id}/preview", response={201: PlanOut}, auth=WRITERS)
def preview_rotation(request, body: SeedIn, rotation_id: int = ObjId):
    me = viewer(request)
    plan = services.preview_rotation(actor=me, rotation=selectors.get_rotation(me, rotation_id), seed=body.seed)
    return Status(201, _plan(me, plan.pk))


@router.get("/handover/rotations/{rotation_id}/report", summary="Handover quality per rotation round")
def rotation_report(request, rotation_id: int = ObjId):
    r = reports.rotation(viewer(request), rotation_id)
    return {
        "rotation": r["rotation"].pk,
        "rounds": [
            {
                **{k: v for k, v in x.items() if k not in ("plan", "by_giver")},
                "plan": x["plan"].pk,
                "by_giver": [{**{k: v for k, v in g.items() if k != "employee"}, "employee_id": g["employee"].pk, "name": g["employee"].name} for g in x["by_giver"]],
            }
            for x in r["rounds"]
        ],
    }


@router.get("/handover/tasks", response=list[TaskOut], summary="Contact tasks: tell inherited customers who their new contact is")
def list_tasks(request, status: str | None = "open"):
    qs = selectors.tasks_visible(viewer(request))
    return list(qs.filter(status=status) if status else qs)


@router.post("/handover/tasks/{task_id}/done", response=TaskOut, auth=WRITERS)
def finish_task(request, task_id: int = ObjId):
    me = viewer(request)
    return services.finish_task(actor=me, task=selectors.get_task(me, task_id))


@router.post("/devices/poll", response=PollOut, auth=DeviceToken(), summary="A work phone fetches and acknowledges its commands")
def poll(request, body: PollIn):
    return {"commands": services.poll_commands(token=request.auth, acknowledge=body.acknowledge)}
