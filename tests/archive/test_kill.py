"""The server killed (SIGKILL) in the middle of a batch: retrying loses no accepted event and
duplicates none. A real gunicorn on PostgreSQL, as in production; the test is the device."""

import http.client
import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from custos.archive import credentials, signing
from custos.archive.models import Message
from custos.ledger.models import Entry, LedgerState
from custos.ledger.verify import verify
from tests.conftest import hire

URL = "/api/v1/ingest/events"
BATCHES, SIZE = 4, 1000


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self):
        self.port = _free_port()
        d = connection.settings_dict
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "custos.settings",
            "DATABASE_URL": f"postgres://{d['USER']}:{d['PASSWORD'] or ''}@{d['HOST']}:{d['PORT'] or 5432}/{d['NAME']}",
        }
        self.process = None

    def start(self):
        self.process = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "gunicorn", "custos.wsgi:application", "--bind", f"127.0.0.1:{self.port}",
             "--workers", "2", "--threads", "2", "--log-level", "error", "--timeout", "120"],
            env=self.env,
            start_new_session=True,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                status, _ = self.request("GET", "/api/v1/ingest/blobs/" + "0" * 64, b"", {})
                if status == 401:
                    return
            except OSError:
                time.sleep(0.2)
        raise AssertionError("the server did not start")

    def kill(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def request(self, method, path, body, headers):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
        try:
            conn.request(method, path, body=body, headers={"Content-Type": "application/json", **headers})
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_sigkill_mid_batch_loses_nothing_and_duplicates_nothing(company):
    salesperson = hire(company.store_a, "sales")
    _row, token, secret = credentials.issue(actor=company.manager_a, kind="device", name="机", employee=salesperson)
    start = timezone.now() - timedelta(hours=2)
    batches = [
        [
            {
                "kind": "message.sent" if i % 2 else "message.received",
                "source_id": f"k{b}-{i}",
                "occurred_at": (start + timedelta(seconds=b * SIZE + i)).isoformat(),
                "payload": {"msgtype": "text", "conversation": f"wm{i % 20}", "contact": f"wm{i % 20}", "text": f"第{b}批第{i}条消息，价格可以再谈"},
            }
            for i in range(SIZE)
        ]
        for b in range(BATCHES)
    ]
    server = Server()
    server.start()
    rng = random.Random(5)
    interrupted = 0
    try:
        for events in batches:
            body = json.dumps({"events": events}).encode()
            outcome = {}

            def post(body=body, outcome=outcome):
                try:
                    outcome["status"], outcome["body"] = server.request("POST", URL, body, signing.signed_headers(token, secret, "POST", URL, body))
                except (OSError, http.client.HTTPException) as exc:
                    outcome["error"] = exc

            sender = threading.Thread(target=post)
            sender.start()
            time.sleep(rng.uniform(0.05, 0.6))
            server.kill()
            sender.join(timeout=60)
            interrupted += "error" in outcome
            server.start()
            # The device retries the same batch with a fresh signature until it gets an answer.
            status, answer = server.request("POST", URL, body, signing.signed_headers(token, secret, "POST", URL, body))
            assert status == 200, answer[:300]
            results = json.loads(answer)["results"]
            assert {r["status"] for r in results} <= {"accepted", "duplicate"}
            assert len(results) == SIZE
    finally:
        if server.process and server.process.poll() is None:
            server.kill()

    assert interrupted >= 1, "no request was cut off by the kill: the test proved nothing"
    mine = Entry.objects.filter(source=f"device:{salesperson.pk}")
    ids = list(mine.values_list("source_id", flat=True))
    assert len(ids) == len(set(ids)) == BATCHES * SIZE
    size = LedgerState.objects.get(pk=1).size
    assert list(Entry.objects.order_by("seq").values_list("seq", flat=True)) == list(range(size))
    assert Message.objects.filter(employee=salesperson).count() == BATCHES * SIZE
    assert verify().size == size
