"""The demo's insights: a story a manager can act on, then the roll-up built over everything.

- 深圳南山店 depends on one person: its other salespeople's best customers were transferred to
  the store's top seller over the year, and nobody else there talks to them.
- In the other stores the service desk (双线管理) has written to most customers, so a departure
  would not take them.
- A few of sales1's (广州天河店) best customers are slipping away: a complaint, a message left
  unanswered, silence where they used to write every week.
Everything goes through services and the ledger, as in production.
"""

import random
from datetime import timedelta

from django.db.models import Sum
from django.utils import timezone

from custos.customers import activity
from custos.customers import services as customer_services
from custos.customers.models import Customer
from custos.insights import rollup
from custos.ledger.services import Event, append_batch
from custos.org.models import Employee, Role

SOURCE = "demo-insights"
FRAGILE_STORE = "深圳南山店"


def _message(employee, customer, at, *, sent: bool, text: str, n: int) -> Event:
    return Event(
        kind="message.sent" if sent else "message.received",
        payload={
            "msgtype": "text", "conversation": f"ins-{employee.pk}-{customer.pk}", "contact": f"ins-wx{customer.pk:06d}",
            "group": None, "text": text, "attachment": None, "amount": None,
            "sender_role": "staff" if sent else "customer", "raw": {},
        },
        actor_id=employee.pk, unit_id=employee.unit_id, customer_id=customer.pk,
        source=SOURCE, source_id=f"m{n}", occurred_at=at,
    )  # fmt: skip


def build(seed: int) -> dict:
    rng = random.Random(seed * 31 + 17)
    now = timezone.now()
    out = {"fragile_store": FRAGILE_STORE}
    stores = {e.unit_id: e.unit for e in Employee.objects.filter(role=Role.SALES).select_related("unit")}
    events, n = [], 0
    for unit_id, unit in stores.items():
        sales = list(
            Employee.objects.filter(unit_id=unit_id, role=Role.SALES, status="active").order_by("pk")
        )
        manager = Employee.objects.filter(unit_id=unit_id, role=Role.MANAGER).first()
        desk = Employee.objects.filter(unit_id=unit_id, role=Role.SERVICE).first()
        if unit.name == FRAGILE_STORE and manager and len(sales) > 1:
            # The store's top seller by revenue takes every customer who bought in the last half year.
            since = timezone.localdate(now) - timedelta(days=180)
            buyers = Customer.objects.filter(
                unit_id=unit_id, status="active", purchases__purchased_on__gte=since
            )
            revenue = {
                e.pk: buyers.filter(owner=e).aggregate(s=Sum("purchases__amount"))["s"] or 0 for e in sales
            }
            top = max(sales, key=lambda e: revenue[e.pk])
            moved = 0
            for c in buyers.exclude(owner=top).distinct().order_by("pk"):
                customer_services.change_owner(
                    actor=manager,
                    customer=c,
                    kind="transfer",
                    to=top,
                    reason="老客户集中由金牌导购维护",
                    ledger_source=SOURCE,
                )
                moved += 1
            out["transferred"] = moved
            continue
        if desk is None:
            continue
        for c in Customer.objects.filter(unit_id=unit_id, status="active").order_by("pk"):
            if rng.random() < 0.75:
                n += 1
                at = now - timedelta(days=rng.randint(5, 150), hours=rng.randint(0, 8))
                events.append(
                    _message(
                        desk,
                        c,
                        at,
                        sent=True,
                        text=f"{c.name}您好，我是门店客服，售后有任何问题都可以找我",
                        n=n,
                    )
                )
    append_batch(events)
    out["desk_messages"] = len(events)

    # sales1's best customers slipping away: in touch every week until two months ago.
    sales1 = Employee.objects.filter(user__username="sales1").first()
    if sales1:
        slipping = list(
            Customer.objects.filter(owner=sales1, status="active", grade__in=("A", "B")).order_by("pk")[:4]
        )
        events = []
        for i, c in enumerate(slipping):
            for week in range(9, 22):
                at = now - timedelta(weeks=week, hours=rng.randint(0, 48))
                n += 2
                events.append(_message(sales1, c, at, sent=False, text="这周有新款吗？", n=n))
                events.append(
                    _message(
                        sales1,
                        c,
                        at + timedelta(minutes=rng.randint(3, 90)),
                        sent=True,
                        text="有的，给您发图",
                        n=n + 1,
                    )
                )
            if i == 1:
                n += 1
                events.append(
                    _message(sales1, c, now - timedelta(days=3), sent=False, text="上次的大衣能退吗？", n=n)
                )
        append_batch(events)
        for c in slipping[:2]:
            activity.add_feedback(
                actor=sales1,
                customer=c,
                rating=2,
                complaint="大衣洗后起球，导购不回消息",
                ledger_source=SOURCE,
            )
        out["slipping"] = [c.pk for c in slipping]
    built = rollup.build()
    out["rollup"] = {"day": str(built.day), "customers": built.customers}
    return out
