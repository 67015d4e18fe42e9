"""Locks a frozen or departed employee out on the very next request of any session."""

from django.contrib.auth import logout
from django.http import JsonResponse
from django.shortcuts import redirect
from django.utils.translation import gettext as _


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
        return self.get_response(request)
