"""Console pages of the chain look-up (custos.customers.chain)."""

from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from custos.console.decorators import console_view
from custos.core.errors import NotFound
from custos.customers import chain


@require_http_methods(["GET", "POST"])
@console_view
def look_up(request):
    context = {"may": request.viewer.role in chain.WHO_MAY, "per_day": chain.per_day()}
    if request.method == "POST":
        try:
            customer = chain.look_up(
                viewer=request.viewer, phone=request.POST.get("phone", ""), member_no=request.POST.get("member_no", "")
            )
        except NotFound as exc:
            messages.error(request, exc.message)
            return redirect("chain:look_up")
        return redirect("chain:card", customer_id=customer.pk)
    return render(request, "customers/chain_look_up.html", context)


@console_view
def card(request, customer_id: int):
    return render(request, "customers/chain_card.html", {"card": chain.card(request.viewer, customer_id)})
