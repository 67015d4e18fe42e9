"""Console pages of the public pool: the list (why and since when, claim), allocation with a
preview, rules and schedules, statistics."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from custos.console.decorators import console_view
from custos.core.errors import Forbidden, InvalidInput, NotFound
from custos.core.query import whole_or_none
from custos.customers.selectors import get_customer
from custos.handover import allocation as alloc
from custos.org.models import Employee
from custos.org.selectors import employees_visible, get_employee, get_unit, units_visible
from custos.pool import recycle, selectors, services
from custos.pool.models import Pool, RecycleRule

PAGE = 100
STRATEGIES = [
    (alloc.ROUND_ROBIN, gettext_lazy("Take turns: one each in order")),
    (alloc.WEIGHTED, gettext_lazy("By weight: a higher weight gets more, drawn at random")),
    (alloc.QUOTA, gettext_lazy("The same fixed number for each person")),
    (alloc.LEAST_LOADED, gettext_lazy("To whoever has the fewest customers")),
    (alloc.BY_RULE, gettext_lazy("Grade A customers to senior staff, the rest to whoever has fewest")),
]
WHY_NOT = {
    alloc.NO_RECEIVER: gettext_lazy("nobody could receive it"),
    alloc.OVER_CAP: gettext_lazy("receivers reached today's cap"),
    alloc.QUOTA_FULL: gettext_lazy("every quota is full"),
    alloc.NOT_CHOSEN: gettext_lazy("no receiver chosen"),
    alloc.INELIGIBLE: gettext_lazy("the chosen person cannot receive customers"),
    alloc.NO_MATCH: gettext_lazy("no senior staff chosen for this grade"),
}
OFF = {"inactive": gettext_lazy("not active"), "off_shift": gettext_lazy("off shift or on leave")}
WEEKDAYS = [
    gettext_lazy("Mon"),
    gettext_lazy("Tue"),
    gettext_lazy("Wed"),
    gettext_lazy("Thu"),
    gettext_lazy("Fri"),
    gettext_lazy("Sat"),
    gettext_lazy("Sun"),
]


def _id(value) -> int:
    number = whole_or_none(value)
    if number is None:
        raise InvalidInput(_("Choose one from the list."))
    return number


@console_view
def index(request):
    me = request.viewer
    pools = list(selectors.pools_visible(me))
    pool_id = whole_or_none(request.GET.get("pool"))
    pool = selectors.get_pool(me, pool_id) if pool_id else None
    grade = request.GET.get("grade") or None
    rows = list(selectors.pool_customers(me, pool=pool, grade=grade)[:PAGE])
    claimable = selectors.claimable_unit_ids(me)
    for c in rows:
        c.may_claim = c.unit_id in claimable
        c.why = (
            recycle.explain(c.pool_rule_kind, c.pool_rule_days, c.pool_rule_grade)
            if c.pool_rule_kind
            else c.pool_reason
        )
    context = {
        "rows": rows,
        "pools": pools,
        "pool": pool,
        "grade": grade,
        "notices": list(selectors.notices_for(me)[:50]),
        "manages": selectors.managed_pools(me).exists(),
    }
    return render(request, "pool/index.html", context)


@console_view
@require_POST
def claim(request, customer_id):
    services.claim(actor=request.viewer, customer_id=customer_id, reason=request.POST.get("reason", ""))
    messages.success(request, _("Claimed: the customer is yours now."))
    return redirect("pool:index")


@console_view
def allocate(request):
    me = request.viewer
    pools = list(selectors.managed_pools(me))
    if not pools:
        raise Forbidden(_("Only managers may allocate out of a pool."))
    if request.method == "POST":
        pool = selectors.managed_pools(me).filter(pk=_id(request.POST.get("pool"))).first()
        if pool is None:
            raise NotFound(_("Pool not found."))
        receiver_ids = [_id(v) for v in request.POST.getlist("receivers")]
        weights = {}
        for rid in receiver_ids:
            raw = request.POST.get(f"weight_{rid}")
            if raw:
                try:
                    weights[str(rid)] = float(raw)
                except ValueError as exc:
                    raise InvalidInput(_("A weight is a number from 0 to 1000.")) from exc
        strategy = request.POST.get("strategy", "")
        allocation = services.preview(
            actor=me,
            pool=pool,
            strategy=strategy,
            count=request.POST.get("count") or 50,
            receiver_ids=receiver_ids or None,
            weights=weights or None,
            quota=whole_or_none(request.POST.get("quota")),
            seed=whole_or_none(request.POST.get("seed")),
            daily_cap=whole_or_none(request.POST.get("daily_cap")),
            rule={"A": "senior"} if strategy == alloc.BY_RULE else None,
        )
        return redirect("pool:allocation", allocation.pk)
    people = (
        employees_visible(me)
        .filter(status=Employee.Status.ACTIVE, frozen_at__isnull=True)
        .exclude(role="auditor")
    )
    return render(
        request, "pool/allocate.html", {"pools": pools, "strategies": STRATEGIES, "people": people[:300]}
    )


@console_view
def allocation_detail(request, allocation_id):
    a = selectors.get_allocation(request.viewer, allocation_id)
    names = {r["id"]: r for r in a.params.get("receivers", [])}
    per: dict[int, int] = {}
    for to in a.assigned.values():
        per[to] = per.get(to, 0) + 1
    receivers = [
        {**r, "count": per.get(r["id"], 0), "off": [OFF.get(w, w) for w in r.get("why_not", [])]}
        for r in names.values()
    ]
    skipped: dict[str, int] = {}
    for why in a.unassigned.values():
        label = str(WHY_NOT.get(why, why))
        skipped[label] = skipped.get(label, 0) + 1
    return render(request, "pool/allocation.html", {"a": a, "receivers": receivers, "skipped": skipped})


@console_view
@require_POST
def allocation_commit(request, allocation_id):
    a = selectors.get_allocation(request.viewer, allocation_id)
    services.commit(actor=request.viewer, allocation=a)
    messages.success(request, _("Allocated: %(n)s customers have a new owner.") % {"n": len(a.assigned)})
    return redirect("pool:allocation", a.pk)


@console_view
def settings_page(request):
    me = request.viewer
    pools = list(selectors.managed_pools(me).prefetch_related("rules", "members__employee"))
    if not pools and me.role not in ("manager", "executive", "admin"):
        raise Forbidden(_("Only managers may change a pool."))
    for p in pools:
        p.rule_rows = [(r, recycle.explain(r.kind, r.days, r.grade)) for r in selectors.rules_of(p)]
    shifts = list(selectors.shifts_visible(me))
    for s in shifts:
        s.day = WEEKDAYS[s.weekday]
    context = {
        "pools": pools,
        "units": units_visible(me).filter(pool__isnull=True),
        "kinds": RecycleRule.Kind.choices,
        "visibilities": Pool.Visibility.choices,
        "shifts": shifts,
        "leaves": list(selectors.leaves_visible(me)[:100]),
        "weekdays": list(enumerate(WEEKDAYS)),
        "people": employees_visible(me).filter(status=Employee.Status.ACTIVE).exclude(role="auditor")[:300],
        "shift_units": units_visible(me),
    }
    return render(request, "pool/settings.html", context)


def _managed(me, value) -> Pool:
    pool = selectors.managed_pools(me).filter(pk=_id(value)).first()
    if pool is None:
        raise NotFound(_("Pool not found."))
    return pool


@console_view
@require_POST
def settings_action(request, action):
    me, post = request.viewer, request.POST
    if action == "create":
        services.create_pool(actor=me, unit=get_unit(me, _id(post.get("unit"))), name=post.get("name", ""))
    elif action == "update":
        services.update_pool(
            actor=me, pool=_managed(me, post.get("pool")), visibility=post.get("visibility", "unit"),
            claims_per_day=post.get("claims_per_day"), max_held=post.get("max_held"),
            cooldown_days=post.get("cooldown_days"), reason_required=bool(post.get("reason_required")),
        )  # fmt: skip
    elif action == "rule":
        services.add_rule(
            actor=me, pool=_managed(me, post.get("pool")), kind=post.get("kind", ""), days=post.get("days"),
            grade=post.get("grade", ""), remind_days=post.get("remind_days") or 0,
        )  # fmt: skip
    elif action == "toggle":
        rule = selectors.rules_of_managed(me).filter(pk=_id(post.get("rule"))).first()
        if rule is None:
            raise NotFound(_("Rule not found."))
        services.set_rule_enabled(actor=me, rule=rule, enabled=not rule.enabled)
    elif action == "unrule":
        rule = selectors.rules_of_managed(me).filter(pk=_id(post.get("rule"))).first()
        if rule is None:
            raise NotFound(_("Rule not found."))
        services.remove_rule(actor=me, rule=rule)
    elif action == "unmember":
        member = (
            selectors.members_of(_managed(me, post.get("pool")))
            .filter(employee_id=_id(post.get("employee")))
            .first()
        )
        if member is None:
            raise NotFound(_("Member not found."))
        services.remove_member(actor=me, member=member)
    elif action == "member":
        services.set_member(
            actor=me, pool=_managed(me, post.get("pool")), employee=get_employee(me, _id(post.get("employee"))),
            can_claim=bool(post.get("can_claim")), can_receive=bool(post.get("can_receive")), weight=post.get("weight") or 1,
            daily_cap=post.get("daily_cap") or None, friends_cap=post.get("friends_cap") or None,
            monthly_quota=post.get("monthly_quota") or None,
        )  # fmt: skip
    elif action == "shift":
        services.add_shift(
            actor=me,
            unit=get_unit(me, _id(post.get("unit"))),
            weekday=post.get("weekday"),
            starts=post.get("starts"),
            ends=post.get("ends"),
        )
    elif action == "unshift":
        shift = selectors.shifts_visible(me).filter(pk=_id(post.get("shift"))).first()
        if shift is None:
            raise NotFound(_("Shift not found."))
        services.remove_shift(actor=me, shift=shift)
    elif action == "leave":
        services.add_leave(
            actor=me,
            employee=get_employee(me, _id(post.get("employee"))),
            starts=post.get("starts"),
            ends=post.get("ends"),
            reason=post.get("reason", ""),
        )
    elif action == "protect":
        services.protect(
            actor=me, customer=get_customer(me, _id(post.get("customer"))), reason=post.get("reason", "")
        )
    else:
        raise NotFound(_("Not found."))
    messages.success(request, _("Saved."))
    return redirect("pool:settings")


@console_view
def stats(request):
    s = selectors.stats(request.viewer)
    return render(request, "pool/stats.html", {"s": s})
