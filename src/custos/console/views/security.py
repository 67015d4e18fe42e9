"""The signed-in person's own security (second factor, API tokens) and company-wide switches."""

import segno
from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from custos.access import login as login_service
from custos.access import policy, tokens
from custos.access.models import ApiToken
from custos.console.decorators import console_view
from custos.org import services as org_services
from custos.org.models import CompanySettings


class TokenForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    days = forms.IntegerField(label=gettext_lazy("Valid for (days)"), min_value=1, max_value=tokens.MAX_DAYS, initial=90)


@console_view
def security(request):
    me = request.viewer
    return render(
        request,
        "console/security.html",
        {
            "tokens": tokens.tokens_visible(me).filter(employee=me),
            "form": TokenForm(),
            "company": CompanySettings.get(),
            "new_token": request.session.pop("custos_new_token", None),
        },
    )


@require_POST
@console_view
def token_create(request):
    form = TokenForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("Give the token a name and a lifetime of 1 to %(max)s days.") % {"max": tokens.MAX_DAYS})
        return redirect("console:security")
    _token, clear = tokens.issue(
        actor=request.viewer, kind=ApiToken.Kind.PERSONAL, name=form.cleaned_data["name"], days=form.cleaned_data["days"]
    )
    # Shown once on the next page, then gone: only the hash is kept.
    request.session["custos_new_token"] = clear
    return redirect("console:security")


@require_POST
@console_view
def token_revoke(request, token_id: int):
    tokens.revoke(actor=request.viewer, token_id=token_id)
    messages.success(request, _("Token revoked."))
    return redirect("console:security")


@console_view
def totp_enrol(request):
    me = request.viewer
    if request.method == "POST":
        if request.POST.get("action") == "disable":
            login_service.disable_totp(me)
            messages.success(request, _("Second factor turned off."))
            return redirect("console:security")
        login_service.confirm_totp(me, request.POST.get("code", ""))
        messages.success(request, _("Second factor is on. You will be asked for a code at each sign-in."))
        return redirect("console:security")
    uri = login_service.start_totp_enrolment(me)
    qr = segno.make(uri, micro=False).svg_inline(scale=5)
    secret = uri.split("secret=")[1].split("&")[0]
    return render(request, "console/totp_enrol.html", {"qr": qr, "secret": secret})


@console_view
def company_settings(request):
    me = request.viewer
    policy.require_admin(me)
    if request.method == "POST":
        org_services.update_company_settings(actor=me, require_admin_totp=request.POST.get("require_admin_totp") == "on")
        messages.success(request, _("Settings saved."))
        return redirect("console:company_settings")
    return render(request, "console/company_settings.html", {"company": CompanySettings.get()})
