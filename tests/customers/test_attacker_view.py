"""Store A against store B, end to end: read, reveal, export, merge, import, in the API and the console.

The route-by-route matrix (test_authorization_matrix.py) checks each route's status; this file
checks what an attacker could still learn or change through the few that take a second customer
or return many (export, merge, unit filter, imports), on both sides of the house.
"""

import csv
import io

import pytest
from openpyxl import load_workbook

from custos.customers.models import Customer, CustomerContact
from custos.customers.services import NewContact
from custos.ledger.models import Entry


@pytest.fixture
def two_stores(company, make_customer):
    a = make_customer(company.sales_a, name="天河的客户", contacts_in=[NewContact("phone", "13800001111")])
    b = make_customer(company.sales_b, name="徐汇的客户", contacts_in=[NewContact("phone", "13900002222")])
    return a, b


def _merged() -> list:
    return list(Customer.objects.filter(merged_into__isnull=False).values_list("pk", flat=True))


def test_api_store_a_cannot_read_reveal_export_or_merge_store_b(company, api, two_stores):
    a, b = two_stores
    client = api(company.manager_a)
    contact_b = b.contacts.get()
    assert client.get(f"customers/{b.pk}").status_code == 404
    assert client.get(f"customers/{b.pk}/contacts").status_code == 404
    assert client.get(f"customers/{b.pk}/timeline").status_code == 404
    assert client.post(f"customers/{b.pk}/contacts/{contact_b.pk}/reveal", {"reason": "查"}).status_code == 404
    # B's contact through A's customer id: still nothing
    assert client.post(f"customers/{a.pk}/contacts/{contact_b.pk}/reveal", {"reason": "查"}).status_code == 404
    # search by B's full number, by B's unit, by B's owner: nothing of B
    assert client.get("customers", phone="13900002222").json()["count"] == 0
    assert client.get("customers", unit_id=company.store_b.pk).status_code == 404
    assert client.get("customers", owner_id=company.sales_b.pk).json()["count"] == 0
    # export: A's customers only, whatever the filters ask
    for body in ({"format": "csv"}, {"format": "csv", "q": "徐汇"}, {"format": "xlsx"}):
        response = client.post("customers/export", body)
        assert response.status_code == 200
        data = response.content
        text = (
            data.decode("utf-8-sig")
            if body["format"] == "csv"
            else "\n".join(
                str(c) for row in load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True) for c in row
            )
        )
        assert "徐汇的客户" not in text and "13900002222" not in text
    # merge either way round
    assert client.post(f"customers/{a.pk}/merge", {"duplicate_id": b.pk, "reason": "x"}).status_code == 404
    assert client.post(f"customers/{b.pk}/merge", {"duplicate_id": a.pk, "reason": "x"}).status_code == 404
    assert _merged() == []
    assert not Entry.objects.filter(kind__in=["access.revealed", "customer.merged"]).exists()


def test_console_store_a_cannot_read_reveal_export_or_merge_store_b(company, console, two_stores):
    a, b = two_stores
    client = console(company.manager_a)
    contact_b = b.contacts.get()
    assert client.get(f"/customers/{b.pk}/").status_code == 404
    assert client.post(f"/customers/{b.pk}/contacts/{contact_b.pk}/reveal/", {"reason": "x"}).status_code == 404
    assert client.post(f"/customers/{a.pk}/contacts/{contact_b.pk}/reveal/", {"reason": "x"}).status_code == 404
    assert "徐汇的客户" not in client.get("/customers/", {"q": "徐汇"}).content.decode()
    assert "徐汇的客户" not in client.get("/customers/", {"unit": company.store_b.pk}).content.decode()
    response = client.post("/customers/export/", {"format": "csv", "unit": company.store_b.pk})
    if response.status_code == 200:
        rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
        assert not any("徐汇的客户" in cell for row in rows for cell in row)
    client.post(f"/customers/{a.pk}/merge/", {"duplicate": b.pk, "reason": "吞并"})
    assert client.post(f"/customers/{b.pk}/merge/", {"duplicate": a.pk, "reason": "x"}).status_code == 404
    assert _merged() == []
    assert Customer.objects.get(pk=b.pk).status == "active"
    assert CustomerContact.objects.get(pk=contact_b.pk).customer_id == b.pk
    assert not Entry.objects.filter(kind__in=["access.revealed", "customer.merged"]).exists()


def test_store_a_cannot_import_over_store_b(company, console, two_stores):
    """An import naming B's staff as owners, or B's numbers, neither moves nor reveals B's customers."""
    from custos.customers import imports

    data = "客户,手机,负责人\n新人,13900002222,\n抢人,13811112222,sales_b\n".encode()
    job = imports.upload(company.manager_a, "a.csv", data)
    job = imports.check(company.manager_a, job.pk, {})
    messages = " ".join(d["message"] for d in job.report["duplicates"] + job.report["errors"])
    # B's number is a duplicate held "in another unit": the unit is named, never the customer or owner
    assert job.report["duplicate_count"] == 1 and "徐汇的客户" not in messages
    assert company.sales_b.name not in messages
    assert job.report["error_count"] == 1  # sales_b is not in A's scope
    assert Customer.objects.get(pk=two_stores[1].pk).owner_id == company.sales_b.pk
