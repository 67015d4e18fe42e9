import itertools

import pytest

from custos.customers import services
from custos.customers.services import NewContact

_phones = itertools.count(13800000001)


def next_phone() -> str:
    """A valid, unused mainland mobile number for each call."""
    return str(next(_phones))


@pytest.fixture
def make_customer():
    """Create a customer through the service, as `actor` (default: the owner), with a fresh phone."""

    def make(owner, *, actor=None, name="张三", phone=None, **kwargs):
        contacts_in = kwargs.pop("contacts_in", None)
        if contacts_in is None:
            contacts_in = [NewContact("phone", phone or next_phone())]
        return services.create_customer(
            actor=actor or owner, name=name, owner=owner, contacts_in=contacts_in, **kwargs
        )

    return make
