import itertools
from datetime import timedelta

import pytest
from django.utils import timezone

from custos.customers import services as customer_services
from custos.customers.services import NewContact
from custos.ledger.services import Event, append_batch

_phones = itertools.count(13900000001)
_msgs = itertools.count(1)


@pytest.fixture
def make_customer():
    def make(owner, *, name="客户", grade="C", profile=None, **kwargs):
        return customer_services.create_customer(
            actor=owner, name=name, owner=owner, grade=grade, profile=profile,
            contacts_in=[NewContact("phone", str(next(_phones)))], **kwargs,
        )  # fmt: skip

    return make


def message(kind, employee, customer, *, conversation=None, at=None, group=None):
    """A message entry as the archive would append it (docs/events.md)."""
    n = next(_msgs)
    conversation = conversation or f"c-{customer.pk if customer else n}"
    return Event(
        kind=kind,
        payload={
            "msgtype": "text",
            "conversation": conversation,
            "contact": f"wx-{customer.pk if customer else n}",
            "group": group,
            "text": "在吗",
            "attachment": None,
            "amount": None,
            "sender_role": "customer" if kind == "message.received" else "staff",
            "raw": {},
        },
        actor_id=employee.pk,
        unit_id=employee.unit_id,
        customer_id=customer.pk if customer else None,
        source="test-archive",
        source_id=f"m{n}",
        occurred_at=at,
    )


@pytest.fixture
def chat():
    def say(*events):
        append_batch(list(events))

    return say


def days_ago(n):
    return timezone.now() - timedelta(days=n)
