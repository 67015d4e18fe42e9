"""Ingest throughput through the HTTP API, beside the bare ledger append in the same run.

    .venv/bin/python -m bench.ingest --postgres postgres://postgres@127.0.0.1:5432/postgres [--batches 20] [--clients 4] [--workers 2]

The app is served as in production (gunicorn, --workers processes, PostgreSQL); --clients
threads post signed batches of 1,000 chat messages each (realistic Chinese text, photos by
hash, red packets, calls), with signature checks, pydantic validation, customer matching,
ledger append and the archive projection on. Baseline: `append_batch` of the same number of
events in-process, projections off, on the same database. Prints messages/s and the ratio.
A database `custos_bench_ingest` is created and dropped.
"""

import argparse
import http.client
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import timedelta

from bench.common import admin

BENCH_DB = "custos_bench_ingest"
SIZE = 1000
TEXTS = ["您好，新款到了，周末来试试", "这件大衣活动价1280", "好的谢谢", "能便宜点吗", "已经帮您下单了，明天顺丰发出", "收到了挺合适的"]


def make_events(batch: int, rng: random.Random, now) -> list[dict]:
    out = []
    for i in range(SIZE):
        contact = f"wm{rng.randrange(300)}"
        roll = rng.random()
        payload = {"msgtype": "text", "conversation": contact, "contact": contact, "text": rng.choice(TEXTS)}
        kind = "message.sent" if roll < 0.5 else "message.received"
        if roll > 0.95:
            payload = {"msgtype": "image", "conversation": contact, "contact": contact,
                       "attachment": {"sha256": f"{rng.getrandbits(256):064x}", "name": "IMG.jpg", "size": 123456, "mime": "image/jpeg"}}  # fmt: skip
        elif roll > 0.93:
            kind, payload = "message.sent", {**payload, "msgtype": "redpacket", "amount": 888}
        out.append({"kind": kind, "source_id": f"b{batch}-{i}", "occurred_at": (now - timedelta(seconds=SIZE - i)).isoformat(), "payload": payload})
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", required=True, help="e.g. postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--clients", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    url = args.postgres.rsplit("/", 1)[0] + "/" + BENCH_DB
    admin(args.postgres, f"DROP DATABASE IF EXISTS {BENCH_DB}")
    admin(args.postgres, f"CREATE DATABASE {BENCH_DB}")
    tmp = tempfile.mkdtemp(prefix="custos-bench-ingest-")
    os.environ.update({"DJANGO_SETTINGS_MODULE": "custos.settings", "CUSTOS_DATA_DIR": tmp, "DATABASE_URL": url, "CUSTOS_LOG_LEVEL": "WARNING"})
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connections
    from django.utils import timezone

    call_command("migrate", verbosity=0)
    from custos.archive import credentials, signing
    from custos.ledger import projections
    from custos.ledger.services import Event, append_batch
    from custos.org import services
    from custos.org.models import Role, Unit

    hq = services.create_unit(actor=None, name="总部", kind=Unit.Kind.HQ, parent=None)
    boss = services.create_employee(actor=None, name="管理员", username="admin", password="bench-pass-123", unit=hq, role=Role.ADMIN)
    staff = services.create_employee(actor=None, name="小王", username="wang", password="bench-pass-123", unit=hq, role=Role.SALES)
    _row, token, secret = credentials.issue(actor=boss, kind="device", name="bench", employee=staff)
    rng, now = random.Random(1), timezone.now()
    batches = [json.dumps({"events": make_events(b, rng, now)}).encode() for b in range(args.batches)]

    # Baseline: the bare ledger append of as many events, projections off.
    saved = projections._registry.copy()
    projections._registry.clear()
    started = time.perf_counter()
    for b in range(args.batches):
        append_batch([Event("message.sent", e["payload"], actor_id=staff.pk, source="bare", source_id=e["source_id"]) for e in json.loads(batches[b])["events"]])
    bare = args.batches * SIZE / (time.perf_counter() - started)
    projections._registry.update(saved)
    connections.close_all()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "gunicorn", "custos.wsgi:application", "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.workers), "--threads", "2", "--log-level", "error", "--timeout", "300"],
        env=os.environ.copy(),
    )  # fmt: skip
    path = "/api/v1/ingest/events"

    def post(body: bytes) -> tuple[int, bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        try:
            headers = {"Content-Type": "application/json", **signing.signed_headers(token, secret, "POST", path, body)}
            conn.request("POST", path, body=body, headers=headers)
            r = conn.getresponse()
            return r.status, r.read()
        finally:
            conn.close()

    try:
        for _ in range(300):
            try:
                post(b"{}")
                break
            except OSError:
                time.sleep(0.2)
        post(json.dumps({"events": make_events(-1, rng, now)[:10]}).encode())  # warm up each worker a little
        queue = list(batches)
        lock, failures = threading.Lock(), []

        def client():
            while True:
                with lock:
                    if not queue:
                        return
                    body = queue.pop()
                status, answer = post(body)
                if status != 200 or json.loads(answer)["accepted"] != SIZE:
                    failures.append((status, answer[:200]))

        started = time.perf_counter()
        threads = [threading.Thread(target=client) for _ in range(args.clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=30)
        connections.close_all()
        admin(args.postgres, f"DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)")
    if failures:
        raise SystemExit(f"{len(failures)} batch(es) failed: {failures[0]}")
    http_rate = args.batches * SIZE / elapsed
    print(f"ingest over HTTP ({args.workers} workers, {args.clients} clients, batches of {SIZE}): {http_rate:,.0f} messages/s")
    print(f"bare ledger append_batch, projections off (same run):         {bare:,.0f} messages/s")
    print(f"ratio HTTP ingest / bare append: {http_rate / bare:.2f}")


if __name__ == "__main__":
    main()
