from django.shortcuts import render

from custos.access.scope import scope_of
from custos.alerts import selectors as alerts
from custos.console import workbench
from custos.console.decorators import console_view
from custos.handover import selectors as handover
from custos.handover.models import DepartureCase
from custos.org import selectors
from custos.org.models import Role


@console_view
def home(request):
    me = request.viewer
    # What needs a manager today comes first: open alerts and departures still being handed over.
    watches = me.role not in (Role.SALES, Role.SERVICE)
    return render(
        request,
        "console/home.html",
        {
            "counts": selectors.home_counts(me),
            "scope": scope_of(me),
            "tree": selectors.unit_tree(me),
            "open_alerts": alerts.open_count(me) if watches else None,
            "departures": handover.list_cases(me, status=DepartureCase.Status.OPEN).count() if watches else None,
            # The day's to-do: a salesperson's own customers, a manager's people and alerts.
            "bench": workbench.salesperson(me) if me.role in (Role.SALES, Role.SERVICE) else None,
            "watch": workbench.manager(me) if watches and me.role != Role.AUDITOR else None,
        },
    )
