"""大客情: the company's own care plans for chosen customers, their visits and reminders.

The visitor is the owner or a supervisor above them: the company, not the salesperson alone,
keeps in touch with its biggest customers. A visit moves the next one a plan's cadence on; a visit
not made by its day shows on the managers' page as overdue.
"""

from datetime import date, timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access import policy
from custos.care import scope
from custos.care.models import KeyAccountPlan, KeyAccountVisit
from custos.care.services import MANAGER_ROLES, _event, _reachable_customer
from custos.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from custos.ledger.services import append_batch
from custos.org.models import Employee


def _text(value: str, limit: int) -> str:
    value = (value or "").strip()
    if len(value) > limit:
        raise InvalidInput(_("The text is too long (%(n)s characters at most).") % {"n": limit})
    return value


def _require_planner(actor: Employee) -> None:
    policy.require_writer(actor)
    if actor.role not in MANAGER_ROLES:
        raise Forbidden(_("Only managers make key-account plans."))


def _check_visitor(visitor: Employee, customer) -> None:
    if not visitor.may_sign_in:
        raise InvalidInput(_("This person is frozen or has left the company."))
    if visitor.pk == customer.owner_id:
        return
    supervisor = visitor.role in MANAGER_ROLES and customer.unit.path.startswith(visitor.unit.path)
    if not supervisor:
        raise InvalidInput(_("The visitor is the customer's owner or a supervisor above them."))


def plans_visible(viewer: Employee):
    """Plans of customers in reach, and the plans a person visits for."""
    from django.db.models import Q

    reach = scope.customers_in_reach(viewer).values("pk")
    qs = KeyAccountPlan.objects.select_related("customer", "customer__owner", "visitor")
    if scope.desk_kind(viewer) == "all":
        return qs
    return qs.filter(Q(customer_id__in=reach) | Q(visitor_id=viewer.pk))


def get_plan(viewer: Employee, plan_id: int) -> KeyAccountPlan:
    plan = plans_visible(viewer).filter(pk=plan_id).first()
    if plan is None:
        raise NotFound(_("Plan not found."))
    return plan


def overdue(viewer: Employee, today: date | None = None):
    today = today or timezone.localdate()
    return plans_visible(viewer).filter(active=True, next_visit_on__lt=today)


def create_plan(
    *,
    actor: Employee,
    customer_id: int,
    visitor_id: int,
    every_days: int,
    gifts: str = "",
    events: str = "",
    remind_days: int = 3,
    first_visit_on: date | None = None,
    today: date | None = None,
) -> KeyAccountPlan:
    """A plan from `today` (by default today; the demo plays days gone by), its first visit then or later."""
    _require_planner(actor)
    customer = _reachable_customer(actor, customer_id)
    visitor = scope.employees_in_reach(actor).filter(pk=visitor_id).first()
    if visitor is None and visitor_id == actor.pk:
        visitor = actor
    if visitor is None:
        raise NotFound(_("Employee not found."))
    _check_visitor(visitor, customer)
    if not 1 <= every_days <= 730:
        raise InvalidInput(_("Days between visits must be between 1 and 730."))
    if not 0 <= remind_days <= 60:
        raise InvalidInput(_("Remind between 0 and 60 days before."))
    today = today or timezone.localdate()
    first = first_visit_on or today + timedelta(days=every_days)
    if first < today:
        raise InvalidInput(_("The day is in the past."))
    with transaction.atomic():
        if KeyAccountPlan.objects.filter(customer=customer, active=True).exists():
            raise Conflict(_("This customer already has a plan."), code="plan_exists")
        plan = KeyAccountPlan.objects.create(
            customer=customer,
            visitor=visitor,
            every_days=every_days,
            gifts=_text(gifts, 300),
            events=_text(events, 300),
            remind_days=remind_days,
            next_visit_on=first,
            created_by=actor,
        )
        payload = {
            "plan": plan.pk,
            "visitor": visitor.pk,
            "every_days": every_days,
            "next_visit_on": first.isoformat(),
        }
        append_batch([_event("care.plan_created", actor, customer, payload)])
    return plan


def end_plan(*, actor: Employee, plan_id: int) -> KeyAccountPlan:
    _require_planner(actor)
    with transaction.atomic():
        plan = get_plan(actor, plan_id)
        if not plan.active:
            raise Conflict(_("This plan has ended."), code="plan_ended")
        KeyAccountPlan.objects.filter(pk=plan.pk).update(active=False)
        plan.active = False
        append_batch([_event("care.plan_ended", actor, plan.customer, {"plan": plan.pk})])
    return plan


def record_visit(
    *, actor: Employee, plan_id: int, kind: str = "visit", visited_on: date | None = None, note: str = ""
) -> KeyAccountVisit:
    """A visit, gift or event done. Recorded by the visitor (or a manager for them); a visit moves
    the next one on by the plan's cadence."""
    policy.require_writer(actor)
    if kind not in KeyAccountVisit.Kind.values:
        raise InvalidInput(_("A visit, a gift or an event."))
    today = timezone.localdate()
    visited_on = visited_on or today
    if visited_on > today:
        raise InvalidInput(_("A visit is recorded once it has happened."))
    note = _text(note, 2000)
    with transaction.atomic():
        plan = get_plan(actor, plan_id)
        plan = (
            KeyAccountPlan.objects.select_for_update(of=("self",)).select_related("customer").get(pk=plan.pk)
        )
        if not plan.active:
            raise Conflict(_("This plan has ended."), code="plan_ended")
        if actor.pk != plan.visitor_id and actor.role not in MANAGER_ROLES:
            raise Forbidden(_("Only the plan's visitor or a manager records its visits."))
        visit = KeyAccountVisit.objects.create(
            plan=plan, kind=kind, visited_on=visited_on, visitor=plan.visitor, note=note, recorded_by=actor
        )
        if kind == KeyAccountVisit.Kind.VISIT:
            plan.next_visit_on = max(visited_on + timedelta(days=plan.every_days), today + timedelta(days=1))
            plan.save(update_fields=["next_visit_on"])
        payload = {
            "plan": plan.pk,
            "visit": visit.pk,
            "kind": kind,
            "visited_on": visited_on.isoformat(),
            "next_visit_on": plan.next_visit_on.isoformat(),
        }
        append_batch([_event("care.plan_visited", actor, plan.customer, payload)])
    return visit


def send_reminders(today: date | None = None) -> int:
    """Each visitor is told once per visit, remind_days before it: a ledger entry and a notice
    to the unit's webhooks (no contact details in it)."""
    from custos.alerts.services import notify

    today = today or timezone.localdate()
    sent = 0
    plans = KeyAccountPlan.objects.filter(
        active=True, next_visit_on__lte=today + timedelta(days=60)
    ).select_related("customer", "visitor")
    for plan in plans:
        if (
            plan.next_visit_on - timedelta(days=plan.remind_days) > today
            or plan.reminded_for == plan.next_visit_on
        ):
            continue
        with transaction.atomic():
            KeyAccountPlan.objects.filter(pk=plan.pk).update(reminded_for=plan.next_visit_on)
            payload = {
                "plan": plan.pk,
                "visitor": plan.visitor_id,
                "next_visit_on": plan.next_visit_on.isoformat(),
            }
            event = _event(
                "care.plan_reminded",
                None,
                plan.customer,
                payload,
                source_id=f"remind:{plan.pk}:{plan.next_visit_on.isoformat()}",
            )
            append_batch([event])
            notify(
                unit_id=plan.customer.unit_id,
                title=_("Key-account visit due"),
                text=_("%(visitor)s visits %(customer)s by %(day)s.")
                % {
                    "visitor": plan.visitor.name,
                    "customer": plan.customer.name,
                    "day": plan.next_visit_on.isoformat(),
                },
                link="/care/key-accounts/",
                event="care.plan_reminded",
            )
        sent += 1
    return sent
