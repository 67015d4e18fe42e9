"""Every answer under /api/ is JSON, including the ones Django makes itself (405, 413, 400 on a
malformed request), so a client always gets {"error": CODE, "message": TEXT}."""

import json
from http import HTTPStatus

from django.http import JsonResponse

CODES = {400: "bad_request", 401: "unauthenticated", 403: "forbidden", 404: "not_found", 405: "method_not_allowed"}


class JsonApiErrorsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code >= 400
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            status = response.status_code
            wrapped = JsonResponse(
                {"error": CODES.get(status, "error"), "message": HTTPStatus(status).phrase}, status=status
            )
            if response.has_header("Allow"):
                wrapped["Allow"] = response["Allow"]
            return wrapped
        return response


def _holds_nul(value) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_holds_nul(k) or _holds_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_holds_nul(v) for v in value)
    return False


class RefuseNulMiddleware:
    """Text with a NUL character is refused with a 422 before any view sees it.

    PostgreSQL cannot store NUL in text columns and would answer with a 500; no client has a
    legitimate reason to send one. Django's form fields already refuse it on the console side.
    """

    MESSAGE = "Text may not contain the NUL character (\\u0000)."

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith("/api/") and self._carries_nul(request):
            return JsonResponse({"error": "invalid", "message": self.MESSAGE}, status=422)
        return self.get_response(request)

    @staticmethod
    def _carries_nul(request) -> bool:
        if "%00" in request.META.get("QUERY_STRING", "") or "\x00" in request.path:
            return True
        content_type = request.META.get("CONTENT_TYPE", "")
        if content_type.startswith("application/json"):
            body = request.body
            if b"\\u0000" not in body:
                return False
            try:
                return _holds_nul(json.loads(body))
            except ValueError:
                return False  # malformed JSON gets its own 400 from the API
        if content_type.startswith("application/x-www-form-urlencoded"):
            return b"%00" in request.body
        return False
