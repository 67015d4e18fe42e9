"""Every write of the public pool, each in one transaction with its ledger entries.

Customers change hands only through customers.services (change_owner for a claim or an
allocation, recycle_many for the recycle job): the pool decides who may and when, the
customers app moves them and writes `customer.owner_changed`.
"""

import math
from calendar import monthrange
from datetime import date, datetime, time, timedelta

from django.db import transaction
from django.db.models import Count
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access import policy
from custos.access.scope import scope_of
from custos.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from custos.customers import services as customer_services
from custos.customers.models import Customer
from custos.customers.rules import OWNER_ROLES
from custos.handover import allocation as alloc
from custos.ledger.models import Entry
from custos.ledger.services import Event, append_batch
from custos.org.models import Employee, Role, Unit
from custos.pool import selectors
from custos.pool.models import (
    Allocation,
    Leave,
    Pool,
    PoolMember,
    PoolMove,
    Protection,
    RecycleNotice,
    RecycleRule,
    Shift,
)

SOURCE = "console"
MAX_ALLOCATION = 2000  # customers in one draw: a preview a person can still read


def _record(
    kind: str, actor: Employee | None, payload: dict, *, unit_id=None, customer_id=None, source=SOURCE
) -> None:
    append_batch(
        [
            Event(
                kind=kind,
                payload=payload,
                actor_id=actor.pk if actor else None,
                unit_id=unit_id,
                customer_id=customer_id,
                source=source,
            )
        ]
    )


def _require_pool_manager(actor: Employee, unit: Unit) -> None:
    """Pool settings are for managers of the pool's unit or above (and admins, executives)."""
    policy.require_writer(actor)
    if actor.role not in (Role.MANAGER, Role.EXECUTIVE, Role.ADMIN):
        raise Forbidden(_("Only managers may change a pool."))
    if not scope_of(actor).covers_unit(unit):
        raise NotFound(_("Pool not found."))


def _text(value: str, what: str, *, required: bool = True, limit: int = 200) -> str:
    value = " ".join((value or "").split())
    if required and not value:
        raise InvalidInput(_("Give %(what)s.") % {"what": what})
    return value[:limit]


def _whole(value, what: str, *, low: int = 0, high: int = 100000, allow_none: bool = False):
    if value is None or value == "":
        if allow_none:
            return None
        raise InvalidInput(_("Give %(what)s.") % {"what": what})
    try:
        number = int(value)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(_("%(what)s must be a whole number.") % {"what": what}) from exc
    if not low <= number <= high:
        raise InvalidInput(
            _("%(what)s must be between %(low)s and %(high)s.") % {"what": what, "low": low, "high": high}
        )
    return number


# --- pools, members, rules -----------------------------------------------------------------

POOL_FIELDS = ("name", "visibility", "claims_per_day", "max_held", "cooldown_days", "reason_required")


def _pool_values(data: dict) -> dict:
    out = {}
    if "name" in data:
        out["name"] = _text(data["name"], _("a name"), limit=60)
    if "visibility" in data:
        if data["visibility"] not in Pool.Visibility.values:
            raise InvalidInput(_("Visibility is “unit” or “members”."))
        out["visibility"] = data["visibility"]
    if "claims_per_day" in data:
        out["claims_per_day"] = _whole(data["claims_per_day"], _("Claims per day"), high=1000)
    if "max_held" in data:
        out["max_held"] = _whole(data["max_held"], _("Customers held"), high=100000)
    if "cooldown_days" in data:
        out["cooldown_days"] = _whole(data["cooldown_days"], _("Cooldown days"), high=365)
    if "reason_required" in data:
        out["reason_required"] = bool(data["reason_required"])
    return out


@transaction.atomic
def create_pool(*, actor: Employee | None, unit: Unit, name: str = "", **data) -> Pool:
    if actor is not None:
        _require_pool_manager(actor, unit)
    if Pool.objects.filter(unit=unit).exists():
        raise Conflict(_("%(unit)s already has a pool.") % {"unit": unit.name}, code="pool_exists")
    values = _pool_values({"name": name or _("%(unit)s pool") % {"unit": unit.name}, **data})
    pool = Pool.objects.create(unit=unit, created_by=actor, **values)
    _record(
        "pool.created",
        actor,
        {"pool": pool.pk, "unit": unit.pk, **{k: getattr(pool, k) for k in POOL_FIELDS}},
        unit_id=unit.pk,
    )
    return pool


@transaction.atomic
def update_pool(*, actor: Employee, pool: Pool, **data) -> Pool:
    _require_pool_manager(actor, pool.unit)
    values = _pool_values(data)
    changed = {k: {"from": getattr(pool, k), "to": v} for k, v in values.items() if getattr(pool, k) != v}
    if not changed:
        return pool
    for k, v in values.items():
        setattr(pool, k, v)
    pool.save()
    _record("pool.updated", actor, {"pool": pool.pk, "changed": changed}, unit_id=pool.unit_id)
    return pool


@transaction.atomic
def set_member(
    *,
    actor: Employee | None,
    pool: Pool,
    employee: Employee,
    can_claim: bool = True,
    can_receive: bool = True,
    weight=1.0,
    daily_cap=None,
    friends_cap=None,
    monthly_quota=None,
) -> PoolMember:
    if actor is not None:
        _require_pool_manager(actor, pool.unit)
        if not scope_of(actor).covers_unit(employee.unit):
            raise NotFound(_("Employee not found."))
    if employee.role not in OWNER_ROLES:
        raise InvalidInput(_("%(name)s cannot own customers.") % {"name": employee.name})
    try:
        weight = float(weight)
    except (TypeError, ValueError) as exc:
        raise InvalidInput(_("A weight is a number from 0 to 1000.")) from exc
    if not 0 <= weight <= 1000:
        raise InvalidInput(_("A weight is a number from 0 to 1000."))
    values = {
        "can_claim": bool(can_claim),
        "can_receive": bool(can_receive),
        "weight": weight,
        "daily_cap": _whole(daily_cap, _("Daily cap"), high=10000, allow_none=True),
        "friends_cap": _whole(friends_cap, _("Friends per day"), high=10000, allow_none=True),
        "monthly_quota": _whole(monthly_quota, _("Monthly quota"), high=100000, allow_none=True),
    }
    member, _created = PoolMember.objects.update_or_create(pool=pool, employee=employee, defaults=values)
    _record(
        "pool.member_set", actor, {"pool": pool.pk, "employee": employee.pk, **values}, unit_id=pool.unit_id
    )
    return member


@transaction.atomic
def remove_member(*, actor: Employee, member: PoolMember) -> None:
    _require_pool_manager(actor, member.pool.unit)
    payload = {"pool": member.pool_id, "employee": member.employee_id}
    member.delete()
    _record("pool.member_removed", actor, payload, unit_id=member.pool.unit_id)


@transaction.atomic
def add_rule(
    *, actor: Employee | None, pool: Pool, kind: str, days=30, grade: str = "", remind_days=3
) -> RecycleRule:
    if actor is not None:
        _require_pool_manager(actor, pool.unit)
    if kind not in RecycleRule.Kind.values:
        raise InvalidInput(_("Unknown rule: %(kind)s") % {"kind": kind})
    grade = (grade or "").strip().upper()
    if grade and grade not in customer_services.grades():
        raise InvalidInput(_("Unknown grade: %(grade)s") % {"grade": grade})
    days = 0 if kind == RecycleRule.Kind.OWNER_GONE else _whole(days, _("Days"), low=1, high=3650)
    remind = 0 if kind == RecycleRule.Kind.OWNER_GONE else _whole(remind_days, _("Reminder days"), high=365)
    if remind >= max(days, 1) and remind:
        raise InvalidInput(_("The reminder must come before the move: fewer reminder days than days."))
    rule = RecycleRule.objects.create(
        pool=pool, kind=kind, days=days, grade=grade, remind_days=remind, created_by=actor
    )
    _record(
        "pool.rule_set",
        actor,
        {
            "pool": pool.pk,
            "rule": rule.pk,
            "kind": kind,
            "grade": grade,
            "days": days,
            "remind_days": remind,
            "enabled": True,
        },
        unit_id=pool.unit_id,
    )
    return rule


@transaction.atomic
def remove_rule(*, actor: Employee, rule: RecycleRule) -> None:
    _require_pool_manager(actor, rule.pool.unit)
    rule = RecycleRule.objects.select_for_update().get(pk=rule.pk)
    if rule.removed_at is not None:
        raise NotFound(_("Rule not found."))
    payload = {
        "pool": rule.pool_id,
        "rule": rule.pk,
        "kind": rule.kind,
        "grade": rule.grade,
        "days": rule.days,
    }
    used = PoolMove.objects.filter(rule=rule).exists() or RecycleNotice.objects.filter(rule=rule).exists()
    if used:
        rule.enabled = False
        rule.removed_at = timezone.now()
        rule.save(update_fields=["enabled", "removed_at"])
    else:
        rule.delete()
    _record("pool.rule_removed", actor, {**payload, "kept_for_history": used}, unit_id=rule.pool.unit_id)


@transaction.atomic
def set_rule_enabled(*, actor: Employee, rule: RecycleRule, enabled: bool) -> RecycleRule:
    _require_pool_manager(actor, rule.pool.unit)
    if rule.removed_at is not None:
        raise NotFound(_("Rule not found."))
    if rule.enabled != enabled:
        rule.enabled = enabled
        rule.save(update_fields=["enabled"])
        _record(
            "pool.rule_set",
            actor,
            {
                "pool": rule.pool_id,
                "rule": rule.pk,
                "kind": rule.kind,
                "grade": rule.grade,
                "days": rule.days,
                "remind_days": rule.remind_days,
                "enabled": enabled,
            },
            unit_id=rule.pool.unit_id,
        )
    return rule


@transaction.atomic
def protect(*, actor: Employee | None, customer: Customer, reason: str) -> Protection:
    """Mark a key account: the recycle rules never take it back."""
    if actor is not None:
        customer_services.rules.require_manager(actor, customer)
    reason = _text(reason, _("a reason"))
    found = Protection.objects.filter(customer=customer).first()
    if found:
        return found
    p = Protection.objects.create(customer=customer, reason=reason, created_by=actor)
    _record("pool.protected", actor, {"reason": reason}, unit_id=customer.unit_id, customer_id=customer.pk)
    return p


@transaction.atomic
def unprotect(*, actor: Employee, customer: Customer, reason: str) -> None:
    customer_services.rules.require_manager(actor, customer)
    reason = _text(reason, _("a reason"))
    if Protection.objects.filter(customer=customer).delete()[0]:
        _record(
            "pool.unprotected", actor, {"reason": reason}, unit_id=customer.unit_id, customer_id=customer.pk
        )


# --- shifts and leave ------------------------------------------------------------------------


def _time(value, what) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidInput(_("%(what)s is a time like 09:00.") % {"what": what}) from exc


def _day(value, what) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise InvalidInput(_("%(what)s is a date like 2026-12-01.") % {"what": what}) from exc


@transaction.atomic
def add_shift(*, actor: Employee | None, unit: Unit, weekday, starts, ends) -> Shift:
    if actor is not None:
        _require_pool_manager(actor, unit)
    weekday = _whole(weekday, _("Weekday"), low=0, high=6)
    starts, ends = _time(starts, _("Start")), _time(ends, _("End"))
    if ends <= starts:
        raise InvalidInput(_("A shift ends after it starts."))
    shift = Shift.objects.create(unit=unit, weekday=weekday, starts=starts, ends=ends)
    _record(
        "pool.shift_set",
        actor,
        {
            "shift": shift.pk,
            "unit": unit.pk,
            "weekday": weekday,
            "starts": starts.isoformat(),
            "ends": ends.isoformat(),
        },
        unit_id=unit.pk,
    )
    return shift


@transaction.atomic
def remove_shift(*, actor: Employee, shift: Shift) -> None:
    _require_pool_manager(actor, shift.unit)
    payload = {"shift": shift.pk, "unit": shift.unit_id, "weekday": shift.weekday, "removed": True}
    shift.delete()
    _record("pool.shift_set", actor, payload, unit_id=payload["unit"])


@transaction.atomic
def add_leave(*, actor: Employee | None, employee: Employee, starts, ends, reason: str = "") -> Leave:
    if actor is not None:
        _require_pool_manager(actor, employee.unit)
    starts, ends = _day(starts, _("Start")), _day(ends, _("End"))
    if ends < starts:
        raise InvalidInput(_("Leave ends on or after the day it starts."))
    leave = Leave.objects.create(
        employee=employee,
        starts=starts,
        ends=ends,
        reason=_text(reason, "", required=False),
        created_by=actor,
    )
    _record(
        "pool.leave_added",
        actor,
        {"leave": leave.pk, "employee": employee.pk, "starts": starts.isoformat(), "ends": ends.isoformat()},
        unit_id=employee.unit_id,
    )
    return leave


def on_shift(employees: list[Employee], at: datetime) -> dict[int, bool]:
    """Who is on shift at `at`: their unit's schedule (the nearest unit up the tree that has
    one; none anywhere: always on) and not on leave that day."""
    local = timezone.localtime(at)
    shifts: dict[str, list[Shift]] = {}
    for s in Shift.objects.select_related("unit"):
        shifts.setdefault(s.unit.path, []).append(s)
    away = set(
        Leave.objects.filter(
            employee__in=employees, starts__lte=local.date(), ends__gte=local.date()
        ).values_list("employee_id", flat=True)
    )
    out = {}
    for e in employees:
        parts = [p for p in e.unit.path.split("/") if p]
        schedule = None
        for i in range(len(parts), 0, -1):
            schedule = shifts.get("/" + "/".join(parts[:i]) + "/")
            if schedule:
                break
        working = schedule is None or any(
            s.weekday == local.weekday() and s.starts <= local.time() < s.ends for s in schedule
        )
        out[e.pk] = working and e.pk not in away
    return out


# --- claims --------------------------------------------------------------------------------


def _day_start(now: datetime) -> datetime:
    return timezone.make_aware(datetime.combine(timezone.localdate(now), time.min))


@transaction.atomic
def claim(*, actor: Employee, customer_id: int, reason: str = "", ledger_source: str = SOURCE) -> Customer:
    """领取: take a pool customer for oneself, within the pool's limits.

    Race-free: the claimer's own row is locked first (their per-day and held counts cannot be
    raced by themselves in two tabs), then the customer's; whoever gets the customer's lock
    second finds it owned and gets a 409 "already claimed".
    """
    policy.require_writer(actor)
    Employee.objects.select_for_update().filter(pk=actor.pk).first()
    customer = Customer.objects.select_for_update().filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("Customer not found."))
    pool = selectors.pool_of_unit(customer.unit_id)
    visible = customer.unit_id in selectors.claimable_unit_ids(actor)
    if customer.status != Customer.Status.IN_POOL:
        if (
            visible
            or customer.owner_id is not None
            and scope_of(actor)
            .filter(Customer.objects.filter(pk=customer.pk), owner="owner_id", unit_path="unit__path")
            .exists()
        ):
            raise Conflict(
                _("Already claimed: this customer is no longer in the pool."), code="already_claimed"
            )
        raise NotFound(_("Customer not found."))
    if not visible:
        if scope_of(actor).filter(Customer.objects.filter(pk=customer.pk), unit_path="unit__path").exists():
            raise Forbidden(_("You may not claim from this pool."))
        raise NotFound(_("Customer not found."))
    reason = _text(reason, _("a reason"), required=bool(pool and pool.reason_required))
    now = timezone.now()
    per_day = pool.claims_per_day if pool else 10
    held_max = pool.max_held if pool else 300
    cooldown = pool.cooldown_days if pool else 30
    today = PoolMove.objects.filter(
        employee=actor, kind=PoolMove.Kind.CLAIMED, at__gte=_day_start(now)
    ).count()
    if today >= per_day:
        raise Conflict(
            _("You have claimed %(n)s customers today, the most this pool allows.") % {"n": today},
            code="daily_limit",
        )
    held = Customer.objects.filter(owner=actor, status=Customer.Status.ACTIVE).count()
    if held >= held_max:
        raise Conflict(
            _("You hold %(n)s customers, the most this pool allows.") % {"n": held}, code="holding_limit"
        )
    if (
        cooldown
        and PoolMove.objects.filter(
            customer=customer,
            kind=PoolMove.Kind.RECYCLED,
            employee=actor,
            at__gte=now - timedelta(days=cooldown),
        ).exists()
    ):
        raise Conflict(
            _(
                "This customer was taken back from you less than %(days)s days ago; someone else may claim them first."
            )
            % {"days": cooldown},
            code="cooldown",
        )
    customer_services.change_owner(
        actor=actor, customer=customer, kind=customer_services.CLAIM, reason=reason, ledger_source=ledger_source,
        pool_checked=True, extra={"pool": pool.pk if pool else None},
    )  # fmt: skip
    PoolMove.objects.create(
        customer=customer, pool=pool, kind=PoolMove.Kind.CLAIMED, employee=actor, reason=reason, at=now
    )
    return customer


@transaction.atomic
def put_back(*, actor: Employee, customer: Customer, reason: str) -> Customer:
    """回收 by hand (the owner or a manager), recorded for the pool's list and stats."""
    reason = _text(reason, _("a reason"))
    owner = customer.owner_id
    customer_services.change_owner(
        actor=actor, customer=customer, kind=customer_services.RECYCLE, reason=reason
    )
    pool = selectors.pool_of_unit(customer.unit_id)
    PoolMove.objects.create(
        customer=customer, pool=pool, kind=PoolMove.Kind.RECYCLED, employee_id=owner, reason=reason
    )
    return customer


# --- allocation ------------------------------------------------------------------------------


def _friends_today(ids: list[int], now: datetime) -> dict[int, int]:
    rows = (
        Entry.objects.filter(kind="contact.added", actor_id__in=ids, occurred_at__gte=_day_start(now))
        .values("actor_id")
        .annotate(n=Count("seq"))
    )
    return {r["actor_id"]: r["n"] for r in rows}


def _received(ids: list[int], since: datetime) -> dict[int, int]:
    rows = (
        PoolMove.objects.filter(kind=PoolMove.Kind.ASSIGNED, employee_id__in=ids, at__gte=since)
        .values("employee_id")
        .annotate(n=Count("id"))
    )
    return {r["employee_id"]: r["n"] for r in rows}


def receivers_for(
    pool: Pool, *, receiver_ids: list[int] | None, weights: dict | None, daily_cap: int | None, now: datetime
) -> list[dict]:
    """Who may receive from this pool now, and how many each: the members (or the chosen
    people), on shift, under their daily cap, their friends-per-day cap and their share of the
    monthly quota still to give (spread evenly over the days left in the month)."""
    members = {m.employee_id: m for m in pool.members.select_related("employee", "employee__unit")}
    if receiver_ids:
        people = list(Employee.objects.select_related("unit").filter(pk__in=receiver_ids))
        if len(people) != len(set(receiver_ids)):
            raise NotFound(_("Employee not found."))
        for p in people:
            if not p.unit.path.startswith(pool.unit.path) and p.pk not in members:
                raise InvalidInput(_("%(name)s works outside this pool's unit.") % {"name": p.name})
    else:
        people = [m.employee for m in members.values() if m.can_receive]
    if not people:
        raise InvalidInput(_("Choose who receives: this pool has no members who receive."))
    ids = [p.pk for p in people]
    shift = on_shift(people, now)
    today = _received(ids, _day_start(now))
    local = timezone.localdate(now)
    month_start = timezone.make_aware(datetime.combine(local.replace(day=1), time.min))
    month = _received(ids, month_start)
    friends = _friends_today(ids, now)
    days_left = monthrange(local.year, local.month)[1] - local.day + 1
    loads = dict(
        Customer.objects.filter(owner_id__in=ids, status=Customer.Status.ACTIVE)
        .values("owner_id")
        .annotate(n=Count("id"))
        .values_list("owner_id", "n")
    )
    out = []
    for p in people:
        m = members.get(p.pk)
        caps, why = [], []
        cap = daily_cap if daily_cap is not None else (m.daily_cap if m else None)
        if cap is not None:
            caps.append(cap - today.get(p.pk, 0))
        if m and m.friends_cap is not None:
            caps.append(m.friends_cap - friends.get(p.pk, 0))
        if m and m.monthly_quota is not None:
            left = m.monthly_quota - month.get(p.pk, 0)
            # Odoo's way: the month's quota spread over the days left, so it is not all used on day one.
            caps.append(min(left, math.ceil(max(left, 0) / days_left)))
        capacity = max(min(caps), 0) if caps else None
        eligible = p.may_sign_in and p.status == Employee.Status.ACTIVE and p.role in OWNER_ROLES
        if not eligible:
            why.append("inactive")
        if not shift[p.pk]:
            why.append("off_shift")
        weight = (weights or {}).get(str(p.pk), (weights or {}).get(p.pk, m.weight if m else 1.0))
        out.append(
            {
                "id": p.pk,
                "name": p.name,
                "load": loads.get(p.pk, 0),
                "capacity": capacity,
                "weight": float(weight),
                "eligible": eligible and shift[p.pk],
                "why_not": why,
                "received_today": today.get(p.pk, 0),
                "received_month": month.get(p.pk, 0),
            }
        )
    return out


def _draw(params: dict, seed: int | None) -> alloc.Allocation:
    candidates = [alloc.Candidate(c["id"], c["grade"], frozenset(c["exclude"])) for c in params["candidates"]]
    receivers = [
        alloc.Receiver(
            r["id"],
            load=r["load"],
            capacity=r["capacity"],
            weight=r["weight"],
            classes=frozenset(r.get("classes", [])),
            eligible=r["eligible"],
        )
        for r in params["receivers"]
    ]
    manual = {int(k): int(v) for k, v in (params.get("manual") or {}).items()}
    return alloc.allocate(
        params["strategy"],
        candidates,
        receivers,
        manual=manual,
        seed=seed,
        quota=params.get("quota"),
        rule=params.get("rule"),
    )


@transaction.atomic
def preview(
    *,
    actor: Employee,
    pool: Pool,
    strategy: str,
    customer_ids: list[int] | None = None,
    count: int | None = None,
    receiver_ids: list[int] | None = None,
    weights: dict | None = None,
    quota: int | None = None,
    manual: dict | None = None,
    seed: int | None = None,
    daily_cap: int | None = None,
    rule: dict | None = None,
    now: datetime | None = None,
) -> Allocation:
    """A draw out of the pool, not yet made: who would get which customer, and why not."""
    _require_pool_manager(actor, pool.unit)
    if strategy not in alloc.STRATEGIES:
        raise InvalidInput(_("Unknown strategy: %(s)s") % {"s": strategy})
    if strategy == alloc.QUOTA and not quota:
        raise InvalidInput(_("Say how many each receives."))
    now = now or timezone.now()
    in_pool = Customer.objects.filter(
        status=Customer.Status.IN_POOL, unit_id__in=selectors.units_of_pool(pool)
    ).order_by("pk")
    if customer_ids:
        chosen = list(in_pool.filter(pk__in=customer_ids).values_list("pk", "grade"))
        if len(chosen) != len(set(customer_ids)):
            raise Conflict(_("Some of these customers are not in this pool (any more)."), code="not_in_pool")
    else:
        count = _whole(count if count is not None else 50, _("How many"), low=1, high=MAX_ALLOCATION)
        chosen = list(in_pool.values_list("pk", "grade")[:count])
    if not chosen:
        raise InvalidInput(_("The pool is empty."))
    if len(chosen) > MAX_ALLOCATION:
        raise InvalidInput(_("At most %(n)s customers in one draw.") % {"n": MAX_ALLOCATION})
    # The previous owner within the cooldown does not get the customer straight back.
    cooldown_since = now - timedelta(days=pool.cooldown_days)
    recent = {}
    for cid, emp in PoolMove.objects.filter(
        customer_id__in=[c for c, _g in chosen], kind=PoolMove.Kind.RECYCLED, at__gte=cooldown_since
    ).values_list("customer_id", "employee_id"):
        recent.setdefault(cid, []).append(emp)
    receivers = receivers_for(pool, receiver_ids=receiver_ids, weights=weights, daily_cap=daily_cap, now=now)
    if rule:
        senior = set(
            Employee.objects.filter(
                pk__in=[r["id"] for r in receivers], role__in=[Role.MANAGER, Role.EXECUTIVE, Role.ADMIN]
            ).values_list("pk", flat=True)
        )
        for r in receivers:
            r["classes"] = ["senior"] if r["id"] in senior else []
    if seed is None and strategy == alloc.WEIGHTED:
        import secrets

        seed = secrets.randbits(48)
    params = {
        "strategy": strategy,
        "at": now.isoformat(),
        "candidates": [
            {"id": c, "grade": g, "exclude": [e for e in recent.get(c, []) if e]} for c, g in chosen
        ],
        "receivers": receivers,
        "quota": quota,
        "manual": {str(k): v for k, v in (manual or {}).items()},
        "rule": rule,
    }
    result = _draw(params, seed)
    allocation = Allocation.objects.create(
        pool=pool,
        strategy=strategy,
        seed=result.seed,
        params=params,
        assigned={str(k): v for k, v in result.assigned.items()},
        unassigned={str(k): v for k, v in result.unassigned.items()},
        created_by=actor,
    )
    return allocation


def replay(allocation: Allocation) -> alloc.Allocation:
    """The same draw again from what was recorded: equal to the preview, or something changed."""
    return _draw(allocation.params, allocation.seed)


@transaction.atomic
def commit(*, actor: Employee, allocation: Allocation) -> Allocation:
    """Make the previewed draw. All or nothing: a customer claimed meanwhile → 409, nobody moves."""
    _require_pool_manager(actor, allocation.pool.unit)
    allocation = Allocation.objects.select_for_update().get(pk=allocation.pk)
    if allocation.status != Allocation.Status.DRAFT:
        raise Conflict(_("This allocation was already made."), code="already_committed")
    moves = {int(k): int(v) for k, v in allocation.assigned.items()}
    if not moves:
        raise InvalidInput(_("Nobody would receive anything: change the draw."))
    customers = list(Customer.objects.select_for_update().filter(pk__in=list(moves)).order_by("pk"))
    stale = [c.pk for c in customers if c.status != Customer.Status.IN_POOL]
    if stale or len(customers) != len(moves):
        raise Conflict(
            _("%(n)s of these customers left the pool since the preview; preview again.")
            % {"n": len(stale) or len(moves) - len(customers)},
            code="stale_allocation",
        )
    people = {e.pk: e for e in Employee.objects.select_related("unit").filter(pk__in=set(moves.values()))}
    now = timezone.now()
    for c in customers:
        customer_services.change_owner(
            actor=actor, customer=c, kind=customer_services.ASSIGN, to=people[moves[c.pk]],
            reason=_("Pool allocation #%(n)s") % {"n": allocation.pk}, extra={"pool": allocation.pool_id, "allocation": allocation.pk},
        )  # fmt: skip
    PoolMove.objects.bulk_create(
        [
            PoolMove(
                customer_id=cid,
                pool=allocation.pool,
                kind=PoolMove.Kind.ASSIGNED,
                employee_id=to,
                reason=f"allocation {allocation.pk}",
                at=now,
            )
            for cid, to in moves.items()
        ]
    )
    allocation.status, allocation.committed_by, allocation.committed_at = (
        Allocation.Status.COMMITTED,
        actor,
        now,
    )
    allocation.save(update_fields=["status", "committed_by", "committed_at"])
    per = {}
    for to in moves.values():
        per[str(to)] = per.get(str(to), 0) + 1
    _record(
        "pool.allocation_committed",
        actor,
        {
            "allocation": allocation.pk,
            "pool": allocation.pool_id,
            "strategy": allocation.strategy,
            "seed": allocation.seed,
            "assigned": len(moves),
            "unassigned": len(allocation.unassigned),
            "per_receiver": per,
        },
        unit_id=allocation.pool.unit_id,
    )
    return allocation
