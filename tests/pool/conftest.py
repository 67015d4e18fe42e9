import itertools
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from custos.customers import services as customer_services
from custos.customers.models import Customer
from custos.customers.services import NewContact
from custos.ledger.services import Event, append_batch

_phones = itertools.count(13700000001)
_msgs = itertools.count(1)


def body(entry) -> dict:
    return json.loads(entry.payload)


def days_ago(n):
    return timezone.now() - timedelta(days=n)


@pytest.fixture
def make_customer():
    """A customer owned by `owner`, created `age` days ago (so the rules may judge them)."""

    def make(owner, *, name="客户", grade="C", age=120, **kwargs):
        c = customer_services.create_customer(
            actor=owner,
            name=name,
            owner=owner,
            grade=grade,
            contacts_in=[NewContact("phone", str(next(_phones)))],
            **kwargs,
        )
        Customer.objects.filter(pk=c.pk).update(created_at=days_ago(age))
        c.refresh_from_db()
        return c

    return make


@pytest.fixture
def customer_says():
    """A message from the customer, appended as the archive's ingestion would (docs/events.md)."""

    def say(employee, customer, at):
        n = next(_msgs)
        append_batch(
            [
                Event(
                    kind="message.received",
                    payload={
                        "msgtype": "text", "conversation": f"c-{customer.pk}", "contact": f"wx-{customer.pk}", "group": None,
                        "text": "在吗", "attachment": None, "amount": None, "sender_role": "customer", "raw": {},
                    },
                    actor_id=employee.pk, unit_id=employee.unit_id, customer_id=customer.pk,
                    source="test-archive", source_id=f"pool-m{n}", occurred_at=at,
                )
            ]
        )  # fmt: skip

    return say
