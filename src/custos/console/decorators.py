"""What every console page needs: a signed-in, active employee, and domain errors shown to a person."""

import functools

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.utils.http import url_has_allowed_host_and_scheme

from custos.core.errors import DomainError, NotFound


def _back(request) -> str:
    """Where to show the error: the page the person came from, if it is ours, else home."""
    referer = request.headers.get("Referer", "")
    if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()}):
        return referer
    return "/"


def console_view(view):
    @login_required
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        request.viewer = request.user.employee
        try:
            return view(request, *args, **kwargs)
        except NotFound as exc:
            raise Http404(exc.message) from exc
        except (DomainError, ValidationError) as exc:
            messages.error(request, exc.message if isinstance(exc, DomainError) else " ".join(exc.messages))
            return redirect(_back(request))

    return wrapper
