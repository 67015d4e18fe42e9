"""The agent protocol is in the OpenAPI: every route a phone calls, with its signing headers, the
signing recipe, and its request and answer schemas; a phone signing by that recipe alone (not
through custos.archive.signing) is let in."""

import hashlib
import hmac
import json
import secrets
import time

from django.test import Client

from custos.devices import services

AGENT_ROUTES = {
    ("post", "/api/v1/devices/agent/heartbeat"),
    ("get", "/api/v1/devices/agent/policy"),
    ("post", "/api/v1/devices/agent/policy"),
    ("post", "/api/v1/devices/agent/commands"),
    ("post", "/api/v1/devices/agent/commands/{command_id}/ack"),
    ("post", "/api/v1/field/agent/check-ins"),
    ("post", "/api/v1/field/agent/check-outs"),
    ("post", "/api/v1/field/agent/track"),
    ("get", "/api/v1/field/agent/sites"),
}


def test_every_agent_route_is_documented_with_its_signature(db):
    schema = Client().get("/api/v1/openapi.json").json()
    enrol = schema["paths"]["/api/v1/devices/agent/enrol"]["post"]
    assert "201" in enrol["responses"] and "requestBody" in enrol
    for method, path in AGENT_ROUTES:
        op = schema["paths"][path][method]
        headers = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
        signed_by_scheme = any("DeviceSignature" in s for s in op.get("security", []))
        assert {"Authorization", "X-Custos-Timestamp", "X-Custos-Nonce"} <= headers, path
        assert "X-Custos-Signature" in headers or signed_by_scheme, path
        assert "HMAC-SHA256" in op["description"] and "X-Custos-Nonce" in op["description"], path
        if method == "post" and not path.endswith("/commands"):
            assert "requestBody" in op, path
        assert any(code.startswith("2") for code in op["responses"]), path


def _by_the_recipe(token, secret, method, path, body: bytes) -> dict:
    """The headers as the OpenAPI description says to make them, with nothing from Custos."""
    timestamp, nonce = str(int(time.time())), secrets.token_hex(12)
    digest = hashlib.sha256(body).hexdigest()
    text = "\n".join([method, path, timestamp, nonce, digest]).encode()
    return {
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "HTTP_X_CUSTOS_TIMESTAMP": timestamp,
        "HTTP_X_CUSTOS_NONCE": nonce,
        "HTTP_X_CUSTOS_SIGNATURE": hmac.new(secret.encode(), text, hashlib.sha256).hexdigest(),
    }


def test_a_phone_written_from_the_openapi_alone_heartbeats(company):
    device = services.register(actor=company.manager_a, serial="SN-OPENAPI-1", employee=company.sales_a)
    _code, clear = services.issue_code(actor=company.manager_a, device=device)
    client = Client()
    enrolled = client.post(
        "/api/v1/devices/agent/enrol",
        {"code": clear, "serial": "SN-OPENAPI-1"},
        content_type="application/json",
    ).json()
    body = json.dumps({"battery": 77, "network": "5G"}).encode()
    path = "/api/v1/devices/agent/heartbeat"
    headers = _by_the_recipe(enrolled["token"], enrolled["secret"], "POST", path, body)
    answer = client.post(path, body, content_type="application/json", **headers)
    assert answer.status_code == 200, answer.content
    assert set(answer.json()) == {"policy_revision", "commands_waiting", "heartbeat_seconds", "server_time"}
    # The same nonce again: refused with the reason.
    again = client.post(path, body, content_type="application/json", **headers)
    assert again.status_code == 401 and again.json()["message"]
