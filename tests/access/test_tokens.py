from datetime import timedelta

from django.db import connection
from django.utils import timezone

from custos.access import tokens
from custos.access.models import ApiToken


def test_token_is_stored_hashed_and_shown_once(company, api):
    response = api(company.manager_a).post("tokens", {"name": "报表脚本", "days": 30})
    assert response.status_code == 201
    clear = response.json()["token"]
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM access_apitoken")
        dump = repr(cursor.fetchall())
    # cst_<prefix>_<secret>, and the urlsafe secret may itself hold "_": split twice, not on every one.
    secret = clear.split("_", 2)[2]
    assert len(secret) >= 32 and clear not in dump and secret not in dump
    listed = api(company.manager_a).get("tokens").json()
    assert all("token" not in t for t in listed)


def test_token_authenticates_until_revoked(company, api):
    owner = api(company.sales_a)
    assert owner.get("me").json()["username"] == "sales_a"
    token = ApiToken.objects.get(prefix=owner.token.split("_")[1])
    assert owner.delete(f"tokens/{token.pk}").status_code == 200
    assert owner.get("me").status_code == 401


def test_expired_token_is_refused(company, api):
    client = api(company.sales_a)
    ApiToken.objects.filter(prefix=client.token.split("_")[1]).update(expires_at=timezone.now() - timedelta(seconds=1))
    response = client.get("me")
    assert response.status_code == 401
    assert response.json() == {"error": "unauthenticated", "message": response.json()["message"]}


def test_garbage_and_forged_tokens_are_refused(company, api):
    client = api(company.sales_a)
    forged = client.token[:-4] + ("AAAA" if not client.token.endswith("AAAA") else "BBBB")
    for bad in ("", "cst_", "cst_x_y", forged, "Bearer"):
        assert tokens.authenticate(bad) is None


def test_device_tokens_cannot_use_the_general_api(company, api):
    _token, clear = tokens.issue(actor=company.manager_a, kind="device", name="工作手机", employee=company.sales_a)
    from django.test import Client

    assert Client(HTTP_AUTHORIZATION=f"Bearer {clear}").get("/api/v1/me").status_code == 401


def test_who_may_issue_which_token(company, api):
    manager = api(company.manager_a)
    assert manager.post("tokens", {"name": "手机", "kind": "device", "employee_id": company.sales_a.pk}).status_code == 201
    assert manager.post("tokens", {"name": "手机", "kind": "device", "employee_id": company.sales_b.pk}).status_code == 404
    assert manager.post("tokens", {"name": "对接", "kind": "integration", "unit_id": company.store_a.pk}).status_code == 403
    assert api(company.admin).post("tokens", {"name": "对接", "kind": "integration", "unit_id": company.store_a.pk}).status_code == 201
    assert api(company.auditor).post("tokens", {"name": "手机", "kind": "device", "employee_id": company.sales_a.pk}).status_code == 403


def test_a_manager_revokes_a_device_token_of_their_staff_but_not_of_others(company, api):
    token_a, _ = tokens.issue(actor=company.manager_a, kind="device", name="手机A", employee=company.sales_a)
    token_b, _ = tokens.issue(actor=company.manager_b, kind="device", name="手机B", employee=company.sales_b)
    manager = api(company.manager_a)
    assert manager.delete(f"tokens/{token_b.pk}").status_code == 404
    assert manager.delete(f"tokens/{token_a.pk}").status_code == 200
    token_a.refresh_from_db()
    token_b.refresh_from_db()
    assert token_a.revoked_at and not token_b.revoked_at


def test_token_lifetime_is_validated(company, api):
    response = api(company.sales_a).post("tokens", {"name": "x", "days": 9999})
    assert response.status_code == 422
    assert response.json()["error"] == "invalid" and "days" in response.json()["message"]
