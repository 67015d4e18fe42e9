"""Care's panel on a customer's page: member level, points and their history, who knows them."""

from django.template.loader import render_to_string

from custos.care import loyalty, scope
from custos.care.models import Responsibility


def customer_panel(request, customer) -> str:
    """The customers app has checked the customer is in the viewer's scope."""
    me = request.viewer
    lines = [{"kind": "business", "employee": customer.owner}] if customer.owner_id else []
    rows = Responsibility.objects.filter(customer=customer, ended_at__isnull=True).exclude(kind="business")
    lines += [{"kind": r.kind, "employee": r.employee} for r in rows.select_related("employee")]
    context = {
        "customer": customer,
        "loyalty": loyalty.summary(customer),
        "lines": lines,
        "may_redeem": me.role != "auditor" and scope.customers_in_reach(me).filter(pk=customer.pk).exists(),
        "may_split": me.role in ("manager", "executive", "admin"),
    }
    return render_to_string("care/_customer_panel.html", context, request=request)
