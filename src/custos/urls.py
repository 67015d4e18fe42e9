from django.http import JsonResponse
from django.urls import include, path, re_path
from django.utils.translation import gettext as _

from custos.api.root import api


def api_not_found(request, rest=""):
    return JsonResponse({"error": "not_found", "message": _("No such API endpoint.")}, status=404)


urlpatterns = [
    path("api/v1/", api.urls),
    re_path(r"^api/(?P<rest>.*)$", api_not_found),
    path("i18n/", include("django.conf.urls.i18n")),
    path("policy/", include("custos.access.urls")),
    path("customers/chain/", include("custos.customers.chain_urls")),
    path("customers/", include("custos.customers.urls")),
    path("ledger/", include("custos.ledger.urls")),
    path("evidence/", include("custos.evidence.urls")),
    path("handover/", include("custos.handover.urls")),
    path("pool/", include("custos.pool.urls")),
    path("alerts/", include("custos.alerts.urls")),
    path("conversations/", include("custos.archive.urls")),
    path("wecom/", include("custos.wecom.urls")),
    path("devices/", include("custos.devices.urls")),
    path("field/", include("custos.field.urls")),
    path("care/", include("custos.care.urls")),
    path("insights/", include("custos.insights.urls")),
    path("", include("custos.console.urls")),
]
