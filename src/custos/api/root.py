"""The REST API under /api/v1: one NinjaAPI, the routers of each app, and JSON errors.

Every error is {"error": CODE, "message": TEXT} with a 4xx status.
"""

from django.db import DataError
from django.http import Http404
from django.utils.translation import gettext as _
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, ValidationError

import custos
from custos.api.auth import ConsoleSession, PersonalToken
from custos.core.errors import DomainError

api = NinjaAPI(
    title="Custos API",
    version=custos.__version__,
    description="客户资产卫士 Custos: customers, archive, alerts and handover, scoped to the caller.",
    auth=[PersonalToken(), ConsoleSession()],
    urls_namespace="api",
    docs_url="/docs",
)


def error(request, code: str, message: str, status: int, **extra):
    return api.create_response(request, {"error": code, "message": message, **extra}, status=status)


@api.exception_handler(DomainError)
def on_domain_error(request, exc: DomainError):
    return error(request, exc.code, exc.message, exc.status)


@api.exception_handler(ValidationError)
def on_validation_error(request, exc: ValidationError):
    details = [
        {"loc": [str(p) for p in e.get("loc", [])], "msg": str(e.get("msg", ""))} for e in exc.errors
    ]
    first = details[0] if details else {"loc": [], "msg": ""}
    where = ".".join(first["loc"][1:] or first["loc"])
    return error(request, "invalid", f"{where}: {first['msg']}" if where else first["msg"], 422, details=details)


@api.exception_handler(OverflowError)
@api.exception_handler(DataError)
def on_out_of_range(request, exc):
    # A number past 64 bits, or text the database cannot hold, in a filter or path no schema
    # bounded: the client's input, so a 422 rather than the database's error as a 500.
    return error(request, "invalid", _("A number or text in the request is out of range."), 422)


@api.exception_handler(AuthenticationError)
def on_auth_error(request, exc):
    return error(request, "unauthenticated", _("Sign in or send a valid personal API token."), 401)


@api.exception_handler(Http404)
def on_404(request, exc):
    return error(request, "not_found", _("Not found."), 404)


@api.exception_handler(HttpError)
def on_http_error(request, exc: HttpError):
    return error(request, "error", str(exc), exc.status_code)


def _mount():
    from custos.access.api import router as access_router
    from custos.alerts.api import router as alerts_router
    from custos.archive.api import router as archive_router
    from custos.care.api import router as care_router
    from custos.customers.api import router as customers_router
    from custos.customers.chain_api import router as chain_router
    from custos.devices.api import router as devices_router
    from custos.evidence.api import router as evidence_router
    from custos.field.api import router as field_router
    from custos.handover.api import router as handover_router
    from custos.insights.api import router as insights_router
    from custos.ledger.api import router as ledger_router
    from custos.org.api import router as org_router
    from custos.pool.api import router as pool_router
    from custos.wecom.api import router as wecom_router

    api.add_router("/", access_router)
    api.add_router("/", org_router)
    api.add_router("/ledger", ledger_router)
    api.add_router("/", customers_router)
    api.add_router("/", chain_router)
    api.add_router("/evidence", evidence_router)
    api.add_router("/", handover_router)
    api.add_router("/", pool_router)
    api.add_router("/", alerts_router)
    api.add_router("/", archive_router)
    api.add_router("/wecom", wecom_router)
    api.add_router("/devices", devices_router)
    api.add_router("/field", field_router)
    api.add_router("/care", care_router)
    api.add_router("/insights", insights_router)


_mount()
