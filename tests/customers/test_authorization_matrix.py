"""The attacker's view of the customers API, route by route.

Routes are read from the API itself, as tests/access/test_authorization_matrix.py does for
employees and units: a customer route added later is covered without editing this file. Each
request carries a body that would succeed for a viewer in scope, so the only reason left to
refuse it is the viewer.
"""

import re

import pytest

from custos.api.root import api as ninja_api
from custos.customers.models import Customer, CustomerContact, FollowUp
from custos.ledger.models import Entry

WRITE = {"post", "patch", "put", "delete"}


def customer_routes():
    for path, methods in ninja_api.get_openapi_schema()["paths"].items():
        path = path.removeprefix("/api/v1/")
        if path.startswith("customers"):
            for method in methods:
                yield method, path


def body_for(path: str, *, own_customer_id: int, own_employee_id: int) -> dict:
    bodies = {
        "customers": {"name": "新客户", "contacts": [{"kind": "phone", "value": "13711112222"}]},
        "customers/{customer_id}": {"grade": "A", "profile": {"notes": "改了"}},
        "customers/{customer_id}/contacts": {"kind": "phone", "value": "13733334444"},
        "customers/{customer_id}/contacts/{contact_id}/reveal": {"reason": "核对"},
        "customers/{customer_id}/owner": {"change": "transfer", "owner_id": own_employee_id, "reason": "x"},
        "customers/{customer_id}/archive": {"reason": "x"},
        "customers/{customer_id}/restore": {"reason": "x"},
        "customers/{customer_id}/merge": {"duplicate_id": own_customer_id, "reason": "x"},
        "customers/{customer_id}/follow-ups": {"kind": "call", "content": "打电话"},
        "customers/{customer_id}/purchases": {"product": "外套", "amount": "100.00"},
        "customers/{customer_id}/feedback": {"rating": 3, "complaint": "一般"},
        "customers/{customer_id}/product-lines": {"lines": []},
    }
    return bodies.get(path, {})


def fill(path: str, customer: Customer) -> str:
    # job_id: an import job of the customer's owner, which nobody else may touch either.
    from custos.customers import imports

    job = imports.upload(customer.owner, "a.csv", "客户\n某人\n".encode())
    values = {"customer_id": customer.pk, "contact_id": customer.contacts.first().pk, "job_id": job.pk}
    return re.sub(r"\{(\w+)\}", lambda m: str(values[m.group(1)]), path)


def call(client, method, url, body):
    if method == "get":
        return client.get(url)
    if method == "delete":
        return client.delete(url)
    return getattr(client, method)(url, body)


def snapshot(customer: Customer):
    c = Customer.objects.get(pk=customer.pk)
    return (
        Entry.objects.count(),
        (c.name, c.grade, c.status, c.owner_id, c.unit_id, c.profile, c.merged_into_id, c.updated_at),
        list(CustomerContact.objects.filter(customer=c).values_list("id", "removed_at")),
        FollowUp.objects.filter(customer=c).count(),
        c.purchases.count(),
        c.feedback.count(),
    )


@pytest.fixture
def stores(company, make_customer):
    """A customer in store A and one in store B, each with a phone and a WeChat id."""
    from custos.customers.services import NewContact

    a = make_customer(
        company.sales_a,
        name="天河的客户",
        contacts_in=[NewContact("phone", "13800001111"), NewContact("wechat", "tianhe_kh")],
    )
    b = make_customer(
        company.sales_b,
        name="徐汇的客户",
        contacts_in=[NewContact("phone", "13900002222"), NewContact("wechat", "xuhui_kh")],
    )
    return a, b


def test_the_matrix_covers_the_customer_routes():
    paths = {p for _m, p in customer_routes()}
    assert {
        "customers/{customer_id}",
        "customers/{customer_id}/contacts/{contact_id}/reveal",
        "customers/{customer_id}/merge",
        "customers/{customer_id}/owner",
        "customers/{customer_id}/timeline",
    } <= paths


@pytest.mark.parametrize("method,path", [r for r in customer_routes() if "{customer_id}" in r[1]])
@pytest.mark.parametrize("attacker", ["manager_a", "sales_a_peer", "sales_a2"])
def test_outside_the_scope_a_customer_does_not_exist(company, api, stores, method, path, attacker):
    own, target = stores
    if attacker != "manager_a":
        target = own  # sales_a's customer: a colleague's in the same store, or in the next store
    who = getattr(company, attacker)
    client = api(who)  # issuing the token is itself a ledger entry: before the snapshot
    before = snapshot(target)
    body = body_for(path, own_customer_id=own.pk, own_employee_id=who.pk)
    response = call(client, method, fill(path, target), body)
    assert response.status_code == 404, (method, path, response.content)
    assert response.json()["error"] == "not_found"
    text = response.content.decode()
    assert target.name not in text and "13900002222" not in text and "xuhui_kh" not in text
    assert snapshot(target) == before


@pytest.mark.parametrize(
    "method,path", [r for r in customer_routes() if "{" not in r[1] and r[0] == "get"]
)
def test_lists_do_not_leak_another_stores_customers(company, api, stores, method, path):
    response = api(company.manager_a).get(path)
    assert response.status_code == 200, (path, response.content)
    assert "徐汇的客户" not in response.content.decode()


@pytest.mark.parametrize("method,path", [r for r in customer_routes() if r[0] in WRITE])
def test_auditor_writes_nothing(company, api, stores, method, path):
    own, target = stores
    client = api(company.auditor)
    before = snapshot(target)
    body = body_for(path, own_customer_id=own.pk, own_employee_id=company.sales_a.pk)
    response = call(client, method, fill(path, target), body)
    assert response.status_code == 403, (method, path, response.content)
    assert snapshot(target) == before
    assert Customer.objects.count() == 2


def test_a_manager_cannot_merge_another_stores_customer_into_their_own(company, api, stores):
    own, target = stores
    client = api(company.manager_a)
    before = snapshot(target)
    response = client.post(f"customers/{own.pk}/merge", {"duplicate_id": target.pk, "reason": "吞并"})
    assert response.status_code == 404
    assert snapshot(target) == before


def test_a_manager_cannot_take_another_stores_customer_by_claim(company, api, stores):
    _own, target = stores
    from custos.customers import services

    services.change_owner(actor=company.sales_b, customer=target, kind="recycle")
    clients = [api(company.manager_a), api(company.sales_a)]
    before = snapshot(target)
    for client in clients:
        response = client.post(f"customers/{target.pk}/owner", {"change": "claim"})
        assert response.status_code == 404
    assert snapshot(target) == before


def test_a_manager_cannot_give_their_customer_to_another_store(company, api, stores):
    own, _target = stores
    response = api(company.manager_a).post(
        f"customers/{own.pk}/owner", {"change": "transfer", "owner_id": company.sales_b.pk}
    )
    assert response.status_code == 404
    assert Customer.objects.get(pk=own.pk).owner_id == company.sales_a.pk


@pytest.mark.parametrize("route", ["tokens", "ingest/credentials"])
def test_a_salesperson_cannot_mint_a_credential_to_sign_their_customers_chats(company, api, stores, route):
    """A device credential writes a customer's conversation history into the archive: a departing
    salesperson holding one for their own phone could sign made-up chats with their customers."""
    from custos.access.models import ApiToken

    own, _target = stores
    client = api(company.sales_a)
    before = snapshot(own)
    for who in (company.sales_a, company.sales_a_peer):
        response = client.post(route, {"name": "我的手机", "kind": "device", "employee_id": who.pk})
        assert response.status_code in (403, 404), response.content
    assert snapshot(own) == before
    assert not ApiToken.objects.filter(kind__in=("device", "integration")).exists()
