"""A customer's timeline: follow-ups, purchases, feedback and every ledger entry about them,
newest first, in one list.

Ledger entries that only echo a row shown here already (a follow-up added, ...) are left out.
A survivor of a merge shows the history of the records merged into it too. Pages go back in
time with `before`: each source is read at most `limit` rows deep, then merged.
"""

import json
from dataclasses import dataclass, field
from datetime import datetime, time

from django.utils import timezone

from custos.customers.models import Customer
from custos.customers.selectors import get_customer
from custos.ledger.models import Entry
from custos.org.models import Employee

ECHOES = ("customer.follow_up_added", "customer.purchase_added", "customer.feedback_added")
MAX_LIMIT = 200


@dataclass
class Item:
    at: datetime
    type: str  # follow_up | purchase | feedback | event
    kind: str  # the follow-up type, or the ledger entry kind
    summary: str
    actor_id: int | None = None
    actor_name: str = ""
    data: dict = field(default_factory=dict)


def _day_start(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def _follow_ups(customer: Customer, before, limit) -> list[Item]:
    qs = customer.follow_ups.select_related("author")
    if before:
        qs = qs.filter(occurred_at__lt=before)
    return [
        Item(
            f.occurred_at,
            "follow_up",
            f.kind,
            f.content,
            f.author_id,
            f.author.name,
            {
                "id": f.pk,
                "outcome": f.outcome,
                "next_follow_up_on": f.next_follow_up_on.isoformat() if f.next_follow_up_on else None,
            },
        )
        for f in qs[:limit]
    ]


def _purchases(customer: Customer, before, limit) -> list[Item]:
    qs = customer.purchases.select_related("recorded_by")
    if before:
        qs = qs.filter(purchased_on__lte=timezone.localdate(before))
    items = []
    for p in qs.order_by("-purchased_on", "-id")[:limit]:
        # A purchase has a day, not a time: it sorts at the start of its day.
        items.append(
            Item(
                _day_start(p.purchased_on),
                "purchase",
                "purchase",
                p.product,
                p.recorded_by_id,
                p.recorded_by.name if p.recorded_by else "",
                {
                    "id": p.pk,
                    "amount": str(p.amount),
                    "purchased_on": p.purchased_on.isoformat(),
                    "note": p.note,
                },
            )
        )
    return [i for i in items if before is None or i.at < before]


def _feedback(customer: Customer, before, limit) -> list[Item]:
    qs = customer.feedback.select_related("recorded_by")
    if before:
        qs = qs.filter(created_at__lt=before)
    return [
        Item(
            f.created_at,
            "feedback",
            "feedback",
            f.complaint,
            f.recorded_by_id,
            f.recorded_by.name if f.recorded_by else "",
            {"id": f.pk, "rating": f.rating},
        )
        for f in qs[:limit]
    ]


def _entries(customer: Customer, before, limit) -> list[Item]:
    ids = [customer.pk, *Customer.objects.filter(merged_into=customer).values_list("pk", flat=True)]
    qs = Entry.objects.filter(customer_id__in=ids).exclude(kind__in=ECHOES)
    if before:
        qs = qs.filter(occurred_at__lt=before)
    rows = list(qs.order_by("-occurred_at", "-seq")[:limit])
    return [
        Item(
            e.occurred_at,
            "event",
            e.kind,
            "",
            e.actor_id,
            "",
            {
                "seq": e.seq,
                "customer_id": e.customer_id,
                "payload": json.loads(e.payload) if e.payload else None,
            },
        )
        for e in rows
    ]


def timeline(
    viewer: Employee, customer_id: int, *, limit: int = 50, before: datetime | None = None
) -> list[Item]:
    customer = get_customer(viewer, customer_id)
    limit = max(1, min(limit, MAX_LIMIT))
    if before is not None and timezone.is_naive(before):
        before = timezone.make_aware(before)
    items = [
        *_follow_ups(customer, before, limit),
        *_purchases(customer, before, limit),
        *_feedback(customer, before, limit),
        *_entries(customer, before, limit),
    ]
    items.sort(key=lambda i: i.at, reverse=True)
    items = items[:limit]
    _name_people(items)
    return items


def _name_people(items: list[Item]) -> None:
    """Actors, and the people an ownership change moved the customer between, by name."""
    changes = [i for i in items if i.kind == "customer.owner_changed" and i.data.get("payload")]
    wanted = {i.actor_id for i in items if i.actor_id and not i.actor_name}
    for i in changes:
        wanted |= {i.data["payload"].get("from"), i.data["payload"].get("to")}
    wanted.discard(None)
    names = dict(Employee.objects.filter(pk__in=wanted).values_list("pk", "name")) if wanted else {}
    for i in items:
        if i.actor_id and not i.actor_name:
            i.actor_name = names.get(i.actor_id, "")
    for i in changes:
        i.data["from_name"] = names.get(i.data["payload"].get("from"), "")
        i.data["to_name"] = names.get(i.data["payload"].get("to"), "")
