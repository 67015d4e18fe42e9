"""Locks a frozen or departed employee out on the very next request of any session, and keeps
an employee who has not acknowledged the current monitoring policy on its page."""

from urllib.parse import urlencode

from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils.translation import gettext as _

from custos.access import transparency

# What an employee may still open before acknowledging: the policy itself, signing out, the
# language switch, static files and the API (scripts and phones have no one to read a page).
OPEN_BEFORE_ACK = ("/policy/", "/logout/", "/login/", "/i18n/", "/static/", "/api/")


class RefuseInactiveEmployeeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = request.user
        if user.is_authenticated:
            employee = getattr(user, "employee", None)
            if employee is None or not employee.may_sign_in:
                logout(request)
                if request.path.startswith("/api/"):
                    return JsonResponse(
                        {"error": "account_inactive", "message": _("This account is frozen or has left the company.")},
                        status=401,
                    )
                return redirect("console:login")
            if not request.path.startswith(OPEN_BEFORE_ACK) and transparency.needs_acknowledgement(employee):
                # A write waits too; it comes back to the page it was on only for a GET.
                query = urlencode({"next": request.get_full_path()}) if request.method == "GET" else ""
                return redirect(f"{reverse('access:policy')}{'?' + query if query else ''}")
        return self.get_response(request)
