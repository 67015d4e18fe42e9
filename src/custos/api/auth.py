"""Who is calling the API: a personal token (Bearer) or the console's session (with CSRF).

Both resolve to the employee, the viewer every selector is given. Device and integration tokens
are for ingestion only and are refused here.
"""

from django.http import HttpRequest
from ninja.security import APIKeyCookie, HttpBearer

from custos.access import tokens
from custos.access.models import ApiToken
from custos.org.models import Employee


class PersonalToken(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str):
        found = tokens.authenticate(token)
        if found is None or found.kind != ApiToken.Kind.PERSONAL:
            return None
        request.viewer = found.employee
        return found.employee


class ConsoleSession(APIKeyCookie):
    """Django's session cookie; CSRF is enforced by APIKeyCookie for unsafe methods."""

    param_name = "sessionid"

    def authenticate(self, request: HttpRequest, key: str | None):
        user = request.user
        if not user.is_authenticated:
            return None
        employee = getattr(user, "employee", None)
        if employee is None or not employee.may_sign_in:
            return None
        request.viewer = employee
        return employee


def viewer(request: HttpRequest) -> Employee:
    return request.auth
