"""50 people claim the same 10 pool customers at the same moment, over HTTP, on PostgreSQL."""

import threading
from collections import Counter

import pytest
import requests
from django.core.servers.basehttp import ThreadedWSGIServer
from django.test.testcases import LiveServerThread, _StaticFilesHandler

from custos.access import tokens
from custos.access.models import ApiToken
from custos.customers.models import Customer
from custos.ledger.models import Entry
from custos.ledger.verify import verify
from custos.org.models import Role
from custos.pool import services
from custos.pool.models import PoolMove

from ..conftest import hire


class _Backlog(ThreadedWSGIServer):
    # Django's test server listens with a backlog of 10: fifty clients connecting at once would
    # be reset before reaching Django. A real deployment's server queues them; so does this one.
    request_queue_size = 128


class _Server(LiveServerThread):
    server_class = _Backlog


@pytest.fixture
def server():
    thread = _Server("127.0.0.1", _StaticFilesHandler)
    thread.daemon = True
    thread.start()
    thread.is_ready.wait()
    if thread.error:
        raise thread.error
    yield f"http://127.0.0.1:{thread.port}"
    thread.terminate()


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_fifty_claims_on_ten_customers_ten_succeed_the_rest_409(server, company, make_customer):
    services.create_pool(actor=company.manager_a, unit=company.store_a, claims_per_day=5, max_held=100)
    customers = []
    for i in range(10):
        c = make_customer(company.service_a, name=f"抢手客户{i}")
        services.put_back(actor=company.manager_a, customer=c, reason="公海")
        customers.append(c)
    people = [hire(company.store_a, Role.SALES) for _ in range(50)]
    keys = [tokens.issue(actor=p, kind=ApiToken.Kind.PERSONAL, name="race")[1] for p in people]
    barrier = threading.Barrier(len(people))
    results: list[tuple[int, int, dict]] = []
    lock = threading.Lock()

    def claim(i):
        target = customers[i % 10].pk
        barrier.wait()
        r = requests.post(
            f"{server}/api/v1/pool/customers/{target}/claim",
            json={"reason": "抢单"},
            headers={"Authorization": f"Bearer {keys[i]}"},
            timeout=60,
        )
        with lock:
            results.append((target, r.status_code, r.json()))

    threads = [threading.Thread(target=claim, args=(i,)) for i in range(len(people))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    codes = Counter(code for _t, code, _b in results)
    assert codes == {200: 10, 409: 40}, (codes, [b for _t, c, b in results if c not in (200, 409)][:3])
    assert {b["error"] for _t, c, b in results if c == 409} == {"already_claimed"}
    # each customer won once, by one of the people who tried for it
    winners = Counter(t for t, c, _b in results if c == 200)
    assert winners == {c.pk: 1 for c in customers}
    owners = dict(Customer.objects.filter(pk__in=[c.pk for c in customers]).values_list("pk", "owner_id"))
    for t, c, b in results:
        if c == 200:
            assert owners[t] == b["owner_id"]
    assert Customer.objects.filter(pk__in=[c.pk for c in customers], status="active").count() == 10
    claims = Entry.objects.filter(
        kind="customer.owner_changed", customer_id__in=[c.pk for c in customers]
    ).order_by("seq")
    assert sum('"claim"' in e.payload for e in claims) == 10
    assert PoolMove.objects.filter(kind="claimed").count() == 10
    assert verify().size == Entry.objects.count()
