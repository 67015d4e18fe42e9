"""Schemathesis over the OpenAPI spec: whatever a client sends, the API answers without a 5xx,
and every error it answers has the documented {"error", "message"} shape."""

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error

from custos.access import tokens
from custos.wsgi import application

schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", application)


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Schemathesis calls the WSGI app directly, so Django's request signals would close the
    database connection that holds the test's transaction; Django's own test client detaches
    the same handler for the same reason."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_never_answers_5xx(case, company):
    _token, clear = tokens.issue(actor=company.admin, kind="personal", name="fuzz")
    response = case.call(headers={"Authorization": f"Bearer {clear}"})
    case.validate_response(response, checks=[not_a_server_error])
    if response.status_code >= 400:
        body = response.json()
        assert set(body) >= {"error", "message"} and body["message"], body
