"""What the conversations say about a leaver: the one place handover reads chat facts.

Today these come straight from ledger entries (docs/events.md: message.sent / message.received
with actor_id = the employee, group.created, contact.deleted_by_customer). When the archive app
offers selectors for the same questions, only this module changes.
"""

import json
from dataclasses import dataclass
from datetime import datetime

from custos.archive import pseudonym
from custos.ledger.models import Entry

MESSAGES = ("message.sent", "message.received")


@dataclass(frozen=True)
class Unanswered:
    conversation: str
    customer_id: int | None
    contact: str
    last_at: datetime


@dataclass(frozen=True)
class Group:
    group: str
    name: str
    created_at: datetime
    covered: bool  # someone else of the company is in it: the group outlives the leaver


def _payload(entry) -> dict:
    try:
        p = json.loads(entry.payload) if entry.payload else {}
    except ValueError:
        return {}
    # an entry an older Custos appended names a WeChat contact by its id: its pseudonym instead
    return pseudonym.payload(p) if isinstance(p, dict) else {}


def unanswered(employee_id: int) -> list[Unanswered]:
    """Conversations of the employee whose last message is the customer's."""
    last: dict[str, tuple] = {}
    rows = (
        Entry.objects.filter(kind__in=MESSAGES, actor_id=employee_id)
        .order_by("occurred_at", "seq")
        .only("kind", "occurred_at", "customer_id", "payload")
    )
    for e in rows.iterator():
        p = _payload(e)
        key = p.get("conversation") or p.get("contact") or f"customer:{e.customer_id}"
        last[key] = (e.kind, e.customer_id, p.get("contact") or "", e.occurred_at, bool(p.get("group")))
    return [
        Unanswered(key, customer_id, contact, at)
        for key, (kind, customer_id, contact, at, is_group) in last.items()
        if kind == "message.received" and not is_group
    ]


def groups(employee_id: int) -> list[Group]:
    """Groups the employee created, and whether another employee is (or was added) in each."""
    created = {}
    for e in Entry.objects.filter(kind="group.created", actor_id=employee_id).order_by("seq"):
        p = _payload(e)
        gid = str(p.get("group") or "")
        if not gid:
            continue
        others = any(
            isinstance(m, dict) and m.get("employee") not in (None, employee_id) for m in p.get("members") or []
        )
        created[gid] = {"name": p.get("name") or gid, "at": e.occurred_at, "covered": others or bool(p.get("has_company_observer"))}
    if created:
        for e in Entry.objects.filter(kind="group.member_added").order_by("seq"):
            p = _payload(e)
            gid, member = str(p.get("group") or ""), p.get("member")
            if gid in created and isinstance(member, dict) and member.get("employee") not in (None, employee_id):
                created[gid]["covered"] = True
    return [Group(gid, g["name"], g["at"], g["covered"]) for gid, g in created.items()]


def deleted_by_customers(employee_id: int, since: datetime | None = None) -> list[dict]:
    """Customers who deleted the employee from their contacts (客户删除员工)."""
    qs = Entry.objects.filter(kind="contact.deleted_by_customer", actor_id=employee_id)
    if since is not None:
        qs = qs.filter(occurred_at__gte=since)
    return [
        {"customer_id": e.customer_id, "contact": _payload(e).get("contact") or "", "at": e.occurred_at}
        for e in qs.order_by("occurred_at", "seq")
    ]


def customers_replying(customer_ids, start: datetime, end: datetime) -> set[int]:
    """Of these customers, those who wrote to anyone of the company between start and end."""
    ids = list(customer_ids)
    found: set[int] = set()
    for i in range(0, len(ids), 500):
        found.update(
            Entry.objects.filter(
                kind="message.received", customer_id__in=ids[i : i + 500], occurred_at__gt=start, occurred_at__lte=end
            )
            .values_list("customer_id", flat=True)
            .distinct()
        )
    return found


def answered_since(customer_id: int, since: datetime) -> bool:
    """Has anyone of the company written to this customer after `since`?"""
    return Entry.objects.filter(kind="message.sent", customer_id=customer_id, occurred_at__gt=since).exists()
