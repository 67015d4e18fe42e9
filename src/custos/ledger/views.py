"""Console pages of the ledger: the audit trail in the viewer's scope, and the proof of one entry."""

import json

from django.shortcuts import render

from custos.console import words
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


def _choices(viewer) -> list[tuple[int, str]]:
    """Whom the viewer may filter by: staff in scope by name, not by employee number."""
    from custos.org.selectors import employees_visible

    return list(employees_visible(viewer).order_by("name").values_list("pk", "name")[:500])


@console_view
def entries(request):
    filters = {k: request.GET.get(k, "").strip() for k in ("kind", "actor", "customer", "since", "until")}
    actor = filters["actor"]
    customer = filters["customer"]
    if customer and not customer.isdigit():
        # A name, as people know customers: the first in scope that the search box would find.
        from custos.customers.selectors import Filters, list_customers

        found = list_customers(request.viewer, Filters(q=customer)).values_list("pk", flat=True).first()
        customer = str(found) if found else None
    qs = selectors.list_entries(
        request.viewer,
        kind=filters["kind"] or None,
        actor_id=id_or_none(actor),
        customer_id=id_or_none(customer) if customer is not None else -1,  # a name nobody has: nothing
        since=day_bound(filters["since"]),
        until=day_bound(filters["until"], end=True),
    ).order_by("-seq")
    page = page_ahead(qs, PAGE_SIZE, request.GET.get("page"))
    names = dict(Employee.objects.filter(pk__in={e.actor_id for e in page if e.actor_id}).values_list("pk", "name"))
    words.describe_entries(request.viewer, list(page))
    for entry in page:
        entry.actor_name = names.get(entry.actor_id, "")
    query = "&".join(f"{k}={v}" for k, v in filters.items() if v)
    return render(
        request,
        "ledger/entries.html",
        {
            "page": page,
            "filters": filters,
            "areas": [(a, words.AREAS.get(a, a)) for a in AREAS],
            "head": heads.latest(),
            "query": query,
            "actors": _choices(request.viewer),
        },
    )


@console_view
def entry(request, seq: int):
    found = selectors.get_entry(request.viewer, seq)
    found.body = _body(found)
    words.describe_entries(request.viewer, [found])
    found.actor_name = Employee.objects.filter(pk=found.actor_id).values_list("name", flat=True).first() or ""
    head = heads.latest()
    proof = selectors.inclusion(request.viewer, seq) if head and head.size > seq else None
    return render(request, "ledger/entry.html", {"entry": found, "proof": proof, "head": head})
