"""Console pages of the ledger: the audit trail in the viewer's scope, and the proof of one entry."""

import json
from datetime import datetime, time

from django.shortcuts import render
from django.utils import timezone

from custos.console.decorators import console_view
from custos.core.paging import page_ahead
from custos.ledger import heads, selectors
from custos.org.models import Employee

PAGE_SIZE = 50
# The areas a person filters by; the values are kind prefixes (docs/events.md).
AREAS = ["auth.", "org.", "customer.", "access.", "risk.", "message.", "call.", "contact.", "alert.", "retention."]


def _day(value: str | None, *, end: bool = False) -> datetime | None:
    try:
        day = datetime.strptime(value or "", "%Y-%m-%d").date()
    except ValueError:
        return None
    at = datetime.combine(day, time.max if end else time.min)
    return timezone.make_aware(at)


def _body(entry) -> str:
    return "" if entry.payload is None else json.dumps(json.loads(entry.payload), ensure_ascii=False, indent=1)


@console_view
def entries(request):
    filters = {k: request.GET.get(k, "").strip() for k in ("kind", "actor", "customer", "since", "until")}
    actor = filters["actor"]
    customer = filters["customer"]
    qs = selectors.list_entries(
        request.viewer,
        kind=filters["kind"] or None,
        actor_id=int(actor) if actor.isdigit() and len(actor) < 19 else None,
        customer_id=int(customer) if customer.isdigit() and len(customer) < 19 else None,
        since=_day(filters["since"]),
        until=_day(filters["until"], end=True),
    ).order_by("-seq")
    page = page_ahead(qs, PAGE_SIZE, request.GET.get("page"))
    names = dict(Employee.objects.filter(pk__in={e.actor_id for e in page if e.actor_id}).values_list("pk", "name"))
    for entry in page:
        entry.actor_name = names.get(entry.actor_id, "")
        entry.body = _body(entry)
    query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    return render(
        request,
        "ledger/entries.html",
        {"page": page, "filters": filters, "areas": AREAS, "head": heads.latest(), "query": query},
    )


@console_view
def entry(request, seq: int):
    found = selectors.get_entry(request.viewer, seq)
    found.body = _body(found)
    head = heads.latest()
    proof = selectors.inclusion(request.viewer, seq) if head and head.size > seq else None
    return render(request, "ledger/entry.html", {"entry": found, "proof": proof, "head": head})
