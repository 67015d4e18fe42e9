"""Claims with limits: per day, held in total, the previous owner's cooldown, a reason."""

import pytest

from custos.core.errors import Conflict, InvalidInput, NotFound
from custos.customers.models import Customer
from custos.ledger.models import Entry
from custos.pool import recycle, services
from custos.pool.models import PoolMove

from .conftest import body


@pytest.fixture
def store_pool(company):
    return services.create_pool(
        actor=company.manager_a, unit=company.store_a, claims_per_day=2, max_held=3, cooldown_days=30
    )


def _pool_customers(company, make_customer, n, owner=None):
    made = []
    for i in range(n):
        c = make_customer(owner or company.service_a, name=f"公海{i}")
        services.put_back(actor=company.manager_a, customer=c, reason="清理")
        made.append(c)
    return made


def test_claims_per_day_and_a_reason(company, store_pool, make_customer):
    a, b, c = _pool_customers(company, make_customer, 3)
    with pytest.raises(InvalidInput):
        services.claim(actor=company.sales_a, customer_id=a.pk, reason="  ")
    services.claim(actor=company.sales_a, customer_id=a.pk, reason="老客户回访")
    services.claim(actor=company.sales_a, customer_id=b.pk, reason="老客户回访")
    with pytest.raises(Conflict) as exc:
        services.claim(actor=company.sales_a, customer_id=c.pk, reason="老客户回访")
    assert exc.value.code == "daily_limit"
    # nothing changed for the refused one
    c.refresh_from_db()
    assert c.status == Customer.Status.IN_POOL
    e = Entry.objects.filter(kind="customer.owner_changed", customer_id=a.pk).order_by("-seq").first()
    assert (
        body(e)["change"] == "claim"
        and body(e)["reason"] == "老客户回访"
        and e.actor_id == company.sales_a.pk
    )


def test_total_held(company, store_pool, make_customer):
    for i in range(3):
        make_customer(company.sales_a_peer, name=f"已有{i}")
    (a,) = _pool_customers(company, make_customer, 1)
    with pytest.raises(Conflict) as exc:
        services.claim(actor=company.sales_a_peer, customer_id=a.pk, reason="想跟")
    assert exc.value.code == "holding_limit"


def test_previous_owner_cooldown(company, store_pool, make_customer):
    services.add_rule(actor=company.manager_a, pool=store_pool, kind="no_follow_up", days=30, remind_days=0)
    c = make_customer(company.sales_a)
    recycle.run()
    with pytest.raises(Conflict) as exc:
        services.claim(actor=company.sales_a, customer_id=c.pk, reason="还是我的")
    assert exc.value.code == "cooldown"
    services.claim(actor=company.sales_a_peer, customer_id=c.pk, reason="接手")
    with pytest.raises(Conflict) as exc:
        services.claim(actor=company.service_a, customer_id=c.pk, reason="接手")
    assert exc.value.code == "already_claimed"


def test_over_the_api_409_already_claimed_and_404_outside(company, store_pool, make_customer, api):
    (a,) = _pool_customers(company, make_customer, 1)
    first = api(company.sales_a).post(f"pool/customers/{a.pk}/claim", {"reason": "我来"})
    assert first.status_code == 200, first.content
    assert first.json()["owner_id"] == company.sales_a.pk
    second = api(company.sales_a_peer).post(f"pool/customers/{a.pk}/claim", {"reason": "我也要"})
    assert second.status_code == 409 and second.json()["error"] == "already_claimed"
    assert "already" in second.json()["message"].lower() or "领取" in second.json()["message"]
    outsider = api(company.sales_b).post(f"pool/customers/{a.pk}/claim", {"reason": "x"})
    assert outsider.status_code == 404
    assert api(company.sales_a).post("pool/customers/99999999/claim", {"reason": "x"}).status_code == 404
    assert api(company.sales_a).post("pool/customers/abc/claim", {"reason": "x"}).status_code == 422
    assert PoolMove.objects.filter(kind="claimed").count() == 1


def test_auditor_claims_nothing(company, store_pool, make_customer, api):
    (a,) = _pool_customers(company, make_customer, 1)
    r = api(company.auditor).post(f"pool/customers/{a.pk}/claim", {"reason": "x"})
    assert r.status_code in (403, 404)
    with pytest.raises((NotFound, Exception)):
        services.claim(actor=company.auditor, customer_id=a.pk, reason="x")
    a.refresh_from_db()
    assert a.status == Customer.Status.IN_POOL
