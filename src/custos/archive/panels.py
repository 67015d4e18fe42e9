"""The archive's panel on a customer's page: the customer's word on archiving, where a source
reported one (custos.archive.consent)."""

from django.template.loader import render_to_string

from custos.archive.models import ExternalContact


def consent_panel(request, customer) -> str:
    contacts = list(
        ExternalContact.objects.filter(customer_id=customer.pk)
        .exclude(consent="")
        .order_by("-consent_at")
        .values("name", "external_id", "consent", "consent_at")[:10]
    )
    if not contacts:
        return ""
    return render_to_string("archive/_consent_panel.html", {"contacts": contacts}, request=request)
