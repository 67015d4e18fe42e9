"""Console pages of the ledger: the audit trail in the viewer's scope, and the proof of one entry."""

import json

from django.shortcuts import render

from custos.console.decorators import console_view
from custos.core.paging import page_ahead
from custos.core.query import day_bound, id_or_none
from custos.ledger import heads, selectors
from custos.org.models import Employee

PAGE_SIZE = 50
# The areas a person filters by; the values are kind prefixes (docs/events.md).
AREAS = ["auth.", "org.", "customer.", "access.", "risk.", "message.", "call.", "contact.", "alert.", "retention."]


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
        actor_id=id_or_none(actor),
        customer_id=id_or_none(customer),
        since=day_bound(filters["since"]),
        until=day_bound(filters["until"], end=True),
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
