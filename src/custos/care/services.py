"""Every write of the work split and the service desk, each in one transaction with its entries.

Tasks are made from facts (a grade's cadence, a purchase, a handover, a complaint) under a key
naming that fact, so the nightly job and the hooks may run any number of times and make each task
once; their ledger entries carry the same key as source_id and are deduplicated the same way.
"""

from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Max, Q
from django.db.models.functions import Mod
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access import policy
from custos.care import scope
from custos.care.models import ContactTask, Responsibility, ReturnCadence
from custos.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from custos.customers import services as customer_services
from custos.customers.models import Customer, Purchase
from custos.ledger.services import Event, append_batch
from custos.org.models import Employee, Role

SOURCE = "console"
# Days between return visits per grade when no ReturnCadence row says otherwise (0: none).
DEFAULT_CADENCE = getattr(settings, "CUSTOS_CARE_CADENCE", {"A": 30, "B": 90, "C": 180, "D": 0})
HORIZON_DAYS = 7  # tasks are made this long before they fall due, so a desk can plan its week
PURCHASE_LOOKBACK_DAYS = 30  # purchases older than this get no call-back of their own
AFTER_PURCHASE_DAYS = 7
AFTER_HANDOVER_DAYS = 3
AFTER_COMPLAINT_DAYS = 3
RETRY_DAYS = 2
MANAGER_ROLES = (Role.MANAGER, Role.EXECUTIVE, Role.ADMIN)
DEVELOPERS = (Role.MANAGER, Role.EXECUTIVE, Role.ADMIN)


def _event(
    kind: str, actor: Employee | None, customer: Customer, payload: dict, *, source_id=None, source=SOURCE
):
    return Event(
        kind=kind,
        payload=payload,
        actor_id=actor.pk if actor else None,
        unit_id=customer.unit_id,
        customer_id=customer.pk,
        source=source if source_id is None else "care",
        source_id=source_id,
    )


def _reachable_customer(actor: Employee, customer_id: int) -> Customer:
    customer = scope.customers_in_reach(actor).filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("Customer not found."))
    return customer


# The work split ----------------------------------------------------------------------------------


def assign_responsibility(
    *, actor: Employee, customer_id: int, kind: str, employee_id: int
) -> Responsibility:
    """Give a line of a customer to someone: development to a manager, service to the desk.
    The business line is the owner and changes only by changing the owner (customers, pool)."""
    policy.require_writer(actor)
    if actor.role not in MANAGER_ROLES:
        raise Forbidden(_("Only managers divide the work on a customer."))
    customer = _reachable_customer(actor, customer_id)
    if kind not in (Responsibility.Kind.DEVELOPMENT, Responsibility.Kind.SERVICE):
        raise InvalidInput(_("A line is development or service; the business line is the customer's owner."))
    employee = scope.employees_in_reach(actor).filter(pk=employee_id).first()
    if employee is None:
        raise NotFound(_("Employee not found."))
    if not employee.may_sign_in:
        raise InvalidInput(_("This person is frozen or has left the company."))
    if kind == Responsibility.Kind.SERVICE and employee.role != Role.SERVICE:
        raise InvalidInput(_("The service line goes to someone at the service desk."))
    if kind == Responsibility.Kind.DEVELOPMENT and employee.role not in DEVELOPERS:
        raise InvalidInput(_("The development line goes to a manager."))
    if not customer.unit.path.startswith(employee.unit.path) and employee.role != Role.ADMIN:
        raise InvalidInput(_("This person works outside the customer's unit."))
    with transaction.atomic():
        Customer.objects.select_for_update().filter(pk=customer.pk).first()
        current = Responsibility.objects.filter(customer=customer, kind=kind, ended_at__isnull=True).first()
        if current is not None and current.employee_id == employee.pk:
            return current
        now = timezone.now()
        if current is not None:
            Responsibility.objects.filter(pk=current.pk).update(ended_at=now, ended_by=actor)
        row = Responsibility.objects.create(
            customer=customer, employee=employee, kind=kind, assigned_by=actor
        )
        payload = {
            "line": kind,
            "employee": employee.pk,
            "previous": current.employee_id if current else None,
        }
        append_batch([_event("care.responsibility_assigned", actor, customer, payload)])
    return row


def end_responsibility(*, actor: Employee, customer_id: int, kind: str) -> None:
    policy.require_writer(actor)
    if actor.role not in MANAGER_ROLES:
        raise Forbidden(_("Only managers divide the work on a customer."))
    customer = _reachable_customer(actor, customer_id)
    with transaction.atomic():
        current = (
            Responsibility.objects.select_for_update()
            .filter(customer=customer, kind=kind, ended_at__isnull=True)
            .first()
        )
        if current is None:
            raise NotFound(_("Nobody holds this line."))
        Responsibility.objects.filter(pk=current.pk).update(ended_at=timezone.now(), ended_by=actor)
        append_batch(
            [
                _event(
                    "care.responsibility_ended",
                    actor,
                    customer,
                    {"line": kind, "employee": current.employee_id},
                )
            ]
        )


# Cadence -----------------------------------------------------------------------------------------


def cadence() -> dict[str, int]:
    """Days between return visits per grade, the table over the defaults."""
    return {**DEFAULT_CADENCE, **dict(ReturnCadence.objects.values_list("grade", "every_days"))}


def set_cadence(*, actor: Employee, grade: str, every_days: int) -> ReturnCadence:
    policy.require_writer(actor)
    if actor.role not in (Role.EXECUTIVE, Role.ADMIN):
        raise Forbidden(_("Only executives and administrators set the return-visit schedule."))
    grade = (grade or "").strip().upper()
    if grade not in customer_services.grades():
        raise InvalidInput(_("Unknown grade."))
    if not 0 <= every_days <= 3650:
        raise InvalidInput(_("Days between visits must be between 0 and 3650."))
    with transaction.atomic():
        row, _created = ReturnCadence.objects.update_or_create(
            grade=grade, defaults={"every_days": every_days, "updated_by": actor}
        )
        append_batch(
            [
                Event(
                    kind="care.cadence_set",
                    payload={"grade": grade, "every_days": every_days},
                    actor_id=actor.pk,
                    source=SOURCE,
                )
            ]
        )
    return row


# Who gets a task ---------------------------------------------------------------------------------


def manager_above(customer: Customer) -> Employee | None:
    """The nearest active manager over the customer's owner (over the customer's unit when the pool
    holds them), never the owner: an executive or administrator at the top when no manager is."""
    start = customer.owner.unit if customer.owner_id else customer.unit
    ids = [int(p) for p in start.path.strip("/").split("/") if p]
    staff = (
        Employee.objects.filter(unit_id__in=ids, status=Employee.Status.ACTIVE, frozen_at__isnull=True)
        .exclude(pk=customer.owner_id or 0)
        .values_list("pk", "unit_id", "role")
        .order_by("pk")
    )
    by_unit: dict[int, list[tuple[int, str]]] = {}
    for pk, unit_id, role in staff:
        by_unit.setdefault(unit_id, []).append((pk, role))
    for unit_id in reversed(ids):
        for pk, role in by_unit.get(unit_id, []):
            if role == Role.MANAGER:
                return Employee.objects.get(pk=pk)
    for wanted in (Role.EXECUTIVE, Role.ADMIN):
        for unit_id in ids:
            for pk, role in by_unit.get(unit_id, []):
                if role == wanted:
                    return Employee.objects.get(pk=pk)
    return None


def _desk_people(customer_ids: list[int]) -> dict[int, int]:
    return dict(
        Responsibility.objects.filter(
            customer_id__in=customer_ids, kind=Responsibility.Kind.SERVICE, ended_at__isnull=True
        ).values_list("customer_id", "employee_id")
    )


def _make_tasks(specs: list[dict], *, actor: Employee | None = None) -> list[ContactTask]:
    """Insert the tasks whose key is new, with one `care.task_created` entry each."""
    if not specs:
        return []
    keys = [s["key"] for s in specs]
    existing = set(ContactTask.objects.filter(key__in=keys).values_list("key", flat=True))
    fresh = [s for s in dict((s["key"], s) for s in specs).values() if s["key"] not in existing]
    if not fresh:
        return []
    desk = _desk_people([s["customer"].pk for s in fresh])
    rows = []
    for s in fresh:
        queue = s.get("queue", ContactTask.Queue.DESK)
        assignee = s.get("assignee") if queue == ContactTask.Queue.MANAGER else None
        rows.append(
            ContactTask(
                customer=s["customer"],
                kind=s["kind"],
                queue=queue,
                assignee_id=assignee.pk if assignee else desk.get(s["customer"].pk),
                due_on=s["due_on"],
                key=s["key"],
                source_task=s.get("source_task"),
                note=s.get("note", "")[:300],
            )
        )
    with transaction.atomic():
        made = ContactTask.objects.bulk_create(rows, ignore_conflicts=True)
        made = list(ContactTask.objects.filter(key__in=[r.key for r in rows]).select_related("customer"))
        append_batch(
            [
                _event(
                    "care.task_created",
                    actor,
                    t.customer,
                    {
                        "task": t.pk,
                        "kind": t.kind,
                        "queue": t.queue,
                        "due_on": t.due_on.isoformat(),
                        "assignee": t.assignee_id,
                    },
                    source_id=f"task:{t.key}",
                )
                for t in made
            ]
        )
    return made


def first_visit_day(customer: Customer, every: int, today: date) -> date:
    """A customer never called back is first due on a day of their own within one cadence: the
    first run (or a grade's new cadence) spreads the backlog over the period instead of making
    every customer due at once. The day is fixed (its ordinal matches the customer's id modulo
    the cadence), so later runs find the same day and make no second task."""
    start = max(today, timezone.localdate(customer.created_at))
    return start + timedelta(days=(customer.pk - start.toordinal()) % every)


def _start_of(day: date):
    return timezone.make_aware(datetime.combine(day, time.min))


def _return_visits_due(grade: str, every: int, today: date, horizon: date):
    """(customer id, unit id, due day) of the grade's active customers whose return visit falls
    due by the horizon and who have no open one. The database narrows the rows down (a slot of the
    id modulo the cadence for those never called back, the last visit's day for the others), so a
    night reads the customers due, not every customer of the grade."""
    open_ids = ContactTask.objects.filter(
        kind=ContactTask.Kind.RETURN_VISIT, status=ContactTask.Status.OPEN
    ).values("customer_id")
    done = ContactTask.objects.filter(kind=ContactTask.Kind.RETURN_VISIT, status=ContactTask.Status.DONE)
    live = Customer.objects.filter(grade=grade, status=Customer.Status.ACTIVE).exclude(pk__in=open_ids)
    # Never called back: first due on the day whose ordinal matches the id modulo the cadence
    # (first_visit_day). The shift keeps the dividend positive, so every database's MOD agrees.
    shift = (today.toordinal() // every + 1) * every - today.toordinal()
    fresh = (
        live.exclude(pk__in=done.values("customer_id"))
        .annotate(slot=Mod(F("pk") + shift, every))
        .filter(Q(slot__lte=(horizon - today).days) | Q(created_at__gte=_start_of(today)))
        .values_list("pk", "unit_id", "created_at")
    )
    for pk, unit_id, created_at in fresh.iterator(chunk_size=5000):
        start = max(today, timezone.localdate(created_at))
        due = start + timedelta(days=(pk - start.toordinal()) % every)
        if due <= horizon:
            yield pk, unit_id, due
    # Called back before: due a cadence after the last finished visit.
    called = (
        done.filter(customer__in=live.values("pk"))
        .values("customer_id", "customer__unit_id")
        .annotate(last=Max("done_at"))
        .filter(last__lt=_start_of(horizon - timedelta(days=every - 1)))
        .values_list("customer_id", "customer__unit_id", "last")
    )
    for pk, unit_id, last in called.iterator(chunk_size=5000):
        due = timezone.localdate(last) + timedelta(days=every)
        if due <= horizon:
            yield pk, unit_id, due


def _stub(pk: int, unit_id: int) -> Customer:
    # What a task and its ledger entry need of a customer, without reading the whole row.
    return Customer(pk=pk, unit_id=unit_id)


def generate_due_tasks(*, today: date | None = None) -> dict:
    """The nightly job: return visits by cadence and call-backs after purchases, due within the
    horizon. Safe to run again: a task's key names the fact it comes from."""
    today = today or timezone.localdate()
    horizon = today + timedelta(days=HORIZON_DAYS)
    counts = {"return_visit": 0, "after_purchase": 0}
    for grade, every in cadence().items():
        if every <= 0:
            continue
        batch = []
        for pk, unit_id, due in _return_visits_due(grade, every, today, horizon):
            batch.append(
                {
                    "customer": _stub(pk, unit_id),
                    "kind": ContactTask.Kind.RETURN_VISIT,
                    "due_on": due,
                    "key": f"return:{pk}:{due.isoformat()}",
                }
            )
            if len(batch) >= 1000:
                counts["return_visit"] += len(_make_tasks(batch))
                batch = []
        counts["return_visit"] += len(_make_tasks(batch))
    purchases = Purchase.objects.filter(
        purchased_on__gte=today - timedelta(days=PURCHASE_LOOKBACK_DAYS),
        purchased_on__lte=horizon - timedelta(days=AFTER_PURCHASE_DAYS),
        customer__status=Customer.Status.ACTIVE,
    ).values_list("pk", "customer_id", "customer__unit_id", "purchased_on", "product")
    batch = [
        {
            "customer": _stub(customer_id, unit_id),
            "kind": ContactTask.Kind.AFTER_PURCHASE,
            "due_on": max(on + timedelta(days=AFTER_PURCHASE_DAYS), today),
            "key": f"purchase:{pk}",
            "note": product,
        }
        for pk, customer_id, unit_id, on, product in purchases.iterator(chunk_size=5000)
    ]
    for start in range(0, len(batch), 1000):
        counts["after_purchase"] += len(_make_tasks(batch[start : start + 1000]))
    return counts


def on_plan_committed(sender, plan, moves, **kwargs) -> None:
    """Inside the handover's transaction: the desk calls each moved customer a few days later,
    to hear from them that the new person has reached them."""
    due = timezone.localdate() + timedelta(days=AFTER_HANDOVER_DAYS)
    _make_tasks(
        [
            {
                "customer": m.customer,
                "kind": ContactTask.Kind.AFTER_HANDOVER,
                "due_on": due,
                "key": f"handover:{m.pk}",
                "note": m.to_employee.name,
            }
            for m in moves
        ]
    )


# Outcomes ----------------------------------------------------------------------------------------


def _locked_task(actor: Employee, task_id: int) -> ContactTask:
    if not scope.tasks_visible(actor).filter(pk=task_id).exists():
        raise NotFound(_("Task not found."))
    task = (
        ContactTask.objects.select_for_update(of=("self",))
        .select_related("customer", "customer__owner", "customer__unit")
        .get(pk=task_id)
    )
    if task.status != ContactTask.Status.OPEN:
        raise Conflict(_("This task is already closed."), code="task_closed")
    return task


def _archive_link(actor: Employee, task: ContactTask, message_id: int | None) -> int | None:
    if message_id is None:
        return None
    from custos.archive.selectors import get_message

    message = get_message(actor, message_id)
    if message.customer_id != task.customer_id:
        raise InvalidInput(_("This chat or call is not with the task's customer."))
    return message.pk


def record_outcome(
    *,
    actor: Employee,
    task_id: int,
    reached: bool,
    satisfaction: int | None = None,
    complaint: str = "",
    wants_other_contact: bool = False,
    note: str = "",
    archive_message_id: int | None = None,
) -> ContactTask:
    """The desk's call or chat is done: the outcome, and what it sets off. A complaint, or a wish
    for another contact person, goes to the owner's manager; an unreached customer is tried again."""
    policy.require_writer(actor)
    complaint, note = (complaint or "").strip(), (note or "").strip()
    if satisfaction is not None and not 1 <= satisfaction <= 5:
        raise InvalidInput(_("Satisfaction is 1 to 5."))
    if not reached and (satisfaction is not None or complaint or wants_other_contact):
        raise InvalidInput(_("A customer not reached gives no satisfaction, complaint or wish."))
    if len(complaint) > 2000 or len(note) > 2000:
        raise InvalidInput(_("The text is too long (2,000 characters at most)."))
    with transaction.atomic():
        task = _locked_task(actor, task_id)
        if task.queue != ContactTask.Queue.DESK:
            raise InvalidInput(_("A complaint is closed with its resolution, not an outcome."))
        task.archive_message_id = _archive_link(actor, task, archive_message_id)
        task.status, task.done_at, task.done_by = ContactTask.Status.DONE, timezone.now(), actor
        task.reached, task.satisfaction, task.complaint = reached, satisfaction, complaint
        task.wants_other_contact, task.outcome_note = wants_other_contact, note
        task.save()
        payload = {
            "task": task.pk,
            "kind": task.kind,
            "reached": reached,
            "satisfaction": satisfaction,
            "complaint": bool(complaint),
            "wants_other_contact": wants_other_contact,
            "archive_message": task.archive_message_id,
        }
        append_batch([_event("care.task_done", actor, task.customer, payload)])
        today = timezone.localdate()
        follow = []
        if not reached:
            follow.append(
                {
                    "customer": task.customer,
                    "kind": task.kind,
                    "due_on": today + timedelta(days=RETRY_DAYS),
                    "key": f"retry:{task.pk}",
                    "source_task": task,
                    "note": task.note,
                }
            )
        manager = manager_above(task.customer) if (complaint or wants_other_contact) else None
        if complaint:
            follow.append(
                {
                    "customer": task.customer,
                    "kind": ContactTask.Kind.COMPLAINT,
                    "queue": ContactTask.Queue.MANAGER,
                    "assignee": manager,
                    "due_on": today + timedelta(days=1),
                    "key": f"complaint:{task.pk}",
                    "source_task": task,
                    "note": complaint[:300],
                }
            )
        if wants_other_contact:
            follow.append(
                {
                    "customer": task.customer,
                    "kind": ContactTask.Kind.CONTACT_CHANGE,
                    "queue": ContactTask.Queue.MANAGER,
                    "assignee": manager,
                    "due_on": today + timedelta(days=2),
                    "key": f"contact:{task.pk}",
                    "source_task": task,
                    "note": note[:300],
                }
            )
        made = _make_tasks(follow, actor=actor)
        routed = [t for t in made if t.queue == ContactTask.Queue.MANAGER]
        if routed:
            append_batch(
                [
                    _event(
                        "care.complaint_routed",
                        actor,
                        task.customer,
                        {"task": t.pk, "kind": t.kind, "to": t.assignee_id, "owner": task.customer.owner_id},
                    )
                    for t in routed
                ]
            )
    return task


def resolve(*, actor: Employee, task_id: int, note: str) -> ContactTask:
    """The manager closes a complaint (or a wish for another contact): the desk calls back after."""
    policy.require_writer(actor)
    note = (note or "").strip()
    if not note:
        raise InvalidInput(_("Say how it was resolved."))
    if len(note) > 2000:
        raise InvalidInput(_("The text is too long (2,000 characters at most)."))
    with transaction.atomic():
        task = _locked_task(actor, task_id)
        if task.queue != ContactTask.Queue.MANAGER:
            raise InvalidInput(
                _("Only a complaint in a manager's queue is resolved; record the outcome of a desk task.")
            )
        if actor.role not in MANAGER_ROLES:
            raise Forbidden(_("Only managers resolve complaints."))
        task.status, task.done_at, task.done_by, task.outcome_note = (
            ContactTask.Status.DONE,
            timezone.now(),
            actor,
            note,
        )
        task.save()
        append_batch(
            [_event("care.complaint_resolved", actor, task.customer, {"task": task.pk, "kind": task.kind})]
        )
        _make_tasks(
            [
                {
                    "customer": task.customer,
                    "kind": ContactTask.Kind.AFTER_COMPLAINT,
                    "due_on": timezone.localdate() + timedelta(days=AFTER_COMPLAINT_DAYS),
                    "key": f"after:{task.pk}",
                    "source_task": task,
                }
            ],
            actor=actor,
        )
    return task


def add_task(
    *, actor: Employee, customer_id: int, due_on: date, note: str = "", today: date | None = None
) -> ContactTask:
    """A return visit someone asks for by hand (a manager, or the desk for itself). `today` is the
    day it is asked on, as the nightly job's (the demo plays days gone by); by default, today."""
    policy.require_writer(actor)
    customer = _reachable_customer(actor, customer_id)
    if actor.role not in (Role.SERVICE, *MANAGER_ROLES):
        raise Forbidden(_("Only the service desk and managers plan return visits."))
    if due_on < (today or timezone.localdate()):
        raise InvalidInput(_("The day is in the past."))
    with transaction.atomic():
        n = ContactTask.objects.filter(customer=customer).count()
        made = _make_tasks(
            [
                {
                    "customer": customer,
                    "kind": ContactTask.Kind.RETURN_VISIT,
                    "due_on": due_on,
                    "key": f"manual:{customer.pk}:{n}:{timezone.now().timestamp()}",
                    "note": note,
                }
            ],
            actor=actor,
        )
    return made[0]
