import hashlib
import json
import types
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from custos.access.models import ApiToken
from custos.archive import credentials, signing
from custos.org.models import Employee, Role


class Device:
    """A work phone: a device token and its secret, signing every request as the agent would."""

    def __init__(self, employee, actor=None, kind=ApiToken.Kind.DEVICE, unit=None):
        # Handed out by an administrator, as it must be: nobody issues their own phone's credential.
        self.token_row, self.token, self.secret = credentials.issue(
            actor=actor or Employee.objects.filter(role=Role.ADMIN).earliest("pk"),
            kind=kind,
            name="工作手机",
            employee=employee if kind == ApiToken.Kind.DEVICE else None,
            unit=unit,
        )
        self.client = Client()

    def headers(self, method, path, body=b""):
        h = signing.signed_headers(self.token, self.secret, method, path, body)
        return {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in h.items()}

    def post(self, path, data, **extra):
        body = data if isinstance(data, bytes) else json.dumps(data).encode()
        return self.client.post(path, body, content_type="application/json", **self.headers("POST", path, body), **extra)

    def put(self, path, body: bytes):
        return self.client.put(path, body, content_type="application/octet-stream", **self.headers("PUT", path, body))

    def get(self, path):
        return self.client.get(path, **self.headers("GET", path))

    def send(self, *events):
        return self.post("/api/v1/ingest/events", {"events": list(events)})

    def upload(self, data: bytes) -> str:
        sha = hashlib.sha256(data).hexdigest()
        r = self.put(f"/api/v1/ingest/blobs/{sha}", data)
        assert r.status_code == 201, r.content
        return sha


def msg(source_id, text="你好", kind="message.sent", contact="wm_cust_1", at=None, **payload):
    body = {
        "msgtype": "text",
        "conversation": payload.pop("conversation", contact),
        "contact": contact,
        "text": text,
    }
    body.update(payload)
    return {
        "kind": kind,
        "source_id": source_id,
        "occurred_at": (at or timezone.now() - timedelta(minutes=1)).isoformat(),
        "payload": body,
    }


def event(kind, source_id, at=None, **payload):
    return {
        "kind": kind,
        "source_id": source_id,
        "occurred_at": (at or timezone.now() - timedelta(minutes=1)).isoformat(),
        "payload": payload,
    }


@pytest.fixture
def device():
    return Device


@pytest.fixture
def ev():
    return types.SimpleNamespace(msg=msg, event=event)
