"""Demo-like data for insights: staff of three stores with customers, half a year of chat both
ways, purchases, complaints, a customer who deleted their salesperson, a service desk that writes
to some customers. Seeded, built through services and the ledger as in production."""

import itertools
import random
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from custos.customers import activity
from custos.customers import services as customer_services
from custos.customers.services import NewContact
from custos.ledger.services import Event, append_batch

_phones = itertools.count(13800000001)
_n = itertools.count(1)


def message(employee, customer, at, *, sent, text="好的"):
    n = next(_n)
    return Event(
        kind="message.sent" if sent else "message.received",
        payload={"msgtype": "text", "conversation": f"t-{employee.pk}-{customer.pk}", "contact": f"twx-{customer.pk}",
                 "group": None, "text": text, "attachment": None, "amount": None,
                 "sender_role": "staff" if sent else "customer", "raw": {}},
        actor_id=employee.pk, unit_id=employee.unit_id, customer_id=customer.pk,
        source="test-insights", source_id=f"m{n}", occurred_at=at,
    )  # fmt: skip


@pytest.fixture
def shop(company):
    rng = random.Random(7)
    now = timezone.now()
    sellers = [company.sales_a, company.sales_a_peer, company.sales_a2, company.sales_b]
    customers, events = [], []
    for s_index, seller in enumerate(sellers):
        for i in range(6 + 2 * s_index):
            c = customer_services.create_customer(
                actor=seller, name=f"客户{s_index}-{i}", owner=seller, grade="ABCD"[i % 4],
                contacts_in=[NewContact("phone", str(next(_phones)))],
            )  # fmt: skip
            customers.append(c)
            pattern = i % 4  # 0 steady, 1 gone quiet a month ago, 2 rare, 3 new and chatty
            for day in range(175, 0, -rng.choice((4, 6, 9))):
                if pattern == 1 and day < 40:
                    break
                if pattern == 2 and rng.random() < 0.7:
                    continue
                if pattern == 3 and day > 50:
                    continue
                at = now - timedelta(days=day, minutes=rng.randint(0, 600))
                events.append(message(seller, c, at, sent=False, text="在吗"))
                if rng.random() < 0.85:
                    events.append(message(seller, c, at + timedelta(minutes=rng.randint(1, 300)), sent=True))
            if i % 3 == 0:
                for k in range(rng.randint(1, 3)):
                    activity.add_purchase(
                        actor=seller, customer=c, product="大衣", amount=Decimal(rng.randint(100, 3000)),
                        purchased_on=timezone.localdate() - timedelta(days=rng.randint(1, 170) + k),
                    )  # fmt: skip
            if i == 2:
                activity.add_feedback(actor=seller, customer=c, rating=2, complaint="起球")
    # A customer waiting two days for an answer; one who deleted their salesperson.
    events.append(message(sellers[0], customers[5], now - timedelta(days=2), sent=False, text="还有货吗"))
    events.append(
        Event(kind="contact.deleted_by_customer", payload={"contact": f"twx-{customers[1].pk}"}, actor_id=sellers[0].pk,
              unit_id=sellers[0].unit_id, customer_id=customers[1].pk, source="test-insights", source_id="del-1",
              occurred_at=now - timedelta(days=4))
    )  # fmt: skip
    # The store's service desk writes to some of store A's customers: not theirs alone any more.
    for c in customers[:5:2]:
        events.append(message(company.service_a, c, now - timedelta(days=10), sent=True, text="我是门店客服"))
    # A salesperson's slip the detectors catch: an alert this week.
    events.append(
        message(sellers[3], customers[-1], now - timedelta(hours=5), sent=True, text="加我私人微信，转账给我")
    )
    append_batch(events)
    company.customers = customers
    return company
