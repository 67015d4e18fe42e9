"""Signing in and out of the console: password, then the TOTP code when enrolled."""

from django import forms
from django.contrib import messages
from django.contrib.auth import login, logout
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from custos.access import login as login_service
from custos.core.errors import DomainError
from custos.org.models import Employee

PENDING = "custos_pending_login"


class LoginForm(forms.Form):
    username = forms.CharField(label=gettext_lazy("User name"), max_length=150)
    password = forms.CharField(label=gettext_lazy("Password"), widget=forms.PasswordInput, max_length=128)
    # Optional here, asked on the next page otherwise: with it, a name that must wait after
    # someone else's wrong guesses still signs in (custos.access.login).
    code = forms.CharField(
        label=gettext_lazy("Authenticator code (if you use one)"),
        max_length=10,
        required=False,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class CodeForm(forms.Form):
    code = forms.CharField(label=gettext_lazy("6-digit code"), max_length=10)


_client_ip = login_service.client_address


def _next_url(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        return target
    return "/"


def _finish(request, employee: Employee, method: str):
    login(request, employee.user, backend="django.contrib.auth.backends.ModelBackend")
    login_service.record_login(employee, ip=_client_ip(request), method=method)
    return employee


def login_view(request):
    if request.user.is_authenticated:
        return redirect("console:home")
    form = LoginForm(request.POST or None)
    status = 200
    if request.method == "POST" and form.is_valid():
        try:
            result = login_service.check_password(
                form.cleaned_data["username"],
                form.cleaned_data["password"],
                ip=_client_ip(request),
                code=form.cleaned_data["code"],
            )
        except DomainError as exc:
            form.add_error(None, exc.message)
            status = exc.status
        else:
            if result.totp_verified:
                _finish(request, result.employee, "password+totp")
                return redirect(_next_url(request))
            if result.needs_totp:
                request.session[PENDING] = {"employee": result.employee.pk, "next": _next_url(request)}
                return redirect("console:login_totp")
            _finish(request, result.employee, "password")
            if result.must_enrol_totp:
                messages.warning(request, _("The company requires administrators to use a second factor. Set it up now."))
                return redirect("console:totp_enrol")
            return redirect(_next_url(request))
    # A refusal answers 200 like the form itself (the same for every name); a waiting address 429.
    return render(
        request, "console/login.html", {"form": form, "next": request.GET.get("next", "")}, status=429 if status == 429 else 200
    )


def totp_view(request):
    pending = request.session.get(PENDING)
    if not pending:
        return redirect("console:login")
    employee = Employee.objects.select_related("user").filter(pk=pending["employee"]).first()
    if employee is None or not employee.may_sign_in:
        request.session.pop(PENDING, None)
        return redirect("console:login")
    form = CodeForm(request.POST or None)
    username = employee.user.username
    if request.method == "POST" and form.is_valid():
        refusal = login_service.refused_now(username, _client_ip(request))
        if refusal is not None:
            request.session.pop(PENDING, None)
            messages.error(request, refusal.message)
            return redirect("console:login")
        if login_service.verify_totp(employee, form.cleaned_data["code"]):
            request.session.pop(PENDING, None)
            target = pending.get("next") or "/"
            login_service.second_factor_passed(employee)
            _finish(request, employee, "password+totp")
            return redirect(target)
        # A wrong code counts against the name's second factor (and the address).
        login_service.record_failure(username, ip=_client_ip(request), reason="totp", employee=employee)
        form.add_error("code", _("That code is not right."))
    return render(request, "console/login_totp.html", {"form": form})


@require_POST
def logout_view(request):
    logout(request)
    return redirect("console:login")
