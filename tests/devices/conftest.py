import json
import types

import pytest
from django.test import Client

from custos.archive import signing
from custos.devices import services

SERIAL = iter(range(1, 10**6))


class Phone:
    """A work phone speaking the agent protocol through Django's test client, signed as the
    real agent signs (custos.archive.signing)."""

    def __init__(self, token: str, secret: str, device_id: int):
        self.token, self.secret, self.device_id = token, secret, device_id
        self.client = Client()

    def call(self, method: str, path: str, body=None):
        path = f"/api/v1/devices/agent/{path}"
        data = b"" if body is None else json.dumps(body).encode()
        headers = signing.signed_headers(self.token, self.secret, method, path, data)
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        fn = getattr(self.client, method.lower())
        if method == "GET":
            return fn(path, **extra)
        return fn(path, data, content_type="application/json", **extra)

    def heartbeat(self, **report):
        return self.call("POST", "heartbeat", report)

    def poll(self):
        return self.call("POST", "commands", {})

    def ack(self, command_id: int, ok=True, result="done"):
        return self.call("POST", f"commands/{command_id}/ack", {"ok": ok, "result": result})


def enrol_phone(actor, employee, *, serial=None, sim="89860000000000000001", number="13800000001"):
    serial = serial or f"SN-TEST-{next(SERIAL):05d}"
    device = services.register(
        actor=actor,
        serial=serial,
        employee=employee,
        model="华为 nova 12",
        os="HarmonyOS 4",
        phone_number=number,
    )
    _code, clear = services.issue_code(actor=actor, device=device)
    response = Client().post(
        "/api/v1/devices/agent/enrol",
        {"code": clear, "serial": serial, "sim_serial": sim, "phone_number": number},
        content_type="application/json",
    )
    assert response.status_code == 201, response.content
    data = response.json()
    device.refresh_from_db()
    return types.SimpleNamespace(
        device=device, phone=Phone(data["token"], data["secret"], data["device_id"]), answer=data
    )


@pytest.fixture
def enrolled(company):
    return lambda employee=None, **kw: enrol_phone(company.manager_a, employee or company.sales_a, **kw)
