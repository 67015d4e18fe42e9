"""The recycle job (回收): customers nobody serves go back to their pool, by the pool's rules.

Per pool and customer grade, a rule says after how many days without a follow-up, a purchase or
a reply from the customer in the archive a customer goes back, or that customers of a departed
or frozen owner do. The owner is reminded `remind_days` before. Exempt, whatever the rules:

- a protected key account (pool.Protection);
- a customer in a running handover (the owner has an open departure case, or the customer is
  in a draft plan): the handover decides where they go;
- an open deal, for the inactivity rules. Custos has no deals table; as in the handover's
  checklist, a follow-up planned for today or later is the open commitment that stands for one.

A customer who changed hands within the rule's days (claimed, allocated, handed over) is not
judged on the previous owner's silence: the window starts at the move.

The job walks customers in id order in batches. Each batch is evaluated with a few set-based
queries and moved in one transaction together with the run's cursor, so a run stopped half way
continues from where it stopped, and a run repeated moves nothing twice (the move is
conditional on the customer still having the owner the rule saw).
"""

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.db import connection, connections, transaction
from django.db.models import BooleanField, Exists, ExpressionWrapper, OuterRef, Q, Value
from django.utils import timezone

from custos.archive.models import Message
from custos.customers import services as customer_services
from custos.customers.models import Customer, Purchase
from custos.handover.models import DepartureCase, Plan, PlanMove
from custos.ledger.services import Event, append_batch
from custos.org.models import Employee
from custos.pool import reminders
from custos.pool.models import Pool, PoolMove, Protection, RecycleNotice, RecycleRule, RecycleRun
from custos.pool.selectors import pools_by_unit

BATCH = 2000
# An unfinished run older than this is abandoned rather than resumed (see run()).
STALE_RUN = timedelta(hours=20)
# Rules are tried in this order: the first that matches is the reason recorded.
ORDER = [
    RecycleRule.Kind.OWNER_GONE,
    RecycleRule.Kind.NO_FOLLOW_UP,
    RecycleRule.Kind.NO_PURCHASE,
    RecycleRule.Kind.NO_REPLY,
]

REASONS = {
    RecycleRule.Kind.NO_FOLLOW_UP: "no follow-up for {days} days",
    RecycleRule.Kind.NO_PURCHASE: "no purchase for {days} days",
    RecycleRule.Kind.NO_REPLY: "no reply from the customer for {days} days",
    RecycleRule.Kind.OWNER_GONE: "owner departed or frozen",
}


def explain(kind: str, days: int, grade: str = "") -> str:
    """The reason in the viewer's language (the ledger keeps describe()'s English, a stable record)."""
    from django.utils.translation import gettext as _

    texts = {
        RecycleRule.Kind.NO_FOLLOW_UP: _("no follow-up for %(days)s days"),
        RecycleRule.Kind.NO_PURCHASE: _("no purchase for %(days)s days"),
        RecycleRule.Kind.NO_REPLY: _("no reply from the customer for %(days)s days"),
        RecycleRule.Kind.OWNER_GONE: _("owner departed or frozen"),
    }
    text = texts[kind] % {"days": days} if kind != RecycleRule.Kind.OWNER_GONE else texts[kind]
    return text + (_(" (grade %(grade)s)") % {"grade": grade} if grade else "")


def describe(rule: RecycleRule) -> str:
    grade = f" (grade {rule.grade})" if rule.grade else ""
    return REASONS[rule.kind].format(days=rule.days) + grade


@dataclass
class Found:
    customer_id: int
    name: str
    owner_id: int
    unit_id: int
    grade: str
    rule: RecycleRule
    pool: Pool
    due_on: date

    @property
    def why(self) -> str:
        return describe(self.rule)


@dataclass
class Report:
    run: int | None = None
    scanned: int = 0
    moved: list[dict] = field(default_factory=list)
    would_move: list[Found] = field(default_factory=list)
    reminded: int = 0
    batches: int = 0
    finished: bool = False


def _condition(rule: RecycleRule, now: datetime, days: int) -> Q:
    """Customers this rule would take back `days` days after their last sign of life, as of now."""
    if rule.kind == RecycleRule.Kind.OWNER_GONE:
        return Q(owner__status=Employee.Status.DEPARTED) | Q(owner__frozen_at__isnull=False)
    cutoff = now - timedelta(days=days)
    # Never judged on days before they had this owner: created, claimed, allocated or handed over since.
    fresh = (
        Q(created_at__gte=cutoff)
        | Q(
            Exists(
                PoolMove.objects.filter(
                    customer=OuterRef("pk"), kind__in=["claimed", "assigned"], at__gte=cutoff
                )
            )
        )
        | Q(
            Exists(
                PlanMove.objects.filter(
                    customer=OuterRef("pk"),
                    to_employee__isnull=False,
                    plan__status="committed",
                    plan__committed_at__gte=cutoff,
                )
            )
        )
    )
    # An open deal: a follow-up planned for today or later (no deals table; see the module text).
    open_deal = Q(next_follow_up_on__gte=timezone.localdate(now))
    if rule.kind == RecycleRule.Kind.NO_FOLLOW_UP:
        silent = Q(last_contact_at__lt=cutoff) | Q(last_contact_at__isnull=True)
    elif rule.kind == RecycleRule.Kind.NO_PURCHASE:
        silent = ~Q(
            Exists(
                Purchase.objects.filter(customer=OuterRef("pk"), purchased_on__gte=timezone.localdate(cutoff))
            )
        )
    else:
        silent = ~Q(
            Exists(
                Message.objects.filter(
                    customer_id=OuterRef("pk"), sender_role="customer", occurred_at__gte=cutoff
                )
            )
        )
    return silent & ~fresh & ~open_deal


def _exempt() -> Q:
    running = DepartureCase.objects.exclude(status=DepartureCase.Status.CLOSED).values("employee_id")
    drafted = PlanMove.objects.filter(plan__status=Plan.Status.DRAFT).values("customer_id")
    return (
        Q(Exists(Protection.objects.filter(customer=OuterRef("pk"))))
        | Q(owner_id__in=running)
        | Q(pk__in=drafted)
    )


class _Rules:
    """The enabled rules of every pool, with the units each pool holds."""

    def __init__(self, pool: Pool | None = None):
        mapping = pools_by_unit()
        self.units: dict[int, list[int]] = {}
        for unit_id, p in mapping.items():
            if p is not None and (pool is None or p.pk == pool.pk):
                self.units.setdefault(p.pk, []).append(unit_id)
        self.pools = {p.pk: p for p in mapping.values() if p is not None}
        rules = RecycleRule.objects.filter(enabled=True, pool_id__in=list(self.units)).select_related("pool")
        self.rules = sorted(rules, key=lambda r: (ORDER.index(r.kind), r.grade == "", r.days, r.pk))


def _evaluate(rules: _Rules, lo: int, hi: int, now: datetime) -> tuple[dict[int, Found], dict[int, Found]]:
    """Customers with lo < id <= hi that a rule takes back now, and those it takes back within
    its remind_days (to remind: not those moving now). One query per rule for both: the wider
    condition selects, the rule's own days say which are due (at a million customers two passes
    cost a quarter of the job). The first rule that takes a customer back is its reason."""
    due: dict[int, Found] = {}
    soon: dict[int, Found] = {}
    base = Customer.objects.filter(pk__gt=lo, pk__lte=hi, status=Customer.Status.ACTIVE, owner__isnull=False)
    exempt = _exempt()
    today = timezone.localdate(now)
    for rule in rules.rules:
        remind = 0 if rule.kind == RecycleRule.Kind.OWNER_GONE else rule.remind_days
        qs = base.filter(unit_id__in=rules.units[rule.pool_id])
        if rule.grade:
            qs = qs.filter(grade=rule.grade)
        qs = qs.filter(_condition(rule, now, max(rule.days - remind, 0))).exclude(exempt)
        is_due = (
            ExpressionWrapper(_condition(rule, now, rule.days), output_field=BooleanField())
            if remind
            else Value(True)
        )
        pool = rules.pools[rule.pool_id]
        rows = qs.annotate(is_due=is_due).values_list("pk", "name", "owner_id", "unit_id", "grade", "is_due")
        for pk, name, owner, unit, grade, now_due in rows:
            if pk in due:
                continue
            if now_due:
                due[pk] = Found(pk, name, owner, unit, grade, rule, pool, today)
            elif pk not in soon:
                soon[pk] = Found(pk, name, owner, unit, grade, rule, pool, today + timedelta(days=remind))
    return due, {k: f for k, f in soon.items() if k not in due}


def _ranges(start: int, batch: int) -> Iterator[tuple[int, int]]:
    """(lo, hi] id windows over live customers; each window holds at most `batch` ids."""
    lo = start
    while True:
        ids = list(
            Customer.objects.filter(pk__gt=lo).order_by("pk").values_list("pk", flat=True)[batch - 1 : batch]
        )
        if ids:
            yield lo, ids[0]
            lo = ids[0]
            continue
        top = Customer.objects.filter(pk__gt=lo).order_by("-pk").values_list("pk", flat=True).first()
        if top is not None:
            yield lo, top
        return


def dry_run(*, pool: Pool | None = None, now: datetime | None = None, batch: int = BATCH) -> Report:
    now = now or timezone.now()
    rules = _Rules(pool)
    report = Report()
    if not rules.rules:
        report.finished = True
        return report
    for lo, hi in _ranges(0, batch):
        report.batches += 1
        report.would_move.extend(_evaluate(rules, lo, hi, now)[0].values())
    report.finished = True
    return report


def _remind(soon: dict[int, Found], now: datetime) -> int:
    """Notices and `pool.recycle_reminded` entries for customers a rule takes back within its
    remind_days (not those it takes back now: they move in this same batch)."""
    if not soon:
        return 0
    # One reminder per customer, owner and rule while it is still ahead: the job runs nightly,
    # and an owner told once is not told again every night until the move.
    told = set(
        RecycleNotice.objects.filter(
            customer_id__in=list(soon), due_on__gte=timezone.localdate(now)
        ).values_list("customer_id", "owner_id", "rule_id")
    )
    soon = {k: f for k, f in soon.items() if (f.customer_id, f.owner_id, f.rule.pk) not in told}
    if not soon:
        return 0
    _insert_notices(soon.values(), now)
    events = [
        Event(
            kind="pool.recycle_reminded",
            payload={
                "pool": f.pool.pk,
                "rule": f.rule.pk,
                "rule_kind": f.rule.kind,
                "days": f.rule.days,
                "grade": f.rule.grade,
                "due_on": f.due_on.isoformat(),
                "owner": f.owner_id,
                "reason": f.why,
            },
            actor_id=None,
            unit_id=f.unit_id,
            customer_id=f.customer_id,
            source="pool",
            source_id=f"remind:{f.customer_id}:{f.owner_id}:{f.rule.pk}:{f.due_on.isoformat()}",
        )
        for f in soon.values()
    ]
    append_batch(events)
    return len(events)


def _insert_notices(found: Iterable[Found], now: datetime) -> None:
    """The notices of a batch as plain rows in one executemany (pipelined on PostgreSQL): model
    instances and bulk_create cost more than the insert itself. A notice already there (the same
    customer, owner, rule and day) stays as it was."""
    connection = connections["default"]
    ops, q = connection.ops, connection.ops.quote_name
    columns = ["customer_id", "owner_id", "rule_id", "due_on", "created_at"]
    at = ops.adapt_datetimefield_value(now)
    rows = [(f.customer_id, f.owner_id, f.rule.pk, ops.adapt_datefield_value(f.due_on), at) for f in found]
    names = ", ".join(q(c) for c in columns)
    marks = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {q(RecycleNotice._meta.db_table)} ({names}) VALUES ({marks}) "  # noqa: S608 - names from the model
            "ON CONFLICT DO NOTHING",
            rows,
        )


def _history(moved: list[dict], now: datetime) -> None:
    """The pool's history rows of a batch's moves. Plain tuples, COPY on PostgreSQL: at a
    million moves, building a model instance per row cost more than the insert itself."""
    if not moved:
        return
    connection = connections["default"]
    columns = ["customer_id", "pool_id", "kind", "employee_id", "rule_id", "reason", "at"]
    at = connection.ops.adapt_datetimefield_value(now)
    kind = PoolMove.Kind.RECYCLED.value
    rows = [
        (m["customer"], m["extra"]["pool"], kind, m["from"], m["extra"]["rule"], m["reason"], at)
        for m in moved
    ]
    q = connection.ops.quote_name
    table = q(PoolMove._meta.db_table)
    names = ", ".join(q(c) for c in columns)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy,
            ):
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns))
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608 - names from the model


def _commit_without_waiting() -> None:
    """A batch's commit does not wait for its WAL to reach the disk (PostgreSQL; 100 batches of a
    million customers waited 7.6 s). A crash in that moment loses the whole batch, its cursor
    with it, and the resumed run does it again; whatever commits later and durably (a signed
    head) flushes the WAL before it, so nothing durable can name a lost entry."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit = off")


def run(
    *,
    batch: int = BATCH,
    now: datetime | None = None,
    actor: Employee | None = None,
    limit_batches: int | None = None,
) -> Report:
    """Remind and recycle, batch by batch. An unfinished run is resumed rather than a new one started.

    limit_batches stops after that many batches (a test's "crash"; an operator's trial run).
    """
    now = now or timezone.now()
    rules = _Rules()
    current = RecycleRun.objects.filter(finished_at__isnull=True).order_by("pk").first()
    if current is not None and current.started_at < now - STALE_RUN:
        # Resuming yesterday's broken run would leave the customers it had done unjudged
        # tonight: close it (its moves stand) and start over from the first customer.
        current.finished_at = now
        current.save(update_fields=["finished_at"])
        current = None
    if current is None:
        current = RecycleRun.objects.create(batch_size=batch, actor=actor, started_at=now)
    report = Report(run=current.pk)
    if rules.rules:
        for lo, hi in _ranges(current.cursor, current.batch_size):
            if limit_batches is not None and report.batches >= limit_batches:
                return report
            with transaction.atomic():
                _commit_without_waiting()
                # The run row is locked for the batch: two workers cannot run the same window.
                locked = RecycleRun.objects.select_for_update().get(pk=current.pk)
                if locked.cursor >= hi or locked.finished_at:
                    current = locked
                    continue
                found, soon = _evaluate(rules, lo, hi, now)
                reminded = _remind(soon, now)
                moved = customer_services.recycle_many(
                    [
                        customer_services.Recycle(
                            f.customer_id,
                            f.owner_id,
                            f.why,
                            {
                                "pool": f.pool.pk,
                                "rule": f.rule.pk,
                                "rule_kind": f.rule.kind,
                                "days": f.rule.days,
                                "grade": f.rule.grade,
                            },
                        )
                        for f in found.values()
                    ],
                    day=timezone.localdate(now),
                )
                _history(moved, now)
                locked.cursor = hi
                locked.moved += len(moved)
                locked.reminded += reminded
                locked.save(update_fields=["cursor", "moved", "reminded"])
                current = locked
            report.batches += 1
            report.moved.extend(moved)
            report.reminded += reminded
    with transaction.atomic():
        current.finished_at = timezone.now()
        current.save(update_fields=["finished_at"])
        append_batch(
            [
                Event(
                    kind="pool.recycle_finished",
                    payload={
                        "run": current.pk,
                        "moved": current.moved,
                        "reminded": current.reminded,
                        "cursor": current.cursor,
                    },
                    actor_id=actor.pk if actor else None,
                    source="pool",
                    source_id=f"run:{current.pk}:finished",
                )
            ]
        )
        reminders.after_run(current, now)
    report.finished = True
    return report
