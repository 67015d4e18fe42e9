import itertools

import pytest

from custos.ledger.services import Event, append_batch

_ids = itertools.count(1)


def message_event(employee, text, *, role="staff", msgtype="text", contact="wm_cust_1", customer_id=None,
                  amount=None, occurred_at=None, source="wecom-archive", source_id=None):  # fmt: skip
    """A message entry exactly as docs/events.md has the archive write it."""
    return Event(
        kind="message.sent" if role == "staff" else "message.received",
        payload={
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
        actor_id=employee.pk,
        unit_id=employee.unit_id,
        customer_id=customer_id,
        source=source,
        source_id=source_id or f"msg-{next(_ids)}",
        occurred_at=occurred_at,
    )


def event(kind, employee, payload, **fields):
    fields.setdefault("source", "wecom-archive")
    fields.setdefault("source_id", f"{kind}-{next(_ids)}")
    return Event(kind=kind, payload=payload, actor_id=employee.pk, unit_id=employee.unit_id, **fields)


@pytest.fixture
def send():
    def send(*events):
        return append_batch(list(events))

    return send


@pytest.fixture
def receiver():
    """make(fail=N, ...) → a real HTTP receiver on 127.0.0.1 (tests/alerts/test_webhooks.Receiver), closed after."""
    from tests.alerts.test_webhooks import Receiver

    made = []

    def make(**kwargs):
        made.append(Receiver(**kwargs))
        return made[-1]

    yield make
    for r in made:
        r.close()
