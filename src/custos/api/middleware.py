"""Every answer under /api/ is JSON, including the ones Django makes itself (405, 413, 400 on a
malformed request), so a client always gets {"error": CODE, "message": TEXT}."""

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
