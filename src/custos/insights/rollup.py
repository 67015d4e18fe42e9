"""Building a day's roll-up from the tables that are projections of the ledger.

One pass per source table, each an aggregate query or one ordered read, then the day's rows are
replaced in one transaction: a rebuild is idempotent and the dashboards never see half a day.
What every figure means is in docs/insights.md; churn weights and reasons are in scoring.py.
"""

import json
import statistics
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import connection, transaction
from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import TruncWeek
from django.utils import timezone

from custos.alerts.models import Alert
from custos.archive.models import Conversation, ExternalContact, Group, Message
from custos.care.selectors import people_by_customer
from custos.customers.models import Customer, Feedback, FollowUp, Purchase
from custos.handover.models import Plan, PlanMove
from custos.insights import scoring
from custos.insights.models import CustomerScore, Figure, Rollup
from custos.ledger.models import Entry
from custos.org.models import Employee, Unit
from custos.pool.models import PoolMove
from custos.wecom.models import FollowRelation, MemberLink

HISTORY_DAYS = 180  # the customer's own history the churn score compares against
RECENT_DAYS = 30
REVENUE_DAYS = 90
WEEKS = 12
UNANSWERED_AFTER = timedelta(hours=24)
KEEP_DAYS = 120  # days of figures kept; scores are kept for the latest day only
MESSAGES = ("message.sent", "message.received")
BATCH = 5000


def monday(d: date) -> date:
    return d - timedelta(days=d.weekday())


def end_of(day: date) -> datetime:
    """The moment a day's roll-up looks from: the next local midnight."""
    return timezone.make_aware(datetime.combine(day + timedelta(days=1), datetime.min.time()))


@dataclass
class Built:
    day: date
    customers: int = 0
    figures: int = 0
    scores: int = 0
    seconds: float = 0.0
    timings: dict = field(default_factory=dict)


class _Figures:
    def __init__(self, day: date, paths: dict[int, str]):
        self.day, self.paths = day, paths
        self.values: dict[tuple, float] = defaultdict(float)

    def add(self, metric: str, unit_id: int | None, employee_id: int | None = None, key: str = "", value=1):
        self.values[(metric, unit_id, employee_id, key)] += float(value)

    def set(self, metric: str, unit_id: int | None, employee_id: int | None = None, key: str = "", value=0):
        self.values[(metric, unit_id, employee_id, key)] = float(value)

    def rows(self) -> list[Figure]:
        return [
            Figure(
                day=self.day,
                metric=m,
                unit_id=u,
                unit_path=self.paths.get(u, ""),
                employee_id=e,
                key=k,
                value=v,
            )
            for (m, u, e, k), v in self.values.items()
        ]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..1): a figure a person can check by counting."""
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 1))
    return ordered[int(rank) - 1]


def _week_key(value) -> str:
    if isinstance(value, datetime):
        value = timezone.localtime(value).date() if timezone.is_aware(value) else value.date()
    return monday(value).isoformat()


def build(day: date | None = None, now: datetime | None = None) -> Built:
    """Compute and store the roll-up of `day` (default today), looking from `now` (default the
    day's end, or the present moment for today)."""
    started = time.monotonic()
    real_now = timezone.now()
    day = day or timezone.localdate(now or real_now)
    now = now or min(end_of(day), real_now)
    built = Built(day=day)
    paths = dict(Unit.objects.values_list("pk", "path"))
    employees = {e["pk"]: e for e in Employee.objects.values("pk", "unit_id", "status")}
    fig = _Figures(day, paths)

    def lap(name, t=[started]):  # noqa: B006 - a running clock for the timings
        t2 = time.monotonic()
        built.timings[name] = round(t2 - t[0], 3)
        t[0] = t2

    customers = _customers()
    built.customers = len(customers)
    lap("customers")
    facts = _message_facts(now, customers)
    lap("message_facts")
    purchases = _purchase_facts(now)
    lap("purchases")
    walk = _walk_recent_messages(now)
    lap("recent_messages")
    solo = _solo(customers)
    lap("solo")
    deleted = set(
        Entry.objects.filter(
            kind="contact.deleted_by_customer", customer_id__isnull=False, occurred_at__gte=now - timedelta(days=HISTORY_DAYS),
            occurred_at__lt=now,
        ).values_list("customer_id", flat=True)
    )  # fmt: skip
    complaints = set(
        Feedback.objects.filter(
            created_at__gte=now - timedelta(days=scoring.COMPLAINT_DAYS), created_at__lt=now
        )
        .filter(Q(rating__lte=2) | ~Q(complaint=""))
        .values_list("customer_id", flat=True)
    )
    lap("deleted_complaints")

    scores = []
    for cid, (owner_id, unit_id, _completeness) in customers.items():
        f = facts.get(cid, {})
        p = purchases.get(cid, {})
        owner_status = employees.get(owner_id, {}).get("status", "active")
        reasons = scoring.reasons(
            now=now,
            customer_messages=f.get("recent", 0) + p.get("recent", 0),
            customer_messages_before=f.get("base", 0) + p.get("base", 0),
            last_interaction=max([x for x in (f.get("last"), p.get("last")) if x is not None], default=None),
            pair_recent=f.get("pairs", {}).get(owner_id, (0, 0))[0],
            pair_before=f.get("pairs", {}).get(owner_id, (0, 0))[1],
            owner_status=owner_status,
            deleted_staff=cid in deleted,
            unanswered=(owner_id, cid) in walk.unanswered,
            complaint=cid in complaints,
        )
        revenue = p.get("revenue", 0)
        score = scoring.total(reasons)
        is_solo = cid in solo
        fig.add("customers", unit_id, owner_id)
        fig.add("revenue_90d", unit_id, owner_id, value=revenue)
        if is_solo:
            fig.add("solo", unit_id, owner_id)
        if score >= scoring.AT_RISK:
            fig.add("at_risk", unit_id, owner_id)
        if score > 0 or is_solo:
            scores.append(
                CustomerScore(
                    day=day, customer_id=cid, owner_id=owner_id, unit_id=unit_id, unit_path=paths.get(unit_id, ""),
                    score=score, reasons=reasons, solo=is_solo, revenue_90d=revenue,
                )
            )  # fmt: skip
    lap("scores")

    _conversations(fig, now, employees)
    _staff(fig, now, day, walk, employees, customers)
    _trends(fig, now, day, customers)
    lap("figures")

    rows = fig.rows()
    with transaction.atomic():
        Figure.objects.filter(Q(day=day) | Q(day__lt=day - timedelta(days=KEEP_DAYS))).delete()
        Figure.objects.bulk_create(rows, batch_size=BATCH)
        CustomerScore.objects.all().delete()
        CustomerScore.objects.bulk_create(scores, batch_size=BATCH)
        built.seconds = round(time.monotonic() - started, 3)
        Rollup.objects.update_or_create(
            day=day,
            defaults={"started_at": real_now, "finished_at": timezone.now(), "customers": built.customers,
                      "seconds": built.seconds},
        )  # fmt: skip
    _analyze()
    lap("write")
    built.figures, built.scores = len(rows), len(scores)
    built.seconds = round(time.monotonic() - started, 3)
    return built


def _analyze() -> None:
    """Fresh statistics for the tables just replaced. Every row of the day is new: until the next
    ANALYZE the planner guesses a handful for `day = today` and probes a million scores one by one
    (a limited manager's dashboard: 1.5 s a read at a million customers instead of a hash join).
    Autovacuum would get there in its own time, or never where an operator turned it off."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cur:
            cur.execute("ANALYZE insights_customerscore, insights_figure")


def _customers() -> dict[int, tuple[int, int, int]]:
    """Active customers with an owner: id → (owner, unit, completeness)."""
    qs = Customer.objects.filter(status=Customer.Status.ACTIVE, owner__isnull=False).order_by()
    return {
        cid: (owner, unit, comp)
        for cid, owner, unit, comp in qs.values_list("pk", "owner_id", "unit_id", "completeness").iterator(
            chunk_size=BATCH
        )
    }


def _message_facts(now: datetime, customers) -> dict[int, dict]:
    """Per customer: their own messages recently and before, their last one, and per employee the
    messages both ways recently and before (the pair's baseline)."""
    start, split = now - timedelta(days=HISTORY_DAYS), now - timedelta(days=RECENT_DAYS)
    window = Q(occurred_at__gte=start, occurred_at__lt=now, kind__in=MESSAGES, customer_id__isnull=False)
    from_customer = Q(sender_role="customer")
    rows = (
        Message.objects.filter(window)
        .order_by()
        .values("customer_id", "employee_id")
        .annotate(
            recent=Count("pk", filter=Q(occurred_at__gte=split)),
            base=Count("pk", filter=Q(occurred_at__lt=split)),
            c_recent=Count("pk", filter=from_customer & Q(occurred_at__gte=split)),
            c_base=Count("pk", filter=from_customer & Q(occurred_at__lt=split)),
            c_last=Max("occurred_at", filter=from_customer),
        )
    )
    out: dict[int, dict] = {}
    for r in rows.iterator(chunk_size=BATCH):
        cid = r["customer_id"]
        if cid not in customers:
            continue
        f = out.setdefault(cid, {"recent": 0, "base": 0, "last": None, "pairs": {}})
        f["recent"] += r["c_recent"]
        f["base"] += r["c_base"]
        if r["c_last"] is not None and (f["last"] is None or r["c_last"] > f["last"]):
            f["last"] = r["c_last"]
        f["pairs"][r["employee_id"]] = (r["recent"], r["base"])
    return out


def _purchase_facts(now: datetime) -> dict[int, dict]:
    today = timezone.localtime(now - timedelta(microseconds=1)).date()
    start = today - timedelta(days=HISTORY_DAYS - 1)
    split = today - timedelta(days=RECENT_DAYS - 1)
    revenue_from = today - timedelta(days=REVENUE_DAYS - 1)
    rows = (
        Purchase.objects.filter(purchased_on__gte=start, purchased_on__lte=today)
        .order_by()
        .values("customer_id")
        .annotate(
            recent=Count("pk", filter=Q(purchased_on__gte=split)),
            base=Count("pk", filter=Q(purchased_on__lt=split)),
            last=Max("purchased_on"),
            revenue=Sum("amount", filter=Q(purchased_on__gte=revenue_from)),
        )
    )
    out = {}
    for r in rows.iterator(chunk_size=BATCH):
        last = timezone.make_aware(datetime.combine(r["last"], datetime.min.time())) if r["last"] else None
        out[r["customer_id"]] = {
            "recent": r["recent"], "base": r["base"], "last": last, "revenue": int((r["revenue"] or 0) * 100),
        }  # fmt: skip
    return out


@dataclass
class _Walk:
    responses: dict = field(default_factory=lambda: defaultdict(list))  # employee → minutes
    unanswered: set = field(default_factory=set)  # (employee, customer)


def _walk_recent_messages(now: datetime) -> _Walk:
    """Read the last 30 days of chat in conversation order once: how long each customer waited
    for staff, and whose chats end with the customer unanswered for over a day."""
    walk = _Walk()
    qs = (
        Message.objects.filter(
            occurred_at__gte=now - timedelta(days=RECENT_DAYS), occurred_at__lt=now, kind__in=MESSAGES
        )
        .exclude(conversation_id=None)
        .order_by("conversation_id", "occurred_at", "entry_seq")
        .values_list("conversation_id", "occurred_at", "sender_role", "employee_id", "customer_id")
    )
    current, waiting, last = None, None, None

    def close():
        if waiting is not None and last[4] is not None and waiting <= now - UNANSWERED_AFTER:
            walk.unanswered.add((last[3], last[4]))

    for row in qs.iterator(chunk_size=BATCH):
        conv, at, role, employee_id, _cid = row
        if conv != current:
            if current is not None:
                close()
            current, waiting = conv, None
        if role == "customer":
            if waiting is None:
                waiting = at
        elif waiting is not None:
            walk.responses[employee_id].append((at - waiting).total_seconds() / 60)
            waiting = None
        last = row
    if current is not None:
        close()
    return walk


def _solo(customers) -> set[int]:
    """Customers whose only relationship is their owner: nobody else chats with them, follows
    them on WeCom, shares a WeCom group chat with them (_group_staff), or holds a responsibility
    for them (care's service desk, a manager)."""
    others: dict[int, set[int]] = defaultdict(set)
    for cid, emp in (
        Conversation.objects.filter(customer_id__isnull=False, messages__gt=0).order_by().values_list("customer_id", "employee_id").distinct()
    ):  # fmt: skip
        others[cid].add(emp)
    member = dict(MemberLink.objects.filter(employee__isnull=False).values_list("userid", "employee_id"))
    for cid, userid in FollowRelation.objects.filter(
        customer_id__isnull=False, deleted_at__isnull=True
    ).values_list("customer_id", "userid"):
        if userid in member:
            others[cid].add(member[userid])
    for cid, staff in _group_staff().items():
        others[cid] |= staff
    candidates = [cid for cid, (owner, _u, _c) in customers.items() if not (others.get(cid, set()) - {owner})]
    held = people_by_customer(candidates) if candidates else {}
    return {cid for cid in candidates if not (held.get(cid, set()) - {customers[cid][0]})}


OBSERVER = 0  # a company observer in a customer's group whom no employee record matches


def _group_staff() -> dict[int, set[int]]:
    """Customers in a live WeCom group chat with staff: customer → the staff in it. A colleague the
    owner brought into the customer's group, or the company's observer account, is a second person
    who knows them; a group dismissed since (a `group.dismissed` entry) no longer counts."""
    dismissed = {_payload(p).get("group") for p in Entry.objects.filter(kind="group.dismissed").values_list("payload", flat=True)}  # fmt: skip
    groups = {
        pk: (members, observed)
        for pk, key, members, observed in Group.objects.values_list("pk", "group_key", "members", "has_company_observer")
        if key not in dismissed and members
    }  # fmt: skip
    if not groups:
        return {}
    # Staff who hold a conversation of the group (each device reports its own) are in it too.
    in_group: dict[int, set[int]] = defaultdict(set)
    for group_id, employee_id in (
        Conversation.objects.filter(group_id__isnull=False).order_by().values_list("group_id", "employee_id").distinct()
    ):  # fmt: skip
        in_group[group_id].add(employee_id)
    contacts, staff_keys = set(), set()
    for members, _observed in groups.values():
        for m in members:
            if isinstance(m, dict):
                if m.get("contact"):
                    contacts.add(str(m["contact"]))
                if m.get("employee") not in (None, ""):
                    staff_keys.add(str(m["employee"]))
    customer_of: dict[str, int] = {}
    ordered = sorted(contacts)
    for i in range(0, len(ordered), BATCH):
        customer_of.update(
            ExternalContact.objects.filter(external_id__in=ordered[i : i + BATCH], customer_id__isnull=False).values_list(
                "external_id", "customer_id"
            )
        )  # fmt: skip
    employee_of = _employee_keys(staff_keys)
    out: dict[int, set[int]] = defaultdict(set)
    for pk, (members, observed) in groups.items():
        staff = set(in_group.get(pk, ()))
        staff |= {
            employee_of[str(m["employee"])]
            for m in members
            if isinstance(m, dict) and str(m.get("employee")) in employee_of
        }
        if observed:
            staff.add(OBSERVER)
        if not staff:
            continue
        for m in members:
            cid = customer_of.get(str(m.get("contact"))) if isinstance(m, dict) and m.get("contact") else None
            if cid is not None:
                out[cid] |= staff
    return out


def _employee_keys(keys: set[str]) -> dict[str, int]:
    """A group member's employee key → employee id. Sources name staff by employee number (WeCom,
    once the member is linked), WeCom userid (not yet linked), username (devices) or id."""
    keys_list = sorted(keys)
    found: dict[str, int] = {}
    found.update((str(pk), pk) for pk in Employee.objects.filter(pk__in=[int(k) for k in keys_list if k.isdigit()]).values_list("pk", flat=True))  # fmt: skip
    found.update(Employee.objects.filter(user__username__in=keys_list).values_list("user__username", "pk"))
    found.update(MemberLink.objects.filter(userid__in=keys_list, employee__isnull=False).values_list("userid", "employee_id"))  # fmt: skip
    found.update(Employee.objects.filter(employee_no__in=keys_list).values_list("employee_no", "pk"))
    return found


def _payload(raw) -> dict:
    try:
        value = json.loads(raw) if raw else {}
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _conversations(fig: _Figures, now: datetime, employees) -> None:
    rows = (
        Conversation.objects.filter(
            last_at__gte=now - timedelta(days=RECENT_DAYS), last_at__lt=now, customer_id__isnull=False
        )
        .order_by()
        .values("employee_id")
        .annotate(n=Count("pk"))
    )
    for r in rows:
        emp = r["employee_id"]
        fig.add("conversations", employees.get(emp, {}).get("unit_id"), emp, value=r["n"])


def _staff(fig: _Figures, now: datetime, day: date, walk: _Walk, employees, customers) -> None:
    def unit(emp):
        return employees.get(emp, {}).get("unit_id")

    for emp, minutes in walk.responses.items():
        fig.set("response_median_min", unit(emp), emp, value=round(statistics.median(minutes), 1))
        fig.set("response_p90_min", unit(emp), emp, value=round(percentile(minutes, 0.9), 1))
        fig.set("responses", unit(emp), emp, value=len(minutes))
    for emp, _cid in walk.unanswered:
        fig.add("unanswered", unit(emp), emp)
    # Follow-ups due in the last 30 days, and done: a later follow-up by the due date.
    due_from = day - timedelta(days=RECENT_DAYS - 1)
    due = list(
        FollowUp.objects.filter(next_follow_up_on__gte=due_from, next_follow_up_on__lte=day).values_list(
            "pk", "customer_id", "author_id", "occurred_at", "next_follow_up_on"
        )
    )
    later: dict[int, list[datetime]] = defaultdict(list)
    if due:
        first = min(d[3] for d in due)
        for cid, at in FollowUp.objects.filter(occurred_at__gt=first, occurred_at__lt=now).values_list(
            "customer_id", "occurred_at"
        ):
            later[cid].append(at)
    for _pk, cid, author, at, due_on in due:
        fig.add("followups_due", unit(author), author)
        limit = end_of(due_on)
        if any(at < x < limit for x in later.get(cid, ())):
            fig.add("followups_done", unit(author), author)
    completeness: dict[int, list[int]] = defaultdict(list)
    for owner, _unit, comp in customers.values():
        completeness[owner].append(comp)
    for owner, values in completeness.items():
        fig.set("completeness", unit(owner), owner, value=round(sum(values) / len(values), 1))
    since = timezone.make_aware(
        datetime.combine(monday(day) - timedelta(weeks=WEEKS - 1), datetime.min.time())
    )
    alerts = (
        Alert.objects.filter(raised_at__gte=since, raised_at__lt=now)
        .annotate(week=TruncWeek("raised_at"))
        .order_by()
        .values("week", "unit_id", "employee_id", "category")
        .annotate(n=Count("pk"))
    )
    for r in alerts:
        week = _week_key(r["week"])
        fig.add("alerts", r["unit_id"], None, key=f"{week}|{r['category']}", value=r["n"])
        if r["employee_id"]:
            fig.add("alerts_person", r["unit_id"], r["employee_id"], key=week, value=r["n"])


def _trends(fig: _Figures, now: datetime, day: date, customers) -> None:
    since = timezone.make_aware(
        datetime.combine(monday(day) - timedelta(weeks=WEEKS - 1), datetime.min.time())
    )
    gained = (
        Customer.objects.filter(created_at__gte=since, created_at__lt=now, merged_into__isnull=True)
        .annotate(week=TruncWeek("created_at"))
        .order_by()
        .values("week", "unit_id")
        .annotate(n=Count("pk"))
    )
    for r in gained:
        fig.add("gained", r["unit_id"], key=_week_key(r["week"]), value=r["n"])
    unit_of = dict(Customer.objects.filter(pk__in=_lost_ids(since, now)).values_list("pk", "unit_id"))
    for cid, at in _lost(since, now):
        if cid in unit_of:
            fig.add("lost", unit_of[cid], key=_week_key(at))
    for r in (
        PoolMove.objects.filter(at__gte=since, at__lt=now)
        .annotate(week=TruncWeek("at"))
        .order_by()
        .values("week", "kind", "customer__unit_id")
        .annotate(n=Count("pk"))
    ):
        metric = "pool_recycled" if r["kind"] == PoolMove.Kind.RECYCLED else "pool_claimed"
        fig.add(metric, r["customer__unit_id"], key=_week_key(r["week"]), value=r["n"])
    for r in (
        Customer.objects.filter(status=Customer.Status.IN_POOL)
        .order_by()
        .values("unit_id")
        .annotate(n=Count("pk"))
    ):
        fig.set("pool_size", r["unit_id"], value=r["n"])
    _handover(fig, now)


def _lost_entries(since, now):
    return Entry.objects.filter(
        kind__in=("customer.archived", "contact.deleted_by_customer"), customer_id__isnull=False,
        occurred_at__gte=since, occurred_at__lt=now,
    )  # fmt: skip


def _lost_ids(since, now) -> set[int]:
    return set(_lost_entries(since, now).values_list("customer_id", flat=True))


def _lost(since, now) -> list[tuple[int, datetime]]:
    """Customers lost in the window, each once, at the first time: archived or they deleted the staff member."""
    first: dict[int, datetime] = {}
    for cid, at in _lost_entries(since, now).values_list("customer_id", "occurred_at"):
        if cid not in first or at < first[cid]:
            first[cid] = at
    return sorted(first.items())


def _handover(fig: _Figures, now: datetime) -> None:
    """Customers handed over by a departure in the last year, and whether they are still with the
    company and have bought or written since, 30 and 90 days on (counted once that time has passed)."""
    moves = list(
        PlanMove.objects.filter(
            plan__kind=Plan.Kind.HANDOVER, plan__status=Plan.Status.COMMITTED, to_employee__isnull=False,
            plan__committed_at__gte=now - timedelta(days=365), plan__committed_at__lt=now,
        ).values_list("customer_id", "plan__committed_at", "customer__unit_id", "customer__status")
    )  # fmt: skip
    if not moves:
        return
    ids = [m[0] for m in moves]
    spoke: dict[int, list[datetime]] = defaultdict(list)
    for cid, at in Message.objects.filter(
        customer_id__in=ids, sender_role="customer", occurred_at__lt=now
    ).values_list("customer_id", "occurred_at"):
        spoke[cid].append(at)
    for cid, on in Purchase.objects.filter(customer_id__in=ids).values_list("customer_id", "purchased_on"):
        spoke[cid].append(timezone.make_aware(datetime.combine(on, datetime.min.time())))
    for cid, at, unit_id, status in moves:
        fig.add("handover_moved", unit_id)
        for days in (30, 90):
            if at + timedelta(days=days) > now:
                continue
            fig.add(f"handover_due_{days}", unit_id)
            still = status == Customer.Status.ACTIVE
            if still and any(at < x <= at + timedelta(days=days) for x in spoke.get(cid, ())):
                fig.add(f"handover_kept_{days}", unit_id)
