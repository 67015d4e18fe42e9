import itertools
import json
from datetime import timedelta

import pytest
from django.utils import timezone

from custos.customers import services as customer_services
from custos.customers.models import Customer
from custos.customers.services import NewContact

_phones = itertools.count(13600000001)


def body(entry) -> dict:
    return json.loads(entry.payload)


def days_ago(n):
    return timezone.now() - timedelta(days=n)


@pytest.fixture
def make_customer():
    """A customer owned by `owner`, created `age` days ago."""

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
