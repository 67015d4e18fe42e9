"""Every write of the handover workflow. Each runs in one transaction with its ledger entries.

Customers change hands only through customers.services.change_owner (one customer.owner_changed
entry each); staff status, freezes and unit moves only through org.services. This module decides
when: on opening a case, freezing, committing a plan, on the leaver's last day.
"""

import json
from datetime import date, datetime, time, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access import policy
from custos.access.models import ApiToken
from custos.access.scope import scope_of
from custos.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from custos.customers import rules as customer_rules
from custos.customers import services as customer_services
from custos.customers.models import Customer
from custos.handover import allocation, checklist, config, signals
from custos.handover.models import (
    ChecklistItem,
    ContactTask,
    DepartureCase,
    DeviceCommand,
    Plan,
    PlanMove,
    Rotation,
)
from custos.ledger.models import Entry
from custos.ledger.services import append
from custos.org import services as org_services
from custos.org.models import Employee, Role, Unit

SOURCE = "console"
CHANGE_KIND = {
    Plan.Kind.HANDOVER: customer_services.HANDOVER,
    Plan.Kind.TRANSFER: customer_services.TRANSFER,
    Plan.Kind.ROTATION: customer_services.ROTATION,
}
# Reasons a customer stays where it is, besides the allocation module's own.
MOVED_TOO_OFTEN = "moved_too_often"


def _record(kind: str, actor: Employee | None, payload: dict, *, unit_id: int | None, source: str = SOURCE) -> None:
    append(kind, payload, actor_id=actor.pk if actor else None, unit_id=unit_id, source=source)


def _reason(reason: str, *, required: bool = False) -> str:
    reason = " ".join((reason or "").split())[:200]
    if required and not reason:
        raise InvalidInput(_("Give a reason."))
    return reason


# --- departure cases --------------------------------------------------------------------------


def _create_case(actor: Employee | None, employee: Employee, last_day: date, reason: str) -> DepartureCase:
    try:
        with transaction.atomic():
            case = DepartureCase.objects.create(
                employee=employee, unit=employee.unit, last_day=last_day, reason=reason, opened_by=actor
            )
    except IntegrityError as exc:
        raise Conflict(_("%(name)s already has an open departure case.") % {"name": employee.name}) from exc
    _record(
        "handover.case_opened",
        actor,
        {"case": case.pk, "employee": employee.pk, "last_day": last_day.isoformat(), "reason": reason},
        unit_id=employee.unit_id,
    )
    checklist.refresh(case)
    return case


@transaction.atomic
def open_case(*, actor: Employee, employee: Employee, last_day: date | None, reason: str = "") -> DepartureCase:
    """A manager opens a departure case: the employee becomes "resigning" with this last day."""
    policy.require_may_manage(actor, employee)
    reason = _reason(reason)
    if employee.status == Employee.Status.DEPARTED:
        raise InvalidInput(_("%(name)s has already left.") % {"name": employee.name})
    if DepartureCase.objects.filter(employee=employee).exclude(status=DepartureCase.Status.CLOSED).exists():
        raise Conflict(_("%(name)s already has an open departure case.") % {"name": employee.name})
    if last_day is None:
        last_day = employee.last_day
    if last_day is None:
        raise InvalidInput(_("Resigning needs a last working day."))
    if last_day < timezone.localdate():
        raise InvalidInput(_("The last working day cannot be in the past."))
    if employee.status == Employee.Status.ACTIVE or employee.last_day != last_day:
        if employee.status == Employee.Status.RESIGNING:
            # A new last day: back to active and resigning again keeps org's one path for status.
            org_services.set_status(actor=actor, employee=employee, status=Employee.Status.ACTIVE)
        org_services.set_status(actor=actor, employee=employee, status=Employee.Status.RESIGNING, last_day=last_day)
    return _create_case(actor, employee, last_day, reason)


@transaction.atomic
def open_missing_cases() -> list[DepartureCase]:
    """The system opens a case for everyone marked resigning (from the staff page, the API, HR)
    who has none yet: a resignation never goes without a checklist."""
    live = DepartureCase.objects.exclude(status=DepartureCase.Status.CLOSED).values("employee_id")
    opened = []
    for employee in Employee.objects.filter(status=Employee.Status.RESIGNING).exclude(pk__in=live).select_related("unit"):
        opened.append(_create_case(None, employee, employee.last_day or timezone.localdate(), "resigning"))
    return opened


def _device_tokens(employee: Employee):
    return ApiToken.objects.filter(employee=employee, kind=ApiToken.Kind.DEVICE, revoked_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=timezone.now())
    )


def queue_lock(case: DepartureCase, actor: Employee | None) -> list[DeviceCommand]:
    """A lock command for each of the leaver's devices that has none waiting."""
    waiting = set(
        DeviceCommand.objects.filter(employee=case.employee, kind=DeviceCommand.Kind.LOCK, acknowledged_at__isnull=True)
        .values_list("token_id", flat=True)
    )
    commands = [
        DeviceCommand.objects.create(
            token=token, employee=case.employee, case=case, payload={"reason": "departure", "case": case.pk}
        )
        for token in _device_tokens(case.employee)
        if token.pk not in waiting
    ]
    if commands:
        _record(
            "handover.lock_queued",
            actor,
            {"case": case.pk, "employee": case.employee_id, "tokens": [c.token_id for c in commands]},
            unit_id=case.employee.unit_id,
        )
    return commands


@transaction.atomic
def freeze_now(*, actor: Employee, case: DepartureCase, reason: str) -> DepartureCase:
    """Lock the leaver out at once: sessions and tokens fail on their next request; devices lock."""
    reason = _reason(reason, required=True)
    case = DepartureCase.objects.select_for_update().select_related("employee").get(pk=case.pk)
    if not case.is_live:
        raise Conflict(_("This case is closed."))
    policy.require_may_manage(actor, case.employee)
    if case.employee.frozen_at is None:
        org_services.freeze(actor=actor, employee=case.employee, reason=reason)
    return _mark_frozen(case, actor)


def _mark_frozen(case: DepartureCase, actor: Employee | None) -> DepartureCase:
    queue_lock(case, actor)
    if case.status == DepartureCase.Status.OPEN and case.employee.frozen_at is not None:
        case.status, case.frozen_at = DepartureCase.Status.FROZEN, timezone.now()
        case.save(update_fields=["status", "frozen_at"])
    signals.case_frozen.send(sender=DepartureCase, case=case, actor=actor)
    return case


def last_day_over(now: datetime | None = None) -> date:
    """The latest last day that is over: yesterday's, or today's once the freeze hour has come
    (CUSTOS_HANDOVER_FREEZE_HOUR, 18:00 by default), so a leaver works their whole last day."""
    local = timezone.localtime(now or timezone.now())
    return local.date() if local.hour >= config.freeze_hour() else local.date() - timedelta(days=1)


def leave_on_last_day(now: datetime | None = None) -> list[DepartureCase]:
    """Everyone whose last day is over departs (and is frozen); their devices get a lock command.

    Cases closed early count too: closing hands the customers over, the last day ends the job.
    Someone whose resignation was withdrawn (active again) is left alone.
    """
    over = last_day_over(now)
    done = []
    due = DepartureCase.objects.filter(last_day__lte=over, employee__status=Employee.Status.RESIGNING)
    for case_id in due.values_list("pk", flat=True):
        with transaction.atomic():
            case = DepartureCase.objects.select_for_update().select_related("employee").get(pk=case_id)
            org_services.depart_on_last_day(employee=case.employee)
            _mark_frozen(case, None)
            done.append(case)
    return done


@transaction.atomic
def refresh(case: DepartureCase, viewer: Employee | None = None) -> dict:
    """Re-tick the checklist; a leaver frozen elsewhere (the staff page) gets the case frozen
    and the device lock too."""
    if case.status == DepartureCase.Status.OPEN and Employee.objects.filter(pk=case.employee_id, frozen_at__isnull=False).exists():
        case = DepartureCase.objects.select_for_update().select_related("employee").get(pk=case.pk)
        _mark_frozen(case, None)
    return checklist.refresh(case, viewer)


@transaction.atomic
def waive(*, actor: Employee, item: ChecklistItem, reason: str) -> ChecklistItem:
    reason = _reason(reason, required=True)
    case = item.case
    policy.require_may_manage(actor, case.employee)
    if not case.is_live:
        raise Conflict(_("This case is closed."))
    if item.done_at is not None:
        raise Conflict(_("This item is already done."))
    if item.waived_at is not None:
        raise Conflict(_("This item is already waived."))
    item.waived_at, item.waived_by, item.waived_reason = timezone.now(), actor, reason
    item.save(update_fields=["waived_at", "waived_by", "waived_reason"])
    _record(
        "handover.item_waived",
        actor,
        {"case": case.pk, "item": item.pk, "kind": item.kind, "ref": item.ref, "reason": reason},
        unit_id=case.unit_id,
    )
    return item


@transaction.atomic
def waive_many(*, actor: Employee, items: list[ChecklistItem], reason: str) -> list[ChecklistItem]:
    """Waive several items with one reason, all or none: each is checked and recorded as `waive`
    does, so the ledger keeps one entry per item."""
    reason = _reason(reason, required=True)
    if not items:
        raise InvalidInput(_("Tick the items to waive."))
    return [waive(actor=actor, item=item, reason=reason) for item in items]


@transaction.atomic
def close_case(*, actor: Employee, case: DepartureCase) -> DepartureCase:
    case = DepartureCase.objects.select_for_update().select_related("employee").get(pk=case.pk)
    policy.require_may_manage(actor, case.employee)
    if not case.is_live:
        raise Conflict(_("This case is already closed."))
    if case.employee.frozen_at is None:
        raise Conflict(_("Freeze the employee (or wait for the last day) before closing the case."))
    counts = checklist.refresh(case)
    if counts["open"]:
        raise Conflict(
            _("%(n)d checklist items are still open: finish or waive them first.") % {"n": counts["open"]},
            code="items_open",
        )
    case.status, case.closed_at, case.closed_by = DepartureCase.Status.CLOSED, timezone.now(), actor
    case.save(update_fields=["status", "closed_at", "closed_by"])
    _record(
        "handover.case_closed",
        actor,
        {"case": case.pk, "employee": case.employee_id, "done": counts["done"], "waived": counts["waived"]},
        unit_id=case.unit_id,
    )
    return case


# --- allocation plans -------------------------------------------------------------------------


def is_senior(employee: Employee, today: date | None = None) -> bool:
    rule = config.senior_rule()
    if employee.role in rule.get("roles", ()):
        return True
    days = rule.get("min_days")
    if days is not None and employee.hired_on:
        return ((today or timezone.localdate()) - employee.hired_on).days >= int(days)
    return False


def may_receive(employee: Employee) -> bool:
    """Inactive, resigning, departed and frozen staff never receive customers; nor auditors."""
    return (
        employee.status == Employee.Status.ACTIVE
        and employee.frozen_at is None
        and employee.role in customer_rules.OWNER_ROLES
    )


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def received_today(employee_ids) -> dict[int, int]:
    rows = PlanMove.objects.filter(
        to_employee_id__in=list(employee_ids),
        plan__status=Plan.Status.COMMITTED,
        plan__committed_at__gte=_day_start(timezone.localdate()),
    ).values_list("to_employee_id", flat=True)
    out: dict[int, int] = {}
    for r in rows:
        out[r] = out.get(r, 0) + 1
    return out


def recent_moves(customer_ids) -> dict[int, int]:
    """How often each customer changed hands between people within the move-limit window."""
    _limit, days = config.move_limit()
    since = timezone.now() - timedelta(days=days)
    counts: dict[int, int] = {}
    ids = list(customer_ids)
    for i in range(0, len(ids), 500):
        rows = Entry.objects.filter(
            kind="customer.owner_changed", customer_id__in=ids[i : i + 500], occurred_at__gte=since
        ).values_list("customer_id", "payload")
        for customer_id, payload in rows:
            change = json.loads(payload).get("change") if payload else None
            if change in customer_services.MOVES:
                counts[customer_id] = counts.get(customer_id, 0) + 1
    return counts


def _receivers(actor: Employee, ids, *, weights=None, classes_for=None, cap=None, exclude=()) -> tuple[list, dict]:
    """The chosen receivers as allocation.Receiver, each checked against the actor's scope."""
    ids = [int(i) for i in dict.fromkeys(ids or [])]
    if not ids:
        raise InvalidInput(_("Choose at least one person to receive the customers."))
    scope = scope_of(actor)
    people = {e.pk: e for e in Employee.objects.select_related("unit").filter(pk__in=ids)}
    missing = [i for i in ids if i not in people or not scope.covers_unit(people[i].unit)]
    if missing:
        raise NotFound(_("Employee not found."))
    loads = _load(ids)
    today = received_today(ids)
    cap = config.daily_cap() if cap is None else cap
    out = []
    for i in ids:
        e = people[i]
        out.append(
            allocation.Receiver(
                id=i,
                load=loads.get(i, 0),
                capacity=None if not cap else max(cap - today.get(i, 0), 0),
                weight=float((weights or {}).get(str(i), (weights or {}).get(i, 1))),
                classes=frozenset({"senior"} if is_senior(e) else set()),
                eligible=may_receive(e) and i not in exclude,
            )
        )
    return out, people


def _load(ids) -> dict[int, int]:
    from custos.handover.selectors import load_of

    return load_of(ids)


def _candidates(customers, *, limit_moves: bool) -> tuple[list, dict[int, str]]:
    customers = sorted(customers, key=lambda c: (c.grade, c.pk))
    skipped: dict[int, str] = {}
    if limit_moves:
        most, _days = config.move_limit()
        for customer_id, n in recent_moves([c.pk for c in customers]).items():
            if n >= most:
                skipped[customer_id] = MOVED_TOO_OFTEN
    candidates = [
        allocation.Candidate(id=c.pk, grade=c.grade, exclude=frozenset({c.owner_id}))
        for c in customers
        if c.pk not in skipped
    ]
    return candidates, skipped


def _check_strategy(strategy: str, quota, manual) -> None:
    if strategy not in allocation.STRATEGIES:
        raise InvalidInput(_("Unknown allocation strategy: %(s)s") % {"s": strategy})
    if strategy == allocation.QUOTA and (not quota or int(quota) < 1):
        raise InvalidInput(_("Say how many customers each person gets."))
    if strategy == allocation.MANUAL and not manual:
        raise InvalidInput(_("Say who gets each customer."))


def _save_plan(actor, *, kind, unit, strategy, params, result, customers, skipped, case=None, rotation=None, staff_moves=(), reason="") -> Plan:
    plan = Plan.objects.create(
        kind=kind,
        case=case,
        rotation=rotation,
        unit=unit,
        strategy=strategy,
        params=params,
        seed=result.seed if result else None,
        staff_moves=list(staff_moves),
        reason=reason,
        created_by=actor,
    )
    assigned = result.assigned if result else {}
    unassigned = {**(result.unassigned if result else {}), **skipped}
    PlanMove.objects.bulk_create(
        [
            PlanMove(
                plan=plan,
                customer=c,
                from_employee_id=c.owner_id,
                to_employee_id=assigned.get(c.pk),
                skipped_reason="" if c.pk in assigned else unassigned.get(c.pk, allocation.NO_RECEIVER),
                completeness=c.completeness,
            )
            for c in customers
        ]
    )
    return plan


def _live_customers(qs):
    return list(qs.exclude(status__in=[Customer.Status.ARCHIVED, Customer.Status.IN_POOL]).order_by("id"))


@transaction.atomic
def preview(
    *,
    actor: Employee,
    kind: str,
    strategy: str,
    receiver_ids,
    case: DepartureCase | None = None,
    from_employee: Employee | None = None,
    customer_ids=None,
    weights: dict | None = None,
    quota: int | None = None,
    manual: dict | None = None,
    seed: int | None = None,
    daily_cap: int | None = None,
    reason: str = "",
) -> Plan:
    """Work out who would get which customer, and keep it as a draft plan to commit or discard.

    handover  the case's leaver's customers (a manager's choice of them, or all)
    transfer  在职继承: an active employee's customers (chosen, or all) to colleagues
    """
    policy.require_staff_manager(actor)
    reason = _reason(reason)
    _check_strategy(strategy, quota, manual)
    if kind == Plan.Kind.HANDOVER:
        if case is None:
            raise InvalidInput(_("A handover plan belongs to a departure case."))
        if not case.is_live:
            raise Conflict(_("This case is closed."))
        source = case.employee
    elif kind == Plan.Kind.TRANSFER:
        if from_employee is None:
            raise InvalidInput(_("Say whose customers are transferred."))
        source = from_employee
        if not may_receive(source):
            raise InvalidInput(
                _("%(name)s is not active: use a departure case for staff who leave.") % {"name": source.name}
            )
    else:
        raise InvalidInput(_("Unknown plan kind."))
    policy.require_unit_in_scope(actor, source.unit)
    if source.pk == actor.pk:
        raise Forbidden(_("You cannot hand out your own customers; ask your manager."))
    # A manager limited to product lines or grades hands over only the customers within them.
    qs = scope_of(actor).limit_customers(Customer.objects.filter(owner=source))
    if customer_ids:
        qs = qs.filter(pk__in=[int(i) for i in customer_ids])
    customers = _live_customers(qs)
    if not customers:
        raise InvalidInput(_("%(name)s has no customers to hand over.") % {"name": source.name})
    receivers, _people = _receivers(actor, receiver_ids, weights=weights, cap=daily_cap, exclude={source.pk})
    candidates, skipped = _candidates(customers, limit_moves=kind == Plan.Kind.TRANSFER)
    try:
        manual_map = {int(k): int(v) for k, v in (manual or {}).items() if v not in (None, "")}
    except (TypeError, ValueError) as exc:
        raise InvalidInput(_("Say who gets each customer by their ids.")) from exc
    result = allocation.allocate(
        strategy, candidates, receivers, manual=manual_map, seed=seed, quota=int(quota) if quota else None, rule=config.grade_rule()
    )
    params = {
        "receivers": [r.id for r in receivers],
        "weights": {str(r.id): r.weight for r in receivers} if strategy == allocation.WEIGHTED else {},
        "quota": int(quota) if quota else None,
        "manual": {str(k): v for k, v in manual_map.items()},
        "rule": config.grade_rule() if strategy == allocation.BY_RULE else {},
        "daily_cap": daily_cap if daily_cap is not None else config.daily_cap(),
        "from": source.pk,
        "customers": [c.pk for c in customers],
    }
    return _save_plan(
        actor, kind=kind, unit=source.unit, strategy=strategy, params=params, result=result,
        customers=customers, skipped=skipped, case=case, reason=reason,
    )  # fmt: skip


@transaction.atomic
def discard(*, actor: Employee, plan: Plan) -> Plan:
    policy.require_staff_manager(actor)
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    if plan.status != Plan.Status.DRAFT:
        raise Conflict(_("Only a preview can be discarded."))
    plan.status = Plan.Status.DISCARDED
    plan.save(update_fields=["status"])
    return plan


def _message(customer: Customer, successor: Employee, leaver: Employee) -> str:
    try:
        return config.message_template().format(customer=customer.name, successor=successor.name, leaver=leaver.name)
    except (KeyError, IndexError, ValueError):
        return config.DEFAULT_MESSAGE.format(customer=customer.name, successor=successor.name, leaver=leaver.name)


@transaction.atomic
def commit(*, actor: Employee, plan: Plan) -> Plan:
    """Carry out a previewed plan, all or nothing.

    The customers are locked (SELECT ... FOR UPDATE, in id order so two committers never
    deadlock) and each must still belong to whom the preview said: if another plan or a manager
    moved one meanwhile, nothing moves and the caller gets a Conflict to preview again.
    """
    policy.require_staff_manager(actor)
    plan = Plan.objects.select_for_update().get(pk=plan.pk)
    if plan.status != Plan.Status.DRAFT:
        raise Conflict(_("This plan was already committed or discarded."), code="plan_not_draft")
    moves = list(plan.moves.select_related("from_employee", "to_employee", "to_employee__unit").filter(to_employee__isnull=False))
    if not moves:
        raise InvalidInput(_("Nobody receives anything in this plan."))
    locked = {
        c.pk: c
        for c in Customer.objects.select_for_update().select_related("unit").filter(pk__in=[m.customer_id for m in moves]).order_by("pk")
    }
    changed = [m for m in moves if locked[m.customer_id].owner_id != m.from_employee_id or locked[m.customer_id].status != Customer.Status.ACTIVE]
    if changed:
        names = "、".join(locked[m.customer_id].name for m in changed[:5])
        raise Conflict(
            _("%(n)d customers changed hands since this preview (%(names)s); nothing was moved. Make a new preview.")
            % {"n": len(changed), "names": names},
            code="stale_plan",
        )
    if plan.kind != Plan.Kind.HANDOVER:
        most, days = config.move_limit()
        moved = recent_moves([m.customer_id for m in moves])
        over = [m for m in moves if moved.get(m.customer_id, 0) >= most]
        if over:
            raise Conflict(
                _("%(name)s was already moved %(most)d times in %(days)d days; nothing was moved.")
                % {"name": locked[over[0].customer_id].name, "most": most, "days": days},
                code="move_limit",
            )
    for staff in plan.staff_moves:
        employee = Employee.objects.select_related("unit").get(pk=staff["employee"])
        if employee.unit_id != staff["to_unit"]:
            org_services.move_employee(
                actor=actor, employee=employee, unit=Unit.objects.get(pk=staff["to_unit"]), reason=f"rotation {plan.rotation_id}"
            )
    change = CHANGE_KIND[plan.kind]
    today = timezone.localdate()
    counts: dict[int, int] = {}
    # Read after the staff moves: a rotation's receivers now work in the customers' unit.
    receivers = Employee.objects.select_related("unit").in_bulk({m.to_employee_id for m in moves})
    tasks = []
    for m in moves:
        customer, to = locked[m.customer_id], receivers[m.to_employee_id]
        m.completeness = customer.completeness
        m.follow_up_overdue = bool(customer.next_follow_up_on and customer.next_follow_up_on < today)
        customer_services.change_owner(
            actor=actor, customer=customer, kind=change, to=to, reason=plan.reason or f"{plan.kind} plan {plan.pk}"
        )
        tasks.append(ContactTask(assignee=to, customer=customer, plan=plan, message=_message(customer, to, m.from_employee)))
        counts[to.pk] = counts.get(to.pk, 0) + 1
    ContactTask.objects.bulk_create(tasks)
    PlanMove.objects.bulk_update(moves, ["completeness", "follow_up_overdue"])
    plan.status, plan.committed_by, plan.committed_at = Plan.Status.COMMITTED, actor, timezone.now()
    plan.save(update_fields=["status", "committed_by", "committed_at"])
    _record(
        "handover.plan_committed",
        actor,
        {
            "plan": plan.pk,
            "kind": plan.kind,
            "case": plan.case_id,
            "rotation": plan.rotation_id,
            "strategy": plan.strategy,
            "seed": plan.seed,
            "moved": len(moves),
            "skipped": plan.moves.filter(to_employee__isnull=True).count(),
            "receivers": {str(k): v for k, v in sorted(counts.items())},
        },
        unit_id=plan.unit_id,
    )
    signals.plan_committed.send(sender=Plan, plan=plan, moves=moves)
    if plan.rotation_id:
        Rotation.objects.filter(pk=plan.rotation_id).update(last_rotated_on=today)
    if plan.case_id:
        checklist.refresh(plan.case)
    return plan


# --- rotation (轮岗) ---------------------------------------------------------------------------


def _common_ancestor(units: list[Unit]) -> Unit:
    paths = [u.path.strip("/").split("/") for u in units]
    common = []
    for parts in zip(*paths, strict=False):
        if len(set(parts)) != 1:
            break
        common.append(parts[0])
    return Unit.objects.get(pk=int(common[-1])) if common else units[0]


@transaction.atomic
def create_rotation(*, actor: Employee, name: str, unit_ids, months: int | None = None, strategy: str = allocation.LEAST_LOADED) -> Rotation:
    policy.require_staff_manager(actor)
    name = " ".join((name or "").split())[:100]
    if not name:
        raise InvalidInput(_("A rotation needs a name."))
    ids = [int(i) for i in dict.fromkeys(unit_ids or [])]
    if len(ids) < 2:
        raise InvalidInput(_("A rotation needs at least two units."))
    units = {u.pk: u for u in Unit.objects.filter(pk__in=ids)}
    for i in ids:
        if i not in units:
            raise NotFound(_("Unit not found."))
        policy.require_unit_in_scope(actor, units[i])
    months = config.rotation_months() if months is None else int(months)
    if not 1 <= months <= 60:
        raise InvalidInput(_("Rotate every 1 to 60 months."))
    if strategy not in allocation.STRATEGIES or strategy in (allocation.MANUAL, allocation.QUOTA):
        raise InvalidInput(_("Unknown allocation strategy: %(s)s") % {"s": strategy})
    rotation = Rotation.objects.create(
        name=name, unit_order=ids, months=months, strategy=strategy, created_by=actor,
        unit=_common_ancestor([units[i] for i in ids]),
    )  # fmt: skip
    rotation.units.set(ids)
    _record(
        "handover.rotation_created",
        actor,
        {"rotation": rotation.pk, "name": name, "units": ids, "months": months, "strategy": strategy},
        unit_id=rotation.unit_id,
    )
    return rotation


def rotation_participants(rotation: Rotation) -> dict[int, list[Employee]]:
    """Sales staff who rotate, per unit: active, not frozen, working directly in the unit."""
    staff = Employee.objects.filter(
        unit_id__in=rotation.unit_order, role=Role.SALES, status=Employee.Status.ACTIVE, frozen_at__isnull=True
    ).order_by("pk")
    out: dict[int, list[Employee]] = {u: [] for u in rotation.unit_order}
    for e in staff:
        out[e.unit_id].append(e)
    return out


def next_rotation_on(rotation: Rotation) -> date | None:
    if rotation.last_rotated_on is None:
        return None
    d = rotation.last_rotated_on
    month = d.month - 1 + rotation.months
    year, month = d.year + month // 12, month % 12 + 1
    day = min(d.day, [31, 29 if year % 4 == 0 and (year % 100 or year % 400 == 0) else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1])
    return date(year, month, day)


@transaction.atomic
def preview_rotation(*, actor: Employee, rotation: Rotation, seed: int | None = None) -> Plan:
    """Staff of each unit move to the next unit; the customers they leave behind go to the staff
    arriving in that unit, by the rotation's strategy. Customers stay in their unit (the market)."""
    policy.require_staff_manager(actor)
    for unit in rotation.units.all():
        policy.require_unit_in_scope(actor, unit)
    order = list(rotation.unit_order)
    staff = rotation_participants(rotation)
    if sum(1 for u in order if staff[u]) < 2:
        raise InvalidInput(_("At least two of the units need active sales staff to rotate."))
    staff_moves, customers, skipped_all = [], [], {}
    assigned, unassigned = {}, {}
    seed = seed if seed is not None or rotation.strategy != allocation.WEIGHTED else None
    for i, unit_id in enumerate(order):
        leaving = staff[unit_id]
        arriving = staff[order[i - 1]]  # staff of the previous unit come here
        for e in leaving:
            staff_moves.append({"employee": e.pk, "from_unit": unit_id, "to_unit": order[(i + 1) % len(order)]})
        mine = _live_customers(Customer.objects.filter(owner__in=leaving))
        customers += mine
        if not mine:
            continue
        if not arriving:
            unassigned.update({c.pk: allocation.NO_RECEIVER for c in mine})
            continue
        receivers, _people = _receivers(actor, [e.pk for e in arriving])
        candidates, skipped = _candidates(mine, limit_moves=True)
        skipped_all.update(skipped)
        result = allocation.allocate(rotation.strategy, candidates, receivers, seed=seed, rule=config.grade_rule())
        seed = seed if seed is not None else result.seed
        assigned.update(result.assigned)
        unassigned.update(result.unassigned)
    result = allocation.Allocation(strategy=rotation.strategy, seed=seed, assigned=assigned, unassigned=unassigned)
    params = {"units": order, "rule": config.grade_rule() if rotation.strategy == allocation.BY_RULE else {}}
    return _save_plan(
        actor, kind=Plan.Kind.ROTATION, unit=rotation.unit, strategy=rotation.strategy, params=params, result=result,
        customers=customers, skipped=skipped_all, rotation=rotation, staff_moves=staff_moves,
        reason=f"轮岗 {rotation.name}",
    )  # fmt: skip


def propose_due_rotations(today: date | None = None) -> list[Plan]:
    """A rotation whose time has come gets a preview from its creator, waiting to be committed."""
    today = today or timezone.localdate()
    proposed = []
    for rotation in Rotation.objects.filter(last_rotated_on__isnull=False).select_related("created_by", "created_by__unit"):
        due = next_rotation_on(rotation)
        if due is None or due > today or rotation.plans.filter(status=Plan.Status.DRAFT).exists():
            continue
        try:
            proposed.append(preview_rotation(actor=rotation.created_by, rotation=rotation))
        except DomainError:
            continue  # the creator left or lost the scope; the rotation page still offers it by hand
    return proposed


# --- contact tasks and device commands -------------------------------------------------------


@transaction.atomic
def finish_task(*, actor: Employee, task: ContactTask) -> ContactTask:
    policy.require_writer(actor)
    if task.assignee_id != actor.pk and not policy.may_manage(actor, task.assignee):
        raise Forbidden(_("Only the person the task is for, or their manager, may finish it."))
    if task.status == ContactTask.Status.DONE:
        raise Conflict(_("This task is already done."))
    task.status, task.done_at = ContactTask.Status.DONE, timezone.now()
    task.save(update_fields=["status", "done_at"])
    return task


@transaction.atomic
def poll_commands(*, token: ApiToken, acknowledge=()) -> list[DeviceCommand]:
    """A device's poll: acknowledge what it carried out, get what is still waiting for it."""
    now = timezone.now()
    ack = [int(i) for i in acknowledge or ()]
    if ack:
        done = DeviceCommand.objects.filter(token=token, pk__in=ack, acknowledged_at__isnull=True)
        ids = list(done.values_list("pk", flat=True))
        if ids:
            done.update(acknowledged_at=now)
            append(
                "device.command_acknowledged",
                {"commands": ids, "token": token.pk},
                actor_id=token.employee_id,
                unit_id=token.employee.unit_id if token.employee else None,
                source="device",
            )
    waiting = list(DeviceCommand.objects.filter(token=token, acknowledged_at__isnull=True).order_by("pk"))
    DeviceCommand.objects.filter(pk__in=[c.pk for c in waiting], delivered_at__isnull=True).update(delivered_at=now)
    return waiting
