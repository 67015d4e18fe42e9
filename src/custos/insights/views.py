"""Console pages of insights: three dashboards (company, team, mine), each chart beside the table
of its numbers and a CSV of that table, and the weekly report as a PDF."""

import csv
import io

from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone

from custos.console.decorators import console_view
from custos.insights import report, scoring, selectors
from custos.ledger.services import append

DASHBOARDS = ("company", "team", "mine")


@console_view
def index(request):
    return redirect("insights:dashboard", name=selectors.default_dashboard(request.viewer))


@console_view
def dashboard(request, name):
    if name not in DASHBOARDS:
        raise Http404
    data = selectors.dashboard_for(request.viewer, name)
    panels = [
        {**p.as_dict(), "table": [
            {"cells": list(zip(p.columns, row, strict=False)), "link": p.links[i] if p.links else ""}
            for i, row in enumerate(p.rows)
        ]}
        for p in data["panels"]
    ]  # fmt: skip
    context = {
        "name": name,
        "day": data["day"],
        "panels": panels,
        "charts": [p.as_dict() for p in data["panels"] if p.chart != "none" and p.rows],
        "weights": [(scoring.NAMES[k], v) for k, v in scoring.WEIGHTS.items()],
        "at_risk": scoring.AT_RISK,
        "dashboards": DASHBOARDS,
    }
    return render(request, "insights/dashboard.html", context)


@console_view
def panel_csv(request, name, panel):
    if name not in DASHBOARDS:
        raise Http404
    data = selectors.dashboard_for(request.viewer, name)
    found = next((p for p in data["panels"] if p.id == panel), None)
    if found is None:
        raise Http404
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(found.columns)
    writer.writerows(found.rows)
    me = request.viewer
    # A list of named customers leaving the console is worth a line in the ledger.
    append("insights.csv_downloaded", {"dashboard": name, "panel": panel, "rows": len(found.rows)},
           actor_id=me.pk, unit_id=me.unit_id, source="console",
           source_id=f"insights-csv:{me.pk}:{name}:{panel}:{timezone.now().isoformat()}")  # fmt: skip
    response = HttpResponse(buffer.getvalue().encode("utf-8-sig"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="insights-{name}-{panel}-{data["day"]}.csv"'
    return response


@console_view
def report_pdf(request):
    pdf = report.pdf(request.viewer, base_url=request.build_absolute_uri("/").rstrip("/"))
    response = HttpResponse(pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="insights-weekly-{selectors.latest_day()}.pdf"'
    return response
