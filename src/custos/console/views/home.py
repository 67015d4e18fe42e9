from django.shortcuts import render

from custos.access.scope import scope_of
from custos.console.decorators import console_view
from custos.org import selectors


@console_view
def home(request):
    me = request.viewer
    return render(
        request,
        "console/home.html",
        {"counts": selectors.home_counts(me), "scope": scope_of(me), "tree": selectors.unit_tree(me)},
    )
