"""Bad input gets a 4xx with {"error", "message"}, never a 500 or a traceback."""

import pytest


@pytest.mark.parametrize(
    "method,path,body,status,code",
    [
        ("post", "employees", {"name": "x"}, 422, "invalid"),
        ("post", "employees", {"name": "x", "username": "a b", "password": "long-enough-1", "unit_id": 1}, 422, "invalid"),
        ("post", "employees/999999/role", {"role": "king"}, 422, "invalid"),
        ("post", "employees/999999/role", {"role": "sales"}, 404, "not_found"),
        ("get", "employees/not-a-number", None, 422, "invalid"),
        ("get", "units/0", None, 404, "not_found"),
        ("post", "units", {"name": "", "kind": "store"}, 422, "invalid"),
        ("get", "employees?limit=-5", None, 422, "invalid"),
        ("get", "employees?offset=2108889380141690192396288&limit=3827", None, 422, "invalid"),
        ("get", "nowhere", None, 404, "not_found"),
    ],
)
def test_bad_requests_get_clear_json_errors(company, api, method, path, body, status, code):
    client = api(company.admin)
    response = client.get(path) if method == "get" else getattr(client, method)(path, body)
    assert response.status_code == status, response.content
    data = response.json()
    assert data["error"] == code and data["message"]


def test_malformed_json_is_a_4xx(company, api):
    client = api(company.admin).client
    response = client.post("/api/v1/units", "{not json", content_type="application/json")
    assert 400 <= response.status_code < 500
    assert response.json()["error"]


def test_unauthenticated_calls_get_401(db, client):
    response = client.get("/api/v1/employees")
    assert response.status_code == 401
    assert response.json()["error"] == "unauthenticated"


def test_status_change_needs_a_last_day(company, api):
    response = api(company.manager_a).post(f"employees/{company.sales_a.pk}/status", {"status": "resigning"})
    assert response.status_code == 400
    assert response.json() == {"error": "invalid", "message": "办理离职需要填写最后工作日。"}


@pytest.mark.parametrize(
    "path,body",
    [
        ("tokens", {"name": "phone\x00", "kind": "personal"}),
        ("units", {"name": "店", "kind": "store", "parent_id": 1, "nested": ["a", {"b": "\x00"}]}),
        ("employees?search=%00", None),
    ],
)
def test_nul_characters_are_refused_not_stored(company, api, path, body):
    # PostgreSQL cannot hold NUL in text: without the check this is a 500 there
    client = api(company.admin)
    response = client.get(path) if body is None else client.post(path, body)
    assert response.status_code == 422, response.content
    assert "NUL" in response.json()["message"]


def test_a_backslash_u0000_in_text_is_ordinary_text(company, api):
    response = api(company.admin).post("units", {"name": "\\u0000店", "kind": "store", "parent_id": company.south.pk})
    assert response.status_code in (200, 201), response.content


@pytest.mark.parametrize(
    "path",
    [
        "archive/search?employee_id=99999999999999999999999",
        "archive/search?customer_id=-99999999999999999999999",
        "archive/conversations/99999999999999999999999/messages",
    ],
)
def test_numbers_past_64_bits_are_a_422(company, api, path):
    response = api(company.admin).get(path)
    assert response.status_code in (404, 422), response.content
    assert response.json()["message"]
