"""Console pages for the handover: cases, the checklist, plans (preview, commit), reports,
in-service transfer, rotations and the successors' contact tasks."""

from datetime import date

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from custos.access import policy
from custos.access.scope import scope_of
from custos.console.decorators import console_view
from custos.core.errors import InvalidInput
from custos.core.query import whole_or_none
from custos.customers.models import Customer
from custos.handover import allocation, checklist, panels, reports, selectors, services
from custos.handover.models import ContactTask, DepartureCase, Plan
from custos.org.models import Employee, Role
from custos.org.selectors import employees_visible, get_employee, units_visible

STRATEGIES = [
    (allocation.LEAST_LOADED, gettext_lazy("To whoever has the fewest customers")),
    (allocation.ROUND_ROBIN, gettext_lazy("Take turns: one each in order")),
    (allocation.WEIGHTED, gettext_lazy("By weight: a higher weight gets more, drawn at random")),
    (allocation.QUOTA, gettext_lazy("The same fixed number for each person")),
    (allocation.BY_RULE, gettext_lazy("Grade A customers to senior staff, the rest to whoever has fewest")),
    (allocation.MANUAL, gettext_lazy("I pick the receiver for each customer")),
]
SKIPPED = {
    allocation.NO_RECEIVER: gettext_lazy("nobody could receive it"),
    allocation.OVER_CAP: gettext_lazy("receivers reached today's cap"),
    allocation.QUOTA_FULL: gettext_lazy("every quota is full"),
    allocation.NOT_CHOSEN: gettext_lazy("no receiver chosen"),
    allocation.INELIGIBLE: gettext_lazy("the chosen person cannot receive customers"),
    allocation.NO_MATCH: gettext_lazy("no senior staff chosen for this grade"),
    services.MOVED_TOO_OFTEN: gettext_lazy("moved too often lately"),
}


_int = whole_or_none


def _date(value) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError as exc:
        raise InvalidInput(_("Give the date as YYYY-MM-DD.")) from exc


def _weight(value) -> float:
    try:
        weight = float(value or 1)
    except ValueError as exc:
        raise InvalidInput(_("A weight is a number from 0 to 1000.")) from exc
    if not 0 <= weight <= 1000:
        raise InvalidInput(_("A weight is a number from 0 to 1000."))
    return weight


def _receivers(me, exclude=None):
    """Who may receive customers, in the viewer's scope, with how many they hold now."""
    staff = list(
        employees_visible(me)
        .filter(status=Employee.Status.ACTIVE, frozen_at__isnull=True, role__in=[Role.SALES, Role.SERVICE, Role.MANAGER])
        .exclude(pk__in=[p for p in (exclude, me.pk) if p])
        .order_by("unit__path", "name")
    )
    loads = selectors.load_of([e.pk for e in staff])
    for e in staff:
        e.load = loads.get(e.pk, 0)
        e.senior = services.is_senior(e)
    return staff


def _plan_args(request) -> dict:
    data = request.POST
    receivers = [i for i in (_int(v) for v in data.getlist("receivers")) if i]
    manual = {}
    if data.get("strategy") == allocation.MANUAL:
        for key, value in data.items():
            if key.startswith("to_") and _int(key[3:]) and _int(value):
                manual[key[3:]] = _int(value)
                if _int(value) not in receivers:
                    receivers.append(_int(value))
    return {
        "strategy": data.get("strategy", ""),
        "receiver_ids": receivers,
        "weights": {str(r): _weight(data.get(f"weight_{r}")) for r in receivers} if data.get("strategy") == allocation.WEIGHTED else None,
        "quota": _int(data.get("quota")),
        "manual": manual,
        "seed": _int(data.get("seed")),
        "reason": data.get("reason", ""),
    }


@console_view
def index(request):
    me = request.viewer
    # An auditor reads the departures (read-only); a salesperson's handover is their task list.
    reader = me.role == Role.AUDITOR
    if not policy.may_manage_staff(me) and not reader:
        return redirect("handover:tasks")
    if not reader:
        # Someone marked resigning on the staff page a minute ago gets their case now, not at the
        # next periodic round.
        services.open_missing_cases()
    status = request.GET.get("status") if request.GET.get("status") in DepartureCase.Status.values else None
    candidates = employees_visible(me).filter(status__in=[Employee.Status.ACTIVE, Employee.Status.RESIGNING], frozen_at__isnull=True).exclude(pk=me.pk)
    return render(
        request,
        "handover/index.html",
        {
            "cases": selectors.list_cases(me, status=status),
            "status": status,
            "statuses": DepartureCase.Status.choices,
            "candidates": [] if reader else [e for e in candidates if policy.may_manage(me, e)],
            "can_open": not reader,
            "today": timezone.localdate(),
        },
    )


@require_POST
@console_view
def case_open(request):
    me = request.viewer
    employee = get_employee(me, _int(request.POST.get("employee")) or 0)
    case = services.open_case(actor=me, employee=employee, last_day=_date(request.POST.get("last_day")), reason=request.POST.get("reason", ""))
    messages.success(request, _("Departure case opened for %(name)s.") % {"name": employee.name})
    return redirect("handover:case", case_id=case.pk)


@console_view
def case_detail(request, case_id: int):
    me = request.viewer
    case = selectors.get_case(me, case_id)
    summary = services.refresh(case, me)
    items = list(selectors.checklist(me, case_id))
    groups = [(kind, label, [i for i in items if i.kind == kind]) for kind, label in checklist.kinds()]
    owned = list(scope_of(me).limit_customers(Customer.objects.filter(owner=case.employee)).exclude(status__in=["archived", "in_pool"]).order_by("grade", "id"))
    can_manage = policy.may_manage(me, case.employee)
    return render(
        request,
        "handover/case.html",
        {
            "case": case,
            "summary": summary,
            "groups": [g for g in groups if g[2]],
            "owned": owned,
            "receivers": _receivers(me, exclude=case.employee_id) if can_manage else [],
            "strategies": STRATEGIES,
            "plans": selectors.plans_visible(me).filter(case=case),
            "can_manage": can_manage and case.is_live,
            "panels": panels.render_all(request, case),
        },
    )


@require_POST
@console_view
def case_action(request, case_id: int, action: str):
    me = request.viewer
    case = selectors.get_case(me, case_id)
    if action == "freeze":
        services.freeze_now(actor=me, case=case, reason=request.POST.get("reason", ""))
        messages.success(request, _("%(name)s is frozen; devices will lock on their next poll.") % {"name": case.employee.name})
    elif action == "waive":
        item = selectors.get_item(me, case_id, _int(request.POST.get("item")) or 0)
        services.waive(actor=me, item=item, reason=request.POST.get("reason", ""))
        messages.success(request, _("Item waived."))
    elif action == "waive-many":
        ids = [_int(v) for v in request.POST.getlist("items")[:1000]]
        items = [selectors.get_item(me, case_id, i) for i in ids if i]
        done = services.waive_many(actor=me, items=items, reason=request.POST.get("reason", ""))
        messages.success(request, _("%(n)d items waived.") % {"n": len(done)})
    elif action == "close":
        services.close_case(actor=me, case=case)
        messages.success(request, _("Case closed."))
        return redirect("handover:report", case_id=case.pk)
    elif action == "plan":
        plan = services.preview(actor=me, kind=Plan.Kind.HANDOVER, case=case, **_plan_args(request))
        return redirect("handover:plan", plan_id=plan.pk)
    else:
        raise InvalidInput(_("Unknown action."))
    return redirect("handover:case", case_id=case.pk)


@console_view
def plan_detail(request, plan_id: int):
    me = request.viewer
    plan = selectors.get_plan(me, plan_id)
    moves = list(selectors.moves_of(plan, me))
    for m in moves:
        m.skipped_label = SKIPPED.get(m.skipped_reason, m.skipped_reason)
    by_receiver: dict[int, dict] = {}
    for m in moves:
        if m.to_employee_id:
            by_receiver.setdefault(m.to_employee_id, {"employee": m.to_employee, "count": 0})["count"] += 1
    staff = {e.pk: e for e in Employee.objects.filter(pk__in=[s["employee"] for s in plan.staff_moves])}
    units = {u.pk: u for u in units_visible(me)}
    staff_moves = [
        {"employee": staff.get(s["employee"]), "from": units.get(s["from_unit"]), "to": units.get(s["to_unit"])} for s in plan.staff_moves
    ]
    return render(
        request,
        "handover/plan.html",
        {
            "plan": plan,
            "moves": moves,
            "assigned": sum(1 for m in moves if m.to_employee_id),
            "skipped": sum(1 for m in moves if not m.to_employee_id),
            "by_receiver": sorted(by_receiver.values(), key=lambda r: -r["count"]),
            "staff_moves": staff_moves,
            "strategy_label": dict(STRATEGIES).get(plan.strategy, plan.strategy),
            "can_commit": plan.status == Plan.Status.DRAFT and policy.may_manage_staff(me),
        },
    )


@require_POST
@console_view
def plan_action(request, plan_id: int, action: str):
    me = request.viewer
    plan = selectors.get_plan(me, plan_id)
    if action == "commit":
        services.commit(actor=me, plan=plan)
        messages.success(request, _("Done: %(n)d customers have new owners.") % {"n": plan.moves.filter(to_employee__isnull=False).count()})
    elif action == "discard":
        services.discard(actor=me, plan=plan)
        messages.success(request, _("Preview discarded."))
    else:
        raise InvalidInput(_("Unknown action."))
    if plan.case_id:
        return redirect("handover:case", case_id=plan.case_id)
    if plan.rotation_id:
        return redirect("handover:rotation", rotation_id=plan.rotation_id)
    return redirect("handover:plan", plan_id=plan.pk)


@console_view
def case_report(request, case_id: int):
    report = reports.departure(request.viewer, case_id)
    return render(request, "handover/report.html", {"r": report, "case": report.case})


@console_view
def transfer(request):
    """在职继承: one active employee's customers (some or all) to colleagues."""
    me = request.viewer
    policy.require_staff_manager(me)
    if request.method == "POST":
        source = get_employee(me, _int(request.POST.get("from")) or 0)
        customer_ids = [i for i in (_int(v) for v in request.POST.getlist("customers")) if i]
        plan = services.preview(actor=me, kind=Plan.Kind.TRANSFER, from_employee=source, customer_ids=customer_ids or None, **_plan_args(request))
        return redirect("handover:plan", plan_id=plan.pk)
    staff = [e for e in _receivers(me) if policy.may_manage(me, e)]
    source_id = _int(request.GET.get("from"))
    source = get_employee(me, source_id) if source_id else None
    return render(
        request,
        "handover/transfer.html",
        {
            "staff": staff,
            "source": source,
            "owned": list(scope_of(me).limit_customers(Customer.objects.filter(owner=source, status="active")).order_by("grade", "id"))
            if source
            else [],
            "receivers": _receivers(me, exclude=source.pk) if source else [],
            "strategies": STRATEGIES,
            "plans": selectors.plans_visible(me).filter(kind=Plan.Kind.TRANSFER)[:20],
        },
    )


@console_view
def rotations(request):
    me = request.viewer
    policy.require_staff_manager(me)
    if request.method == "POST":
        rotation = services.create_rotation(
            actor=me,
            name=request.POST.get("name", ""),
            unit_ids=[i for i in (_int(v) for v in request.POST.getlist("units")) if i],
            months=_int(request.POST.get("months")),
            strategy=request.POST.get("strategy") or allocation.LEAST_LOADED,
        )
        return redirect("handover:rotation", rotation_id=rotation.pk)
    rows = list(selectors.rotations_visible(me))
    for r in rows:
        r.next_on = services.next_rotation_on(r)
    return render(
        request,
        "handover/rotations.html",
        {
            "rotations": rows,
            "units": [u for u in units_visible(me) if u.kind in ("store", "team")],
            "strategies": [s for s in STRATEGIES if s[0] not in (allocation.MANUAL, allocation.QUOTA)],
        },
    )


@console_view
def rotation_detail(request, rotation_id: int):
    me = request.viewer
    if request.method == "POST":
        rotation = selectors.get_rotation(me, rotation_id)
        plan = services.preview_rotation(actor=me, rotation=rotation)
        return redirect("handover:plan", plan_id=plan.pk)
    report = reports.rotation(me, rotation_id)
    rotation = report["rotation"]
    staff = services.rotation_participants(rotation)
    units = {u.pk: u for u in rotation.units.all()}
    return render(
        request,
        "handover/rotation.html",
        {
            "rotation": rotation,
            "rounds": report["rounds"],
            "order": [{"unit": units.get(u), "staff": staff.get(u, [])} for u in rotation.unit_order],
            "next_on": services.next_rotation_on(rotation),
            "plans": selectors.plans_visible(me).filter(rotation=rotation),
        },
    )


@console_view
def tasks(request):
    me = request.viewer
    mine = list(selectors.my_tasks(me))
    team = (
        selectors.tasks_visible(me).exclude(assignee=me).filter(status=ContactTask.Status.OPEN).select_related("assignee")[:200]
        if policy.may_manage_staff(me)
        else []
    )
    own_case = selectors.cases_visible(me).filter(employee=me).exclude(status=DepartureCase.Status.CLOSED).first()
    return render(request, "handover/tasks.html", {"tasks": mine, "team": team, "own_case": own_case})


@require_POST
@console_view
def task_done(request, task_id: int):
    me = request.viewer
    services.finish_task(actor=me, task=selectors.get_task(me, task_id))
    messages.success(request, _("Marked done."))
    return redirect("handover:tasks")
