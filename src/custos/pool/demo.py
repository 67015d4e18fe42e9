"""The demo's public pool: pools with rules, a schedule, customers recycled for a reason.

公司公海 (HQ): customers of departed or frozen staff come back here. 华南区 (region1) and 广州天河店
(store1) have pools of their own; store1's takes back customers not followed up for 60 days
(grade A and B: 90 days) and grade-A customers without a purchase for 180, reminding owners a
week before; its staff work 10:00-22:00 every day, one of them on leave this week, with
weights and daily caps for allocation. The recycle job has run once (its moves are in the
ledger with the rule that caused each); two salespeople have claimed customers since, one of
whom has bought again.
"""

import random
from datetime import timedelta

from django.utils import timezone

from custos.customers import activity
from custos.customers.models import Customer
from custos.org.models import Employee, Role, Unit
from custos.pool import recycle, services


def build(seed: int) -> dict:
    rng = random.Random(seed + 16)
    store1 = Employee.objects.filter(user__username="store1").select_related("unit").first()
    region1 = Employee.objects.filter(user__username="region1").select_related("unit").first()
    if store1 is None:
        return {}
    hq = Unit.objects.filter(parent__isnull=True).first()
    company = services.create_pool(actor=None, unit=hq, name="公司公海", cooldown_days=30)
    services.add_rule(actor=None, pool=company, kind="owner_gone")
    if region1 is not None:
        services.create_pool(actor=None, unit=region1.unit, name="华南区公海", claims_per_day=5)
    store = services.create_pool(
        actor=None, unit=store1.unit, name="天河店公海", claims_per_day=10, max_held=150
    )
    services.add_rule(actor=None, pool=store, kind="no_follow_up", days=60, grade="", remind_days=7)
    services.add_rule(actor=None, pool=store, kind="no_follow_up", days=90, grade="A", remind_days=7)
    services.add_rule(actor=None, pool=store, kind="no_follow_up", days=90, grade="B", remind_days=7)
    services.add_rule(actor=None, pool=store, kind="no_purchase", days=180, grade="A", remind_days=7)
    for weekday in range(7):
        services.add_shift(actor=None, unit=store1.unit, weekday=weekday, starts="10:00", ends="22:00")
    staff = list(
        Employee.objects.filter(
            unit=store1.unit, role=Role.SALES, status=Employee.Status.ACTIVE, frozen_at__isnull=True
        ).order_by("pk")
    )
    for i, e in enumerate(staff):
        services.set_member(
            actor=None,
            pool=store,
            employee=e,
            weight=rng.choice([1, 1, 2, 3]),
            daily_cap=20,
            friends_cap=40,
            monthly_quota=120 if i % 2 else None,
        )
    today = timezone.localdate()
    if len(staff) > 2:
        services.add_leave(
            actor=None, employee=staff[-1], starts=today, ends=today + timedelta(days=3), reason="年假"
        )
    # A key account of the store, protected from the rules.
    key = (
        Customer.objects.filter(unit=store1.unit, grade="A", status=Customer.Status.ACTIVE)
        .order_by("pk")
        .first()
    )
    if key is not None:
        services.protect(actor=None, customer=key, reason="年度大客户")
    report = recycle.run()
    # Two salespeople claim from the pool since; one customer has bought again.
    in_pool = list(
        Customer.objects.filter(unit=store1.unit, status=Customer.Status.IN_POOL).order_by("pk")[:6]
    )
    claimers = [e for e in staff if e.user.username != "sales1"][:2] or staff[:2]
    claimed = []
    for i, c in enumerate(in_pool[: 2 * len(claimers)]):
        who = claimers[i % len(claimers)]
        if c.pk in {m["customer"] for m in report.moved if m["from"] == who.pk}:
            continue
        try:
            services.claim(
                actor=who, customer_id=c.pk, reason=rng.choice(["老客户，我熟悉", "之前接待过", "顺路回访"])
            )
        except Exception:  # noqa: BLE001, S112 - a limit or cooldown simply leaves it in the pool
            continue
        claimed.append((who, c))
    if claimed:
        who, c = claimed[0]
        activity.add_purchase(
            actor=who, customer=Customer.objects.get(pk=c.pk), product="羊毛大衣", amount="1299"
        )
    return {"pools": 3, "recycled": len(report.moved), "reminded": report.reminded, "claimed": len(claimed)}
