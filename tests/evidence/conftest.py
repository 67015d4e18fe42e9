import hashlib
import itertools
import types
from datetime import UTC, datetime, timedelta

import pytest

from custos.customers import services as customers
from custos.evidence import attachments
from custos.ledger.services import Event, append_batch

_ids = itertools.count(1)
_phones = itertools.count(13900000001)
# Recent enough that no retention rule of a test (a year or more) reaches the fixture's chats.
T0 = (datetime.now(UTC) - timedelta(days=200)).replace(hour=9, minute=0, second=0, microsecond=0)


def message(employee, customer, text, *, when, received=False, attachment=None, contact="wx_zhang"):
    payload = {
        "msgtype": "image" if attachment else "text",
        "text": text,
        "conversation": f"c:{contact}",
        "contact": contact,
        "group": None,
        "attachment": attachment,
        "sender_role": "customer" if received else "staff",
    }
    return Event(
        "message.received" if received else "message.sent",
        payload,
        actor_id=employee.pk,
        unit_id=employee.unit_id,
        customer_id=customer.pk if customer else None,
        source="test-phone",
        source_id=f"m{next(_ids)}",
        occurred_at=when,
    )


class Blobs:
    """An attachment provider over a dict, as the archive's blob store will be."""

    def __init__(self):
        self.files: dict[str, tuple[str, bytes]] = {}

    def add(self, name: str, data: bytes) -> dict:
        digest = hashlib.sha256(data).hexdigest()
        self.files[digest] = (name, data)
        return {"sha256": digest, "name": name, "size": len(data), "mime": "image/png"}

    def __call__(self, entry):
        for info in attachments.wanted(entry):
            found = self.files.get(info["sha256"])
            if found:
                yield info["sha256"], found[0], found[1]


@pytest.fixture
def blobs():
    store = Blobs()
    attachments.register(store)
    yield store
    attachments.unregister(store)


@pytest.fixture
def chats(company):
    """Two customers of store A (天河店) and one of store B (徐汇店), with a few chats each."""
    def customer(owner, name):
        return customers.create_customer(
            actor=owner, name=name, owner=owner, contacts_in=[customers.NewContact("phone", str(next(_phones)))]
        )

    c = types.SimpleNamespace(company=company)
    c.zhang = customer(company.sales_a, "张三")
    c.li = customer(company.sales_a_peer, "李四")
    c.wang = customer(company.sales_b, "王五")
    events = [
        message(company.sales_a, c.zhang, "张总您好，合同已经发您邮箱了", when=T0),
        message(company.sales_a, c.zhang, "收到，价格还能再优惠吗？", when=T0 + timedelta(minutes=3), received=True),
        message(company.sales_a, c.zhang, "可以私下加我微信，给您最低价", when=T0 + timedelta(days=2)),
        message(company.sales_a_peer, c.li, "李总，样品明天到", when=T0 + timedelta(days=5), contact="wx_li"),
        message(company.sales_b, c.wang, "王总好", when=T0 + timedelta(days=1), contact="wx_wang"),
    ]
    c.entries = [a.entry for a in append_batch(events)]
    return c
