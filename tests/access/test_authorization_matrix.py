"""The attacker's view, endpoint by endpoint.

Routes are read from the API itself, so an endpoint added later is covered without editing this
file: every route that takes an employee or unit id must answer 404 to a viewer outside its
scope, and every write must be refused to an auditor.
"""

import re

import pytest

from custos.api.root import api as ninja_api
from custos.ledger.models import Entry
from custos.org.models import Employee

WRITE = {"post", "patch", "put", "delete"}


def routes():
    schema = ninja_api.get_openapi_schema()
    for path, methods in schema["paths"].items():
        for method in methods:
            yield method, path.removeprefix("/api/v1/")


def fill(path, *, employee_id, unit_id, token_id=1, seq=0):
    values = {"employee_id": employee_id, "unit_id": unit_id, "token_id": token_id, "seq": seq}
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), 1)), path)


BODIES = {
    "employees/{employee_id}": {"name": "改名"},
    "employees/{employee_id}/move": {"unit_id": None, "reason": "x"},
    "employees/{employee_id}/role": {"role": "sales"},
    "employees/{employee_id}/status": {"status": "resigning", "last_day": "2030-01-01"},
    "employees/{employee_id}/freeze": {"reason": "test"},
    "units/{unit_id}": {"name": "改名"},
    "evidence/retention/rules": {"kind_prefix": "message.", "days": 30},
    "ingest/credentials": {"name": "审计的手机", "kind": "device", "employee_id": 1},
    "archive/contacts/{contact_id}/link": {"customer_id": 1},
    "wecom/config": {"corp_id": "ww12345678"},
    "product-lines": {"name": "男装", "code": "men"},
    "employees/{employee_id}/limits": {"lines": [], "grades": ["A"]},
}
# Signed device ingestion (custos.archive.signing): a person's token is not even a caller there.
DEVICE_ONLY = ("ingest/events", "ingest/blobs/", "ingest/uploads")


def test_the_matrix_covers_the_org_routes():
    paths = {p for _m, p in routes()}
    assert {"employees/{employee_id}", "units/{unit_id}", "employees/{employee_id}/freeze"} <= paths


@pytest.mark.parametrize("method,path", [r for r in routes() if "{employee_id}" in r[1] or "{unit_id}" in r[1]])
def test_store_a_manager_cannot_reach_store_b_objects(company, api, method, path):
    client = api(company.manager_a)
    url = fill(path, employee_id=company.sales_b.pk, unit_id=company.store_b.pk)
    body = dict(BODIES.get(path, {}))
    if "unit_id" in body:
        body["unit_id"] = company.store_a.pk
    org_entries = Entry.objects.filter(kind__startswith="org.").count()
    response = getattr(client, method)(url, body) if method in WRITE else client.get(url)
    assert response.status_code == 404, (method, url, response.content)
    assert response.json()["error"] == "not_found"
    assert "徐汇店" not in response.content.decode() and company.sales_b.name not in response.content.decode()
    sales_b = Employee.objects.get(pk=company.sales_b.pk)
    assert (sales_b.name, sales_b.role, sales_b.status, sales_b.frozen_at) == (company.sales_b.name, "sales", "active", None)
    assert Entry.objects.filter(kind__startswith="org.").count() == org_entries


# Tokens are the holder's own credentials, not company data: an auditor may hold and revoke a
# personal token (tests/access/test_tokens.py covers who may issue which kind). Producing evidence
# packages and placing legal holds are an auditor's job and change no company data
# (tests/evidence covers who may do them; tests/access/test_auditor_writes.py that these are all).
AUDITOR_MAY = ("tokens", "evidence/packages", "evidence/holds")


@pytest.mark.parametrize("method,path", [r for r in routes() if r[0] in WRITE and not r[1].startswith(AUDITOR_MAY)])
def test_auditor_writes_nothing(company, api, method, path):
    client = api(company.auditor)
    url = fill(path, employee_id=company.sales_a.pk, unit_id=company.store_a.pk)
    body = dict(BODIES.get(path, {}))
    if "unit_id" in body:
        body["unit_id"] = company.store_a2.pk
    if path == "units":
        body = {"name": "审计新店", "kind": "store", "parent_id": company.south.pk}
    if path == "employees":
        body = {"name": "x", "username": "x1", "password": "long-enough-pass", "unit_id": company.store_a.pk}
    org_entries = Entry.objects.filter(kind__startswith="org.").count()
    if path == "ingest/credentials":
        body["employee_id"] = company.sales_a.pk
    response = client.delete(url) if method == "delete" else getattr(client, method)(url, body)
    expected = (401,) if path.startswith(DEVICE_ONLY) else (403, 404)
    assert response.status_code in expected, (method, url, response.content)
    assert Entry.objects.filter(kind__startswith="org.").count() == org_entries


def test_sales_sees_only_themself(company, api):
    client = api(company.sales_a)
    listed = client.get("employees").json()
    assert [e["id"] for e in listed["items"]] == [company.sales_a.pk]
    assert client.get(f"employees/{company.sales_a_peer.pk}").status_code == 404
    assert [u["id"] for u in client.get("units").json()] == [company.store_a.pk]
    assert client.get(f"units/{company.south.pk}").status_code == 404


def test_manager_sees_own_subtree_only(company, api):
    region = api(company.region_manager)
    names = {e["username"] for e in region.get("employees", limit=100).json()["items"]}
    assert {"manager_a", "sales_a", "sales_a2", "region_south"} <= names
    assert not names & {"sales_b", "manager_b", "admin", "boss", "auditor"}
    store = api(company.manager_a)
    assert {u["name"] for u in store.get("units").json()} == {"天河店"}


def test_executive_and_auditor_see_everything(company, api):
    for who in (company.executive, company.auditor, company.admin):
        assert api(who).get("employees", limit=100).json()["count"] == Employee.objects.count()


def test_nobody_raises_their_own_role(company, api):
    for who in (company.manager_a, company.region_manager, company.executive, company.admin, company.sales_a):
        response = api(who).post(f"employees/{who.pk}/role", {"role": "admin"})
        assert response.status_code == 403, who.user.username
        assert Employee.objects.get(pk=who.pk).role == who.role


def test_nobody_widens_their_own_scope(company, api):
    response = api(company.manager_a).post(f"employees/{company.manager_a.pk}/move", {"unit_id": company.south.pk})
    assert response.status_code == 404  # the region is outside the store manager's scope
    response = api(company.region_manager).post(f"employees/{company.region_manager.pk}/move", {"unit_id": company.hq.pk})
    assert response.status_code == 404
    assert Employee.objects.get(pk=company.region_manager.pk).unit_id == company.south.pk


def test_managers_grant_only_roles_below_their_own(company, api):
    client = api(company.manager_a)
    assert client.post(f"employees/{company.sales_a.pk}/role", {"role": "manager"}).status_code == 403
    assert client.post(f"employees/{company.sales_a.pk}/role", {"role": "admin"}).status_code == 403
    assert client.post(f"employees/{company.sales_a.pk}/role", {"role": "service"}).status_code == 200
    created = client.post(
        "employees",
        {"name": "新经理", "username": "sneaky", "password": "long-enough-pass", "unit_id": company.store_a.pk, "role": "executive"},
    )
    assert created.status_code == 403
    assert not Employee.objects.filter(user__username="sneaky").exists()


def test_managers_cannot_touch_peers_or_superiors(company, api):
    peer = api(company.manager_a)
    assert peer.post(f"employees/{company.region_manager.pk}/freeze", {"reason": "x"}).status_code == 404
    region = api(company.region_manager)
    store_manager = Employee.objects.get(pk=company.manager_a.pk)
    assert region.post(f"employees/{store_manager.pk}/freeze", {"reason": "调查"}).status_code == 403  # same rank
    assert Employee.objects.get(pk=company.manager_a.pk).frozen_at is None


def test_admin_changes_are_recorded_with_their_actor(company, api):
    response = api(company.admin).post(f"employees/{company.manager_a.pk}/role", {"role": "executive"})
    assert response.status_code == 200
    entry = Entry.objects.filter(kind="org.role_changed").latest("seq")
    assert entry.actor_id == company.admin.pk
    assert '"to":"executive"' in entry.payload


# Who may hand out a credential that signs archive traffic (a device token for a work phone, an
# integration token for a connector), through either route that issues one. What the phone signs
# becomes evidence, so never its own user: only a manager above the employee, an executive, or an
# administrator; integrations only an administrator. 404 where the employee is outside the scope.
CREDENTIAL_MATRIX = [
    ("sales_a", "sales_a", 403),
    ("sales_a", "sales_a_peer", 404),
    ("service_a", "service_a", 403),
    ("auditor", "sales_a", 403),
    ("manager_a", "manager_a", 403),
    ("manager_a", "sales_a", 201),
    ("manager_a", "service_a", 201),
    ("manager_a", "sales_a2", 404),
    ("manager_a", "sales_b", 404),
    ("region_manager", "sales_a2", 201),
    ("region_manager", "manager_a", 403),  # same rank: an executive or an administrator
    ("region_manager", "sales_b", 404),
    ("executive", "manager_a", 201),
    ("executive", "executive", 403),
    ("admin", "sales_b", 201),
    ("admin", "executive", 201),
    ("admin", "admin", 403),
]
INTEGRATION_MATRIX = [
    ("sales_a", "store_a", (403, 404)),
    ("manager_a", "store_a", (403,)),
    ("region_manager", "store_a", (403,)),
    ("auditor", "store_a", (403,)),
    ("admin", "store_a", (201,)),
]
CREDENTIAL_ROUTES = ["tokens", "ingest/credentials"]


@pytest.mark.parametrize("route", CREDENTIAL_ROUTES)
@pytest.mark.parametrize("actor,employee,expected", CREDENTIAL_MATRIX)
def test_who_may_issue_a_device_credential(company, api, route, actor, employee, expected):
    from custos.access.models import ApiToken

    who, target = getattr(company, actor), getattr(company, employee)
    client = api(who)  # its personal token is an auth.token_issued entry too: counted from here
    before = Entry.objects.filter(kind="auth.token_issued").count()
    response = client.post(route, {"name": "工作手机", "kind": "device", "employee_id": target.pk})
    assert response.status_code == expected, (actor, employee, response.content)
    devices = ApiToken.objects.filter(kind="device", employee=target)
    issued = Entry.objects.filter(kind="auth.token_issued").order_by("seq")[before:]
    if expected == 201:
        body = response.json()
        assert body["token"].startswith("cst_") and body["employee_id"] == target.pk
        assert ("secret" in body) == (route == "ingest/credentials")
        assert devices.count() == 1
        [entry] = issued
        assert (entry.actor_id, entry.unit_id, entry.source) == (who.pk, target.unit_id, "api")
        assert f'"employee":{target.pk}' in entry.payload and '"kind":"device"' in entry.payload
        assert f'"signing":{"true" if route == "ingest/credentials" else "false"}' in entry.payload
    else:
        assert response.json()["error"] == {403: "forbidden", 404: "not_found"}[expected]
        assert response.json()["message"]
        assert not devices.exists() and not list(issued)


@pytest.mark.parametrize("route", CREDENTIAL_ROUTES)
@pytest.mark.parametrize("actor,unit,expected", INTEGRATION_MATRIX)
def test_who_may_issue_an_integration_credential(company, api, route, actor, unit, expected):
    from custos.access.models import ApiToken

    client = api(getattr(company, actor))
    before = Entry.objects.filter(kind="auth.token_issued").count()
    response = client.post(route, {"name": "会话存档", "kind": "integration", "unit_id": getattr(company, unit).pk})
    assert response.status_code in expected, (actor, response.content)
    made = ApiToken.objects.filter(kind="integration").count()
    assert made == (1 if 201 in expected else 0)
    assert Entry.objects.filter(kind="auth.token_issued").count() == before + made


def test_the_phones_user_cannot_take_its_credential_away_either(company, api):
    """Revoking a work phone's token stops its archive as surely as wiping the chats."""
    from custos.access import tokens
    from custos.access.models import ApiToken

    token, _clear = tokens.issue(actor=company.manager_a, kind="device", name="工作手机", employee=company.sales_a)
    response = api(company.sales_a).delete(f"tokens/{token.pk}")
    assert response.status_code == 403, response.content
    assert ApiToken.objects.get(pk=token.pk).revoked_at is None
    assert api(company.manager_a).delete(f"tokens/{token.pk}").status_code == 200
    assert Entry.objects.filter(kind="auth.token_revoked", actor_id=company.manager_a.pk).exists()
