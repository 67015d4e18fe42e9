"""Console pages of devices."""

from django.shortcuts import render

from custos.console.decorators import console_view


@console_view
def index(request):
    return render(request, "devices/index.html", {})
