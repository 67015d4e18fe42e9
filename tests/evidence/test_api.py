"""Evidence packages through the API: scope, the background build, download by the requester only."""

import io
import json
import zipfile
from datetime import timedelta

from custos.evidence import offline
from custos.ledger.models import Entry

from .conftest import T0


def iso(t):
    return t.isoformat().replace("+00:00", "Z")


def test_manager_packages_a_customer_of_their_store(chats, api):
    c = chats.company
    client = api(c.manager_a)
    response = client.post("evidence/packages", {"customer_id": chats.zhang.pk})
    assert response.status_code == 202, response.content
    package = response.json()
    # Huey runs immediately in tests: the build is already done.
    status = client.get(f"evidence/packages/{package['id']}").json()
    assert status["status"] == "done" and status["percent"] == 100
    assert status["entries"] == 5  # customer.created, three messages, the alert one of them raised
    created = Entry.objects.get(seq=status["ledger_seq"])
    assert created.kind == "evidence.package_created" and created.actor_id == c.manager_a.pk
    payload = json.loads(created.payload)
    assert payload["manifest_sha256"] == status["manifest_sha256"]
    assert payload["selection"]["customer_id"] == chats.zhang.pk

    download = client.get(f"evidence/packages/{package['id']}/download")
    assert download.status_code == 200
    data = b"".join(download.streaming_content)
    report = offline.verify_package(io.BytesIO(data))
    assert report.ok, report.problems
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        assert offline.MANIFEST in zf.namelist()
    audit = Entry.objects.filter(kind="evidence.package_downloaded").get()
    assert audit.actor_id == c.manager_a.pk and json.loads(audit.payload)["package"] == package["id"]


def test_another_stores_customer_or_employee_is_not_found(chats, api):
    c = chats.company
    client = api(c.manager_a)
    for body in ({"customer_id": chats.wang.pk}, {"employee_id": c.sales_b.pk}):
        response = client.post("evidence/packages", body)
        assert response.status_code == 404, response.content
    assert not Entry.objects.filter(kind="evidence.package_created").exists()


def test_time_range_holds_only_entries_in_scope(chats, api):
    c = chats.company
    response = api(c.manager_b).post(
        "evidence/packages", {"since": iso(T0 - timedelta(days=1)), "until": iso(T0 + timedelta(days=30))}
    )
    assert response.status_code == 202
    status = api(c.manager_b).get(f"evidence/packages/{response.json()['id']}").json()
    assert status["status"] == "done"
    assert status["entries"] == 1  # only 徐汇店's message; store A's are outside manager_b's scope


def test_employee_selection_and_time_range_combined(chats, api):
    c = chats.company
    client = api(c.auditor)
    body = {"employee_id": c.sales_a.pk, "since": iso(T0), "until": iso(T0 + timedelta(days=1))}
    status = client.get(f"evidence/packages/{client.post('evidence/packages', body).json()['id']}").json()
    assert status["entries"] == 2  # the first two chats with 张三; the one two days later is outside


def test_sales_staff_cannot_package(chats, api):
    response = api(chats.company.sales_a).post("evidence/packages", {"customer_id": chats.zhang.pk})
    assert response.status_code == 403


def test_empty_or_reversed_selection_is_refused(chats, api):
    client = api(chats.company.auditor)
    assert client.post("evidence/packages", {}).status_code == 400
    reversed_range = {"since": "2024-05-01T00:00:00Z", "until": "2024-04-01T00:00:00Z"}
    assert client.post("evidence/packages", reversed_range).status_code == 400


def test_only_the_requester_sees_and_downloads(chats, api):
    c = chats.company
    package = api(c.auditor).post("evidence/packages", {"customer_id": chats.zhang.pk}).json()
    for other in (c.admin, c.executive):
        assert api(other).get(f"evidence/packages/{package['id']}").status_code == 404
        assert api(other).get(f"evidence/packages/{package['id']}/download").status_code == 404
    assert [p["id"] for p in api(c.auditor).get("evidence/packages").json()] == [package["id"]]
    assert api(c.admin).get("evidence/packages").json() == []
    assert not Entry.objects.filter(kind="evidence.package_downloaded").exists()
