"""Demo conversations with disguised violations, deletions and risky actions, and alerts in every state.

Appends its own message.* / contact.* / chat.* / group.* entries exactly as docs/events.md has the
archive write them (source "demo-alerts"), so the demo has alerts before any archive demo does:
the detectors run inside those appends as they would for real traffic. Then the store managers
handle some: acknowledged, resolved, one a false positive. Reproducible from the seed.
"""

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from custos.alerts import services
from custos.alerts.models import Alert
from custos.customers.models import Customer
from custos.ledger.services import Event, append_batch
from custos.org.models import Employee, Role

SOURCE = "demo-alerts"
BENIGN = [
    "您好，之前您看的羽绒服到货了，颜色很正",
    "加我们门店企业微信，有专人服务",
    "全国客服热线 400-820-8820，二十四小时都有人",
    "公司严禁收取回扣，请放心购买",
    "好的，明天下午给您安排发货",
    "这款连衣裙有白色和墨绿两种颜色",
]
# (text, sender role): one or more disguised violations of every category.
VIOLATIONS = [
    ("si xia jiao yi 比较划算，你懂的", "staff"),  # private_deal, pinyin
    ("飛單的事你知我知", "staff"),  # private_deal, traditional
    ("加#我#薇#信，这个号要交回公司了", "staff"),  # contact_diversion, symbols and a look-alike
    ("回回扣扣照老规矩给你", "staff"),  # kickback, stutter
    ("钱直接转到我个人账户上就行", "staff"),  # payment_diversion
    ("现金给我就行，不用开票", "staff"),  # payment_diversion
    ("我下个月离职，以后去我新店买", "staff"),  # poaching
    ("我手机 幺三九 一二三四 五六七八，有事直接打", "staff"),  # contact_leak, Chinese numerals
    ("微信号 wang_8821x 加一下", "staff"),  # contact_leak, WeChat id
]
FALSE_POSITIVE = "这是公司的回扣举报流程说明，您收好"


class _Demo:
    def __init__(self, seed: int):
        self.rng = random.Random(seed * 31 + 6)
        self.now = timezone.now()
        self.n = 0

    def at(self, hours_ago: float):
        return self.now - timedelta(hours=hours_ago)

    def event(self, kind, employee, payload, hours_ago, customer=None) -> Event:
        self.n += 1
        return Event(
            kind=kind,
            payload=payload,
            actor_id=employee.pk,
            unit_id=employee.unit_id,
            customer_id=customer.pk if customer else None,
            source=SOURCE,
            source_id=f"demo-{self.n}",
            occurred_at=self.at(hours_ago),
        )

    def message(
        self, employee, customer, text, hours_ago, role="staff", msgtype="text", amount=None
    ) -> Event:
        contact = f"wm_demo_{customer.pk}"
        return self.event(
            "message.sent" if role == "staff" else "message.received",
            employee,
            {
                "msgtype": msgtype,
                "conversation": f"single:{employee.pk}:{contact}",
                "contact": contact,
                "group": None,
                "text": text,
                "attachment": None,
                "amount": amount,
                "sender_role": role,
                "raw": {},
            },
            hours_ago,
            customer,
        )


def _customers_of(employee: Employee, k: int) -> list[Customer]:
    return list(Customer.objects.filter(owner=employee).order_by("pk")[:k])


def _manager_of(employee: Employee) -> Employee | None:
    path = employee.unit.path
    managers = Employee.objects.filter(role=Role.MANAGER, frozen_at__isnull=True).select_related("unit")
    covering = [m for m in managers if path.startswith(m.unit.path) and m.pk != employee.pk]
    return max(covering, key=lambda m: len(m.unit.path), default=None)


@transaction.atomic
def build(seed: int = 2026) -> dict[str, int]:
    """Append the demo's risky traffic; returns the number of alerts in each state."""
    d = _Demo(seed)
    sales = [
        e
        for e in Employee.objects.filter(role=Role.SALES).select_related("unit").order_by("pk")
        if _customers_of(e, 1)
    ]
    if not sales:
        return {}
    d.rng.shuffle(sales)
    cast = sales[: min(len(sales), 8)]
    events = []
    for i, (text, role) in enumerate(VIOLATIONS):
        employee = cast[i % len(cast)]
        customers = _customers_of(employee, 6)
        customer = customers[i % len(customers)]
        hours = 70 - i * 6 + d.rng.random()
        events.append(d.message(employee, customer, d.rng.choice(BENIGN), hours + 0.5))
        events.append(d.message(employee, customer, "价格还能再低点吗？", hours + 0.3, role="customer"))
        events.append(d.message(employee, customer, text, hours, role=role))
    first, second = cast[0], cast[1 % len(cast)]
    c1 = _customers_of(first, 6)
    # A red packet to a customer, a private group, a chat wiped on the phone.
    events.append(d.message(first, c1[0], None, 20, msgtype="redpacket", amount=8800))
    events.append(d.event("group.created", first, {"group": "wrdemo_g1", "name": "VIP老客户福利群", "has_company_observer": False,
                          "members": [{"employee": first.pk}, *({"contact": f"wm_demo_{c.pk}"} for c in c1[:3])]}, 18))  # fmt: skip
    for n, (text, role, who) in enumerate((
        ("各位老客户好，新款大衣到店了", "staff", None),
        ("周六有会员活动，欢迎来店里看看", "staff", None),
        ("好的，周六见", "customer", c1[1]),
    )):  # fmt: skip
        payload = {"msgtype": "text", "conversation": "wrdemo_g1", "contact": f"wm_demo_{who.pk}" if who else None,
                   "group": "wrdemo_g1", "text": text, "attachment": None, "amount": None, "sender_role": role, "raw": {}}  # fmt: skip
        events.append(d.event("message.sent" if role == "staff" else "message.received", first, payload, 17.9 - n * 0.1))
    # The wiped chat is one the archive holds, so the alert can show what was said before it.
    c2 = _customers_of(second, 3)
    wiped = c2[-1]
    events.append(d.message(second, wiped, "王姐，新款到了，您这周方便来试吗？", 17.5))
    events.append(d.message(second, wiped, "好的，我周六过去，还按上次的折扣吧", 17.2, role="customer"))
    events.append(d.message(second, wiped, "没问题，您直接转我微信就行，我给您留着", 17))
    contact = f"wm_demo_{wiped.pk}"
    events.append(
        d.event(
            "chat.deleted_on_device",
            second,
            {"conversation": f"single:{second.pk}:{contact}", "contact": contact, "group": None},
            16,
            wiped,
        )
    )
    # A hit recalled a minute later.
    hit = d.message(second, c2[0], "这单别走公司，私下交易给你便宜五百", 12)
    events.append(hit)
    events.append(
        d.event(
            "message.recalled",
            second,
            {"message": hit.source_id, "conversation": hit.payload["conversation"]},
            11.98,
        )
    )
    # Customers deleted one after another.
    for k, customer in enumerate(_customers_of(second, 4)):
        events.append(
            d.event(
                "contact.deleted_by_staff",
                second,
                {"contact": f"wm_demo_{customer.pk}"},
                8 - k * 0.2,
                customer,
            )
        )
    # A word in an innocent sentence: the false positive a manager clears.
    third = cast[2 % len(cast)]
    fp = d.message(third, _customers_of(third, 1)[0], FALSE_POSITIVE, 30)
    events.append(fp)
    events.sort(key=lambda e: e.occurred_at)
    append_batch(events)

    alerts = list(
        Alert.objects.filter(evidence__isnull=False).select_related("employee", "unit").order_by("raised_at")
    )
    fp_alert = next((a for a in alerts if a.category == "kickback" and a.employee_id == third.pk), None)
    handled = 0
    for alert in alerts:
        manager = _manager_of(alert.employee) if alert.employee else None
        if manager is None:
            continue
        if alert is fp_alert:
            services.mark_false_positive(actor=manager, alert=alert, reason="公司制度说明，不是违规")
        elif alert.rule in ("chat_deleted", "money_transfer") or (
            alert.rule == "sensitive_words" and handled % 3 == 0
        ):
            services.acknowledge(actor=manager, alert=alert, note="已安排约谈")
            if alert.rule == "money_transfer" or handled % 2 == 0:
                services.resolve(
                    actor=manager, alert=Alert.objects.get(pk=alert.pk), reason="已约谈，客户关系交回门店"
                )
        handled += 1
    counts = {}
    for state, _label in Alert.State.choices:
        counts[state] = Alert.objects.filter(state=state).count()
    return counts
