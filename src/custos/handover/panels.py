"""Panels that apps above handover add to a departure case's page (the WeCom connector's transfer
states), without handover importing them: each is a function (request, case) -> HTML or ''.
The request is there for its viewer (request.viewer) and for the forms' CSRF token."""

from collections.abc import Callable

_panels: dict[str, Callable] = {}


def register(name: str, render: Callable) -> None:
    _panels[name] = render


def render_all(request, case) -> list[str]:
    return [html for render in _panels.values() if (html := render(request, case))]
