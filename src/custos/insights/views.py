"""Console pages of insights."""

from django.shortcuts import render

from custos.console.decorators import console_view


@console_view
def index(request):
    return render(request, "insights/index.html", {})
