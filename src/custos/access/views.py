"""The monitoring policy page: read and acknowledge it; publishers write new versions; managers
see who in their scope has not acknowledged."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from custos.access import transparency
from custos.console.decorators import console_view
from custos.core.query import whole_or_none
from custos.org.models import Role

MANAGERS = {Role.MANAGER, Role.EXECUTIVE, Role.ADMIN, Role.AUDITOR}


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    return target if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}) else "/"


@console_view
def policy(request):
    me = request.viewer
    current = transparency.current()
    context = {
        "policy": current,
        "pending": transparency.needs_acknowledgement(me),
        "next": _next(request),
        "may_publish": me.role in transparency.PUBLISHERS,
        "versions": list(transparency.versions()[:20]),
    }
    if me.role in MANAGERS and current is not None:
        context["missing"] = list(transparency.not_acknowledged(me)[:200])
        context["acknowledged"], context["staff"] = transparency.acknowledged_count(me)
    return render(request, "access/policy.html", context)


@require_POST
@console_view
def acknowledge(request):
    transparency.acknowledge(employee=request.viewer, version=whole_or_none(request.POST.get("version")) or 0)
    messages.success(request, _("Thank you: your acknowledgement is recorded."))
    return redirect(_next(request))


@require_POST
@console_view
def publish(request):
    policy = transparency.publish(actor=request.viewer, body=request.POST.get("body", ""))
    messages.success(request, _("Version %(v)s published: everyone acknowledges it at their next page.") % {"v": policy.version})
    return redirect("access:policy")
