"""Follow-ups, purchases and feedback as a projection of the ledger.

The services write each row and its ledger entry in one transaction; the entry carries every
field of the row (and its id). So the three tables can be rebuilt from the ledger alone:
`custos ledger rebuild customers.activity` empties them and replays the entries, merges
included. Fed with new entries as they are appended, the handler finds the rows already there
and does nothing but look.
"""

import json
from decimal import Decimal

from django.core.management.color import no_style
from django.db import connection
from django.utils.dateparse import parse_date, parse_datetime

from custos.customers.models import Feedback, FollowUp, Purchase

NAME = "customers.activity"
KINDS = ("customer.follow_up_added", "customer.purchase_added", "customer.feedback_added", "customer.merged")
MOVED_BY_MERGE = (FollowUp, Purchase, Feedback)


def _follow_up(entry, p: dict) -> FollowUp:
    return FollowUp(
        pk=p["follow_up"],
        customer_id=entry.customer_id,
        author_id=entry.actor_id,
        kind=p["kind"],
        content=p["content"],
        outcome=p.get("outcome", ""),
        occurred_at=parse_datetime(p["occurred_at"]),
        next_follow_up_on=parse_date(p["next_follow_up_on"]) if p.get("next_follow_up_on") else None,
    )


def _purchase(entry, p: dict) -> Purchase:
    return Purchase(
        pk=p["purchase"],
        customer_id=entry.customer_id,
        product=p["product"],
        amount=Decimal(p["amount"]),
        purchased_on=parse_date(p["purchased_on"]),
        note=p.get("note", ""),
        recorded_by_id=entry.actor_id,
    )


def _feedback(entry, p: dict) -> Feedback:
    return Feedback(
        pk=p["feedback"],
        customer_id=entry.customer_id,
        rating=p["rating"],
        complaint=p.get("complaint", ""),
        recorded_by_id=entry.actor_id,
        created_at=entry.occurred_at,
    )


BUILDERS = {
    "customer.follow_up_added": (FollowUp, _follow_up),
    "customer.purchase_added": (Purchase, _purchase),
    "customer.feedback_added": (Feedback, _feedback),
}


def handle(entries: list) -> None:
    pending: dict[type, list] = {}
    for entry in entries:
        if entry.payload is None:
            continue  # redacted under a retention rule: its row is meant to be gone
        payload = json.loads(entry.payload)
        if entry.kind == "customer.merged":
            # Apply what came before in order, then move the duplicate's rows as the merge did.
            _insert(pending)
            pending = {}
            for model in MOVED_BY_MERGE:
                model.objects.filter(customer_id=payload["duplicate"]).update(customer_id=entry.customer_id)
            continue
        if entry.kind not in BUILDERS:
            continue  # kinds are matched as prefixes: "customer.merged" brings "customer.merged_into" too
        model, build = BUILDERS[entry.kind]
        pending.setdefault(model, []).append(build(entry, payload))
    _insert(pending)


def _insert(pending: dict[type, list]) -> None:
    for model, rows in pending.items():
        there = set(model.objects.filter(pk__in=[r.pk for r in rows]).values_list("pk", flat=True))
        missing = [r for r in rows if r.pk not in there]
        if missing:
            model.objects.bulk_create(missing, batch_size=1000)
            # Rows came back with their old ids: move the id sequence past them (PostgreSQL).
            with connection.cursor() as cursor:
                for sql in connection.ops.sequence_reset_sql(no_style(), [model]):
                    cursor.execute(sql)


def reset() -> None:
    for model in MOVED_BY_MERGE:
        model.objects.all().delete()
