"""Background jobs through Redis and a real Huey consumer, as production runs them.

The queue is the machine's Redis (CUSTOS_TEST_REDIS_URL, redis://127.0.0.1:6379/0 by default)
under a name of this run's own, so runs and a developer's worker never share a queue. Where
Redis does not answer these tests are skipped, saying so; under CI=true that is a failure.
"""

import json
import os
import secrets
import signal
import subprocess
import sys
import threading

import pytest
from django.db import close_old_connections, connection
from huey.signals import SIGNAL_COMPLETE, SIGNAL_ERROR

from custos.alerts import services as alert_services
from custos.alerts.models import Delivery, Webhook
from custos.customers import imports
from custos.customers.models import Customer, ImportJob
from custos.ledger.services import append_batch
from tests.alerts.conftest import message_event
from tests.alerts.test_webhooks import Receiver
from tests.customers.test_import_jobs import MAPPING, rows, sheet
from tests.scale.conftest import wait_for


@pytest.fixture
def consumer(needs_redis, transactional_db):
    """The project's Huey, its queue moved onto Redis under a name of this test's own, and a
    consumer (two worker threads) taking jobs from it; `ran` lists the jobs it finished."""
    from huey.contrib.djhuey import HUEY
    from huey.storage import RedisStorage

    saved = (
        HUEY.storage,
        HUEY._immediate,
        {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)},
    )
    HUEY._immediate = False
    HUEY.storage = RedisStorage(f"custos-test-{secrets.token_hex(4)}", url=needs_redis)
    ran, failed = [], []
    lock = threading.Lock()

    def record(sig, task, exc=None):
        with lock:
            (failed if sig == SIGNAL_ERROR else ran).append(task.name)

    HUEY.signal(SIGNAL_COMPLETE, SIGNAL_ERROR)(record)
    if connection.vendor == "sqlite":
        # The SQLite test database is in memory with a shared cache, where a table another
        # connection is reading cannot be written: the worker's progress writes failed at once
        # ("database table is locked") whenever this thread's polling read came at that moment.
        # A file database (what Custos runs on) waits instead; here the polling reads take no lock.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA read_uncommitted = 1")
    worker = HUEY.create_consumer(workers=2, worker_type="thread", periodic=False, check_worker_health=False)
    worker.start()
    for sig, handler in saved[2].items():  # the consumer's handlers belong to a process of its own
        signal.signal(sig, handler)
    try:
        yield type("Run", (), {"ran": ran, "failed": failed, "storage": HUEY.storage})
    finally:
        worker.stop(graceful=True)
        HUEY.disconnect_signal(record)
        HUEY.storage.flush_all()
        HUEY.storage, HUEY._immediate = saved[0], saved[1]
        close_old_connections()


def test_settings_choose_redis_huey_when_custos_redis_url_is_set(needs_redis, tmp_path):
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'custos.settings'; django.setup();"
        "from huey.contrib.djhuey import HUEY; import json;"
        "print(json.dumps([type(HUEY).__name__, type(HUEY.storage).__name__, HUEY.immediate]))"
    )
    env = {
        k: v for k, v in os.environ.items() if k not in {"DJANGO_SETTINGS_MODULE", "CUSTOS_HUEY_IMMEDIATE"}
    }
    env["CUSTOS_DATA_DIR"] = str(tmp_path)
    chosen = subprocess.run([sys.executable, "-c", code], env={**env, "CUSTOS_REDIS_URL": needs_redis},
                            capture_output=True, text=True, check=True)  # fmt: skip
    assert json.loads(chosen.stdout) == ["RedisHuey", "RedisStorage", False]
    default = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(default.stdout) == ["SqliteHuey", "SqliteStorage", False]


def test_alert_delivery_goes_through_the_redis_queue_to_the_receiver(company, consumer):
    receiver = Receiver(fail=0)
    try:
        hook = alert_services.create_webhook(actor=company.admin, unit=company.hq, name="SIEM",
                                             kind=Webhook.Kind.GENERIC, url=receiver.url, secret="s3cret-key")  # fmt: skip
        append_batch([message_event(company.sales_a, "这单咱们私下交易")])
        delivered = wait_for(lambda: Delivery.objects.filter(webhook=hook, state="delivered").first())
        assert delivered.attempts == 1
        wait_for(lambda: receiver.requests)
        body = json.loads(receiver.requests[0]["body"])
        assert body["alert"]["id"] == delivered.alert_id
        assert "send_delivery" in " ".join(consumer.ran) and not consumer.failed
        assert len(receiver.requests) == Delivery.objects.filter(webhook=hook).count()  # each sent once
    finally:
        receiver.close()


def test_customer_import_is_checked_and_run_by_the_consumer(company, consumer):
    job = imports.upload(company.manager_a, "客户.csv", sheet(rows(25)))
    imports.check(company.manager_a, job.pk, {k.removeprefix("map_"): v for k, v in MAPPING.items()})
    wait_for(lambda: ImportJob.objects.get(pk=job.pk).status == "checked")
    assert ImportJob.objects.get(pk=job.pk).report["would_create"] == 25
    imports.queue(company.manager_a, job.pk)
    done = wait_for(lambda: ImportJob.objects.filter(pk=job.pk, status="done").first())
    assert (done.total, done.done) == (25, 25)
    assert Customer.objects.filter(owner=company.sales_a).count() == 25
    names = " ".join(consumer.ran)
    assert "check_import" in names and "run_import" in names and not consumer.failed
    assert consumer.storage.queue_size() == 0  # nothing left waiting in Redis
