"""Panels that apps above customers add to a customer's page (care's level, points and who knows
the customer), without customers importing them: each is a function (request, customer) -> HTML
or ''. The customer is already in the viewer's scope when a panel is asked."""

from collections.abc import Callable

_panels: dict[str, Callable] = {}


def register(name: str, render: Callable) -> None:
    _panels[name] = render


def render_all(request, customer) -> list[str]:
    return [html for render in _panels.values() if (html := render(request, customer))]
