"""Reads of the pool, each given the viewer and scoped (custos.access.scope).

Which pool holds a customer follows their unit: the nearest unit up the tree with a pool.
Who may claim from a pool: everyone working in its unit or below (visibility "unit"), or only
its members ("members"); managers above also see it through their scope, read-only unless
they may claim there too.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, F, Max, OuterRef, Q, QuerySet, Subquery
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access.scope import scope_of
from custos.core.errors import NotFound
from custos.customers.models import Customer, Purchase
from custos.org.models import Employee, Unit
from custos.pool.models import (
    Allocation,
    Leave,
    Pool,
    PoolMember,
    PoolMove,
    RecycleNotice,
    RecycleRule,
    Shift,
)


def pools_by_unit() -> dict[int, Pool | None]:
    """Every unit's pool: its own, else the nearest one up the tree, else None. Units are few
    (hundreds), so this is one pass in Python rather than a recursive query per customer."""
    pools = {p.unit.path: p for p in Pool.objects.select_related("unit")}
    out: dict[int, Pool | None] = {}
    for unit_id, path in Unit.objects.values_list("pk", "path"):
        found = None
        parts = [p for p in path.split("/") if p]
        for i in range(len(parts), 0, -1):
            found = pools.get("/" + "/".join(parts[:i]) + "/")
            if found:
                break
        out[unit_id] = found
    return out


def pool_of_unit(unit_id: int) -> Pool | None:
    return pools_by_unit().get(unit_id)


def units_of_pool(pool: Pool, mapping: dict[int, Pool | None] | None = None) -> list[int]:
    mapping = pools_by_unit() if mapping is None else mapping
    return [u for u, p in mapping.items() if p is not None and p.pk == pool.pk]


def may_claim_from(viewer: Employee, pool: Pool | None, unit: Unit) -> bool:
    """May the viewer claim a pool customer of `unit`, held by `pool`?"""
    if not viewer.may_sign_in or viewer.role == "auditor":
        return False
    if pool is None:
        # No pool configured up the tree: the customers app's rule, the own unit's pool customers.
        return unit.path.startswith(viewer.unit.path)
    member = PoolMember.objects.filter(pool=pool, employee=viewer).first()
    if member is not None:
        return member.can_claim
    if pool.visibility == Pool.Visibility.MEMBERS:
        return False
    return viewer.unit.path.startswith(pool.unit.path) or unit.path.startswith(viewer.unit.path)


def claimable_unit_ids(viewer: Employee) -> set[int]:
    mapping = pools_by_unit()
    units = {u.pk: u for u in Unit.objects.all()}
    members = {m.pool_id: m.can_claim for m in PoolMember.objects.filter(employee=viewer)}
    if not viewer.may_sign_in or viewer.role == "auditor":
        return set()
    out = set()
    for unit_id, pool in mapping.items():
        unit = units[unit_id]
        if pool is None:
            ok = unit.path.startswith(viewer.unit.path)
        elif pool.pk in members:
            ok = members[pool.pk]
        elif pool.visibility == Pool.Visibility.MEMBERS:
            ok = False
        else:
            ok = viewer.unit.path.startswith(pool.unit.path) or unit.path.startswith(viewer.unit.path)
        if ok:
            out.add(unit_id)
    return out


def pool_customers(
    viewer: Employee, *, pool: Pool | None = None, grade: str | None = None
) -> QuerySet[Customer]:
    """Customers in the pool the viewer may see: those they may claim, and their scope's.

    Each row carries why it is there and since when (the last recycle, if the job or a person
    recorded one) and who had it before.
    """
    scope = scope_of(viewer)
    if scope.kind == "none":
        return Customer.objects.none()
    visible = Q(unit_id__in=claimable_unit_ids(viewer))
    if scope.kind in ("subtree", "all"):
        visible |= Q(unit__path__startswith=scope.unit_path) if scope.kind == "subtree" else Q()
    qs = scope.limit_customers(Customer.objects.filter(status=Customer.Status.IN_POOL).filter(visible))
    if pool is not None:
        qs = qs.filter(unit_id__in=units_of_pool(pool))
    if grade:
        qs = qs.filter(grade=grade)
    last = PoolMove.objects.filter(customer=OuterRef("pk"), kind=PoolMove.Kind.RECYCLED).order_by(
        "-at", "-id"
    )
    return (
        qs.select_related("unit")
        .annotate(
            pool_since=Subquery(last.values("at")[:1]),
            pool_reason=Subquery(last.values("reason")[:1]),
            pool_rule_kind=Subquery(last.values("rule__kind")[:1]),
            pool_rule_days=Subquery(last.values("rule__days")[:1]),
            pool_rule_grade=Subquery(last.values("rule__grade")[:1]),
            previous_owner_name=Subquery(last.values("employee__name")[:1]),
        )
        .order_by(F("pool_since").asc(nulls_first=True), "pk")
    )


def get_pool_customer(viewer: Employee, customer_id: int) -> Customer:
    found = pool_customers(viewer).filter(pk=customer_id).first()
    if found is None:
        raise NotFound(_("Customer not found."))
    return found


def pools_visible(viewer: Employee) -> QuerySet[Pool]:
    scope = scope_of(viewer)
    if scope.kind == "none":
        return Pool.objects.none()
    qs = Pool.objects.select_related("unit")
    if scope.kind == "all":
        return qs
    mine = set(PoolMember.objects.filter(employee=viewer).values_list("pool_id", flat=True))
    # A pool is visible to those inside its unit, those it holds units of, and its members.
    paths = [p for p in viewer.unit.path.split("/") if p]
    ancestors = ["/" + "/".join(paths[:i]) + "/" for i in range(1, len(paths) + 1)]
    q = Q(unit__path__in=ancestors) | Q(pk__in=mine)
    if scope.kind == "subtree":
        q |= Q(unit__path__startswith=scope.unit_path)
    return qs.filter(q)


def get_pool(viewer: Employee, pool_id: int) -> Pool:
    pool = pools_visible(viewer).filter(pk=pool_id).first()
    if pool is None:
        raise NotFound(_("Pool not found."))
    return pool


def managed_pools(viewer: Employee) -> QuerySet[Pool]:
    """Pools whose settings the viewer may change: managers of the pool's unit or above."""
    scope = scope_of(viewer)
    if viewer.role not in ("manager", "executive", "admin") or not viewer.may_sign_in:
        return Pool.objects.none()
    return scope.filter(Pool.objects.select_related("unit"), unit_path="unit__path")


def rules_of(pool: Pool) -> QuerySet[RecycleRule]:
    return pool.rules.filter(removed_at__isnull=True)


def rules_of_managed(viewer: Employee) -> QuerySet[RecycleRule]:
    """Rules of the pools the viewer manages (the ones they may turn off or remove)."""
    return RecycleRule.objects.filter(pool__in=managed_pools(viewer), removed_at__isnull=True).select_related(
        "pool"
    )


def members_of(pool: Pool) -> QuerySet[PoolMember]:
    return pool.members.select_related("employee", "employee__unit")


def shifts_visible(viewer: Employee) -> QuerySet[Shift]:
    scope = scope_of(viewer)
    return scope.filter(Shift.objects.select_related("unit"), unit_path="unit__path")


def leaves_visible(viewer: Employee) -> QuerySet[Leave]:
    scope = scope_of(viewer)
    return scope.filter(
        Leave.objects.select_related("employee"), owner="employee_id", unit_path="employee__unit__path"
    )


def notices_for(viewer: Employee) -> QuerySet[RecycleNotice]:
    """Reminders still ahead: the viewer's own, and their scope's for managers."""
    scope = scope_of(viewer)
    qs = RecycleNotice.objects.select_related("customer", "owner", "rule").filter(
        due_on__gte=timezone.localdate(),
        customer__status=Customer.Status.ACTIVE,
        customer__owner_id=F("owner_id"),
    )
    return scope.filter(qs, owner="owner_id", unit_path="customer__unit__path")


def allocations_visible(viewer: Employee) -> QuerySet[Allocation]:
    return Allocation.objects.filter(pool__in=managed_pools(viewer)).select_related("pool", "created_by")


def get_allocation(viewer: Employee, allocation_id: int) -> Allocation:
    found = allocations_visible(viewer).filter(pk=allocation_id).first()
    if found is None:
        raise NotFound(_("Allocation not found."))
    return found


@dataclass
class Stats:
    size: int
    oldest: datetime | None
    age_buckets: dict[str, int]
    claims: list[dict]
    recycled: list[dict]


def stats(viewer: Employee, *, days: int = 90) -> Stats:
    """Pool size and age; claims and conversion after claim per person; recycled per owner.

    Conversion: a purchase on or after the day of the claim. Recycled per owner is a signal in
    its own right: someone who lets many customers go back is not serving them.
    """
    scope = scope_of(viewer)
    now = timezone.now()
    since = now - timedelta(days=days)
    in_pool = pool_customers(viewer)
    size = in_pool.count()
    ages = {"<7": 0, "7-30": 0, "30-90": 0, ">90": 0}
    oldest = None
    for at in in_pool.values_list("pool_since", flat=True).iterator():
        at = at or now
        oldest = at if oldest is None or at < oldest else oldest
        d = (now - at).days
        key = "<7" if d < 7 else "7-30" if d < 30 else "30-90" if d < 90 else ">90"
        ages[key] += 1
    moves = scope.filter(
        PoolMove.objects.filter(at__gte=since), owner="employee_id", unit_path="employee__unit__path"
    )
    bought = Purchase.objects.filter(
        customer_id=OuterRef("customer_id"), purchased_on__gte=OuterRef("at__date")
    )
    claim_rows = (
        moves.filter(kind__in=[PoolMove.Kind.CLAIMED, PoolMove.Kind.ASSIGNED])
        .annotate(converted=Exists(bought))
        .values("employee_id", "employee__name", "kind", "converted")
        .annotate(n=Count("id"))
    )
    per: dict[int, dict] = {}
    for r in claim_rows:
        row = per.setdefault(
            r["employee_id"],
            {
                "employee_id": r["employee_id"],
                "name": r["employee__name"],
                "claimed": 0,
                "allocated": 0,
                "converted": 0,
            },
        )
        row["claimed" if r["kind"] == PoolMove.Kind.CLAIMED else "allocated"] += r["n"]
        if r["converted"]:
            row["converted"] += r["n"]
    for row in per.values():
        taken = row["claimed"] + row["allocated"]
        row["conversion"] = round(row["converted"] / taken, 3) if taken else 0.0
    recycled = list(
        moves.filter(kind=PoolMove.Kind.RECYCLED)
        .values("employee_id", "employee__name")
        .annotate(n=Count("id"), last=Max("at"))
        .order_by("-n")
    )
    return Stats(
        size=size,
        oldest=oldest,
        age_buckets=ages,
        claims=sorted(per.values(), key=lambda r: -(r["claimed"] + r["allocated"])),
        recycled=[
            {
                "employee_id": r["employee_id"],
                "name": r["employee__name"],
                "recycled": r["n"],
                "last": r["last"],
            }
            for r in recycled
        ],
    )
