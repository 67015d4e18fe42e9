"""Reports: what a departure handed over and lost, and how well a rotation's files were kept.

Retention of an inherited customer over N days: did they buy (a purchase dated within N days
after the move) or write (a message.received entry within N days)? Windows that have not yet
run their course are counted apart ("so far"), so a fresh handover does not read as a loss.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.utils import timezone

from custos.access.scope import scope_of
from custos.customers.models import Customer, Purchase
from custos.handover import conversation_facts
from custos.handover.models import ChecklistItem, DepartureCase, Plan, PlanMove, Rotation
from custos.handover.selectors import get_case, get_rotation

WINDOWS = (30, 90)


@dataclass
class Retention:
    days: int
    customers: int = 0  # inherited customers
    matured: int = 0  # of them, whose window has ended
    kept: int = 0  # of the matured, who bought or wrote within the window
    kept_so_far: int = 0  # of all, who bought or wrote since the move (window still running or not)

    @property
    def rate(self) -> int | None:
        return round(100 * self.kept / self.matured) if self.matured else None


@dataclass
class DepartureReport:
    case: DepartureCase
    receivers: list[dict] = field(default_factory=list)
    handed_over: int = 0
    left_with_leaver: list[dict] = field(default_factory=list)
    deleted_by_customers: list[dict] = field(default_factory=list)
    unanswered: list[dict] = field(default_factory=list)
    retention: list[Retention] = field(default_factory=list)
    waived: list[dict] = field(default_factory=list)


def retention(moves: list[PlanMove], committed: dict[int, object], days: int) -> Retention:
    now = timezone.now()
    r = Retention(days=days, customers=len(moves))
    if not moves:
        return r
    by_time: dict[object, list[int]] = {}
    for m in moves:
        by_time.setdefault(committed[m.plan_id], []).append(m.customer_id)
    for at, ids in by_time.items():
        end = at + timedelta(days=days)
        wrote = conversation_facts.customers_replying(ids, at, min(end, now))
        bought = set(
            Purchase.objects.filter(
                customer_id__in=ids, purchased_on__gte=timezone.localdate(at), purchased_on__lte=timezone.localdate(end)
            ).values_list("customer_id", flat=True)
        )
        active = wrote | bought
        r.kept_so_far += len(active)
        if end <= now:
            r.matured += len(ids)
            r.kept += len(active)
    return r


def departure(viewer, case_id: int) -> DepartureReport:
    """The report as this viewer may see it: one limited to product lines or grades sees (and
    counts) only the customers within them; items about no customer are shown to all."""
    case = get_case(viewer, case_id)
    scope = scope_of(viewer)
    report = DepartureReport(case=case)
    plans = {p.pk: p.committed_at for p in case.plans.filter(status=Plan.Status.COMMITTED)}
    moves = list(
        scope.limit_customers(PlanMove.objects.filter(plan_id__in=plans, to_employee__isnull=False))
        .select_related("customer", "to_employee", "to_employee__unit")
        .order_by("to_employee__name", "customer__name")
    )
    grouped: dict[int, dict] = {}
    for m in moves:
        g = grouped.setdefault(
            m.to_employee_id,
            {"employee": m.to_employee, "customers": [], "count": 0},
        )
        g["customers"].append({"id": m.customer_id, "name": m.customer.name, "grade": m.customer.grade, "completeness": m.completeness})
        g["count"] += 1
    report.receivers = sorted(grouped.values(), key=lambda g: -g["count"])
    report.handed_over = len(moves)
    report.left_with_leaver = [
        {"id": c.pk, "name": c.name}
        for c in scope.limit_customers(Customer.objects.filter(owner=case.employee)).exclude(status=Customer.Status.ARCHIVED).order_by("id")
    ]
    since = case.opened_at - timedelta(days=90)
    deleted = conversation_facts.deleted_by_customers(case.employee_id, since)
    names = dict(
        scope.limit_customers(Customer.objects.filter(pk__in=[d["customer_id"] for d in deleted if d["customer_id"]]))
        .values_list("pk", "name")
    )
    report.deleted_by_customers = [
        {**d, "name": names.get(d["customer_id"], d["contact"])}
        for d in deleted
        if not scope.limited or not d["customer_id"] or d["customer_id"] in names
    ]
    # Unanswered at the handover; answered means someone (the leaver or a successor) wrote since.
    report.unanswered = []
    for i in scope.limit_customers(case.items.filter(kind=ChecklistItem.Kind.UNANSWERED)).order_by("id"):
        last_at = datetime.fromisoformat(i.detail["last_at"]) if i.detail.get("last_at") else case.opened_at
        answered = bool(i.customer_id) and conversation_facts.answered_since(i.customer_id, last_at)
        report.unanswered.append(
            {"ref": i.ref, "label": i.label, "customer_id": i.customer_id, "answered": answered, "waived": i.waived_at is not None}
        )
    report.waived = [
        {"kind": i.kind, "kind_label": i.get_kind_display(), "label": i.label, "reason": i.waived_reason, "by": i.waived_by.name if i.waived_by else ""}
        for i in scope.limit_customers(case.items.filter(waived_at__isnull=False, done_at__isnull=True)).select_related("waived_by")
    ]
    report.retention = [retention(moves, plans, d) for d in WINDOWS]
    return report


def rotation(viewer, rotation_id: int) -> dict:
    """Per committed rotation plan: how complete the files were at the move and are now, and
    whether follow-ups were up to date then and now."""
    rot: Rotation = get_rotation(viewer, rotation_id)
    scope = scope_of(viewer)  # a viewer limited to lines or grades sees their customers' moves
    today = timezone.localdate()
    rounds = []
    for plan in rot.plans.filter(status=Plan.Status.COMMITTED).order_by("committed_at"):
        moves = list(scope.limit_customers(plan.moves.filter(to_employee__isnull=False)).select_related("customer", "from_employee", "to_employee"))
        n = len(moves)
        now_up_to_date = sum(1 for m in moves if not (m.customer.next_follow_up_on and m.customer.next_follow_up_on < today))
        by_giver: dict[int, dict] = {}
        for m in moves:
            g = by_giver.setdefault(m.from_employee_id, {"employee": m.from_employee, "customers": 0, "completeness": 0, "up_to_date": 0})
            g["customers"] += 1
            g["completeness"] += m.completeness
            g["up_to_date"] += 0 if m.follow_up_overdue else 1
        for g in by_giver.values():
            g["completeness"] = round(g["completeness"] / g["customers"])
            g["up_to_date"] = round(100 * g["up_to_date"] / g["customers"])
        rounds.append(
            {
                "plan": plan,
                "customers": n,
                "skipped": scope.limit_customers(plan.moves.filter(to_employee__isnull=True)).count(),
                "staff_moved": len(plan.staff_moves),
                "completeness_at_move": round(sum(m.completeness for m in moves) / n) if n else None,
                "completeness_now": round(sum(m.customer.completeness for m in moves) / n) if n else None,
                "up_to_date_at_move": round(100 * sum(1 for m in moves if not m.follow_up_overdue) / n) if n else None,
                "up_to_date_now": round(100 * now_up_to_date / n) if n else None,
                "by_giver": sorted(by_giver.values(), key=lambda g: g["completeness"]),
            }
        )
    return {"rotation": rot, "rounds": rounds}
