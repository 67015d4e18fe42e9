"""The demo's departures: one in progress, one completed with its report.

广州天河店 (store1): a salesperson has resigned with a last day next week. The checklist shows
their customers, a follow-up or two due, a customer left unanswered, a group only they are in;
a least-loaded preview waits for the store manager to commit it.

佛山祖庙店 (store2): a salesperson has gone. Two customers deleted them on the way out; the rest
were handed over round-robin, the successors' contact tasks were created, the remaining items
waived with reasons, and the case closed: its report is ready.
"""

import random
from datetime import timedelta

from django.db.models import Count
from django.utils import timezone

from custos.customers.models import Customer
from custos.handover import services
from custos.ledger.services import Event, append_batch
from custos.org.models import Employee, Role

SOURCE = "demo-archive"


def _msg(kind, employee, customer, at, n, group=None, part=0):
    return Event(
        kind=kind,
        payload={
            "msgtype": "text",
            "conversation": f"demo-{customer.pk}" if group is None else group,
            "contact": f"wm{customer.pk:06d}",
            "group": group,
            "text": {"message.received": "你好，上次说的那件外套还有货吗？", "message.sent": "有的，给您留着。"}[kind],
            "attachment": None,
            "amount": None,
            "sender_role": "customer" if kind == "message.received" else "staff",
            "raw": {},
        },
        actor_id=employee.pk,
        unit_id=employee.unit_id,
        customer_id=customer.pk,
        source=SOURCE,
        source_id=f"{kind}-{customer.pk}-{n}-{part}",
        occurred_at=at,
    )


def _leaver(store_manager: Employee, rng: random.Random) -> Employee | None:
    staff = (
        Employee.objects.filter(unit=store_manager.unit, role=Role.SALES, status=Employee.Status.ACTIVE)
        .exclude(user__username__startswith="sales")  # keep the printed demo login working
        .annotate(n=Count("customers"))
        .filter(n__gt=0)
        .order_by("pk")
    )
    staff = list(staff)
    return rng.choice(staff) if staff else None


def _chatter(leaver: Employee, customers: list[Customer], now, rng: random.Random) -> None:
    events = []
    for n, c in enumerate(customers[:8]):
        at = now - timedelta(days=rng.randint(2, 20), hours=rng.randint(0, 8))
        events.append(_msg("message.sent", leaver, c, at, n))
        events.append(_msg("message.received", leaver, c, at + timedelta(minutes=7), n))
        if n >= 2:  # the first two wait for an answer that never came
            events.append(_msg("message.sent", leaver, c, at + timedelta(minutes=20), n, part=1))
    events.append(
        Event(
            kind="group.created",
            payload={"group": f"grp-{leaver.pk}", "name": f"{leaver.name}的VIP客户群", "members": [{"contact": f"wm{c.pk:06d}"} for c in customers[:5]], "has_company_observer": False},
            actor_id=leaver.pk,
            unit_id=leaver.unit_id,
            source=SOURCE,
            source_id=f"group-{leaver.pk}",
            occurred_at=now - timedelta(days=60),
        )
    )
    append_batch(events)


def build(seed: int = 2026) -> dict:
    rng = random.Random(seed * 31 + 7)
    now = timezone.now()
    today = timezone.localdate()
    managers = {e.user.username: e for e in Employee.objects.filter(user__username__in=["store1", "store2"]).select_related("unit", "user")}
    out = {}
    if "store1" in managers and (leaver := _leaver(managers["store1"], rng)):
        manager = managers["store1"]
        customers = list(Customer.objects.filter(owner=leaver, status="active").order_by("pk"))
        _chatter(leaver, customers, now, rng)
        case = services.open_case(actor=manager, employee=leaver, last_day=today + timedelta(days=7), reason="家庭原因，回老家发展")
        receivers = [e.pk for e in services_receivers(manager, leaver)]
        if receivers:
            services.preview(actor=manager, kind="handover", case=case, strategy="least_loaded", receiver_ids=receivers, reason="离职交接")
        out["in_progress"] = case.pk
    if "store2" in managers and (leaver := _leaver(managers["store2"], rng)):
        manager = managers["store2"]
        customers = list(Customer.objects.filter(owner=leaver, status="active").order_by("pk"))
        _chatter(leaver, customers, now - timedelta(days=5), rng)
        append_batch(
            [
                Event(
                    kind="contact.deleted_by_customer",
                    payload={"contact": f"wm{c.pk:06d}"},
                    actor_id=leaver.pk,
                    unit_id=leaver.unit_id,
                    customer_id=c.pk,
                    source=SOURCE,
                    source_id=f"deleted-{c.pk}",
                    occurred_at=now - timedelta(days=3 + i),
                )
                for i, c in enumerate(customers[-2:])
            ]
        )
        case = services.open_case(actor=manager, employee=leaver, last_day=today, reason="入职竞品公司")
        receivers = [e.pk for e in services_receivers(manager, leaver)]
        plan = services.preview(actor=manager, kind="handover", case=case, strategy="round_robin", receiver_ids=receivers, reason="离职交接")
        services.commit(actor=manager, plan=plan)
        services.freeze_now(actor=manager, case=case, reason="最后工作日")
        services.leave_on_last_day(timezone.localtime().replace(hour=23, minute=59))
        # The successors pick up: some inherited customers write back the same day.
        heirs = list(plan.moves.filter(to_employee__isnull=False).select_related("customer", "to_employee")[:6])
        append_batch([_msg("message.received", m.to_employee, m.customer, timezone.now(), 99) for m in heirs[::2]])
        case.refresh_from_db()
        for item in case.items.filter(done_at__isnull=True, waived_at__isnull=True):
            services.waive(actor=manager, item=item, reason="店长已电话确认，交接人继续跟进")
        services.close_case(actor=manager, case=case)
        out["completed"] = case.pk
    return out


def services_receivers(manager: Employee, leaver: Employee) -> list[Employee]:
    return [
        e
        for e in Employee.objects.filter(unit=leaver.unit, status=Employee.Status.ACTIVE, frozen_at__isnull=True, role__in=[Role.SALES, Role.SERVICE])
        .exclude(pk=leaver.pk)
        .order_by("pk")
        if services.may_receive(e)
    ]
