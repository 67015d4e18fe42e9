import pyotp
import pytest
from django.contrib.auth.hashers import make_password
from django.test import Client, override_settings

from custos import settings as production_settings
from custos.core import crypto
from custos.ledger.models import Entry
from custos.org import services
from custos.org.models import CompanySettings
from tests.conftest import PASSWORD


def login(client, username, password=PASSWORD):
    return client.post("/login/", {"username": username, "password": password})


def test_production_hashes_passwords_with_argon2():
    assert production_settings.PASSWORD_HASHERS[0].endswith("Argon2PasswordHasher")
    with override_settings(PASSWORD_HASHERS=production_settings.PASSWORD_HASHERS):
        assert make_password("anything-long").startswith("argon2$argon2id$")


def test_login_and_logout_are_recorded(company):
    client = Client()
    response = login(client, "sales_a")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.get("/").status_code == 200
    entry = Entry.objects.filter(kind="auth.login").latest("seq")
    assert entry.actor_id == company.sales_a.pk
    client.post("/logout/")
    assert client.get("/").status_code == 302


def test_wrong_password_is_refused_and_recorded(company):
    response = login(Client(), "sales_a", "wrong-password")
    assert response.status_code == 200
    assert "用户名或密码错误" in response.content.decode()
    assert Entry.objects.filter(kind="auth.login_failed", payload__contains='"username":"sales_a"').exists()


def test_lockout_after_repeated_failures_even_with_the_right_password(company):
    client = Client()
    for _ in range(5):
        login(client, "sales_a", "wrong-password")
    assert Entry.objects.filter(kind="auth.locked_out").count() == 1
    response = login(client, "sales_a")
    assert response.status_code == 200, "a locked account must not sign in"
    assert client.get("/").status_code == 302


def test_unknown_names_get_the_same_answer_and_lock_too(company):
    client = Client()
    answers = {login(client, "nobody-here", "whatever-pass").content.decode().count("用户名或密码错误") for _ in range(6)}
    assert answers == {1}
    assert Entry.objects.filter(kind="auth.locked_out", payload__contains="nobody-here").exists()


def test_next_parameter_cannot_redirect_off_site(company):
    response = Client().post("/login/?next=https://evil.example/", {"username": "sales_a", "password": PASSWORD, "next": "https://evil.example/"})
    assert response["Location"] == "/"


def enrol(client, employee) -> pyotp.TOTP:
    page = client.get("/security/totp/").content.decode()
    employee.refresh_from_db()
    secret = crypto.decrypt(employee.totp_secret, aad=b"totp")
    assert secret in page  # shown once for manual entry
    totp = pyotp.TOTP(secret)
    response = client.post("/security/totp/", {"code": totp.now()})
    assert response.status_code == 302
    employee.refresh_from_db()
    assert employee.totp_confirmed
    return totp


def test_totp_second_factor(company):
    client = Client()
    login(client, "manager_a")
    totp = enrol(client, company.manager_a)
    assert "JBSW" not in company.manager_a.totp_secret and company.manager_a.totp_secret.startswith("v")
    client.post("/logout/")

    fresh = Client()
    response = login(fresh, "manager_a")
    assert response["Location"] == "/login/code/"
    assert fresh.get("/").status_code == 302, "password alone must not open the console"
    wrong = fresh.post("/login/code/", {"code": "000000" if totp.now() != "000000" else "111111"})
    assert "验证码不正确" in wrong.content.decode()
    assert fresh.post("/login/code/", {"code": totp.now()}).status_code == 302
    assert fresh.get("/").status_code == 200
    assert Entry.objects.filter(kind="auth.login", payload__contains="password+totp").exists()


def test_company_can_require_totp_for_admins(company):
    services.update_company_settings(actor=company.admin, require_admin_totp=True)
    assert CompanySettings.get().require_admin_totp
    client = Client()
    response = login(client, "admin")
    assert response["Location"] == "/security/totp/"
    enrol(client, company.admin)
    response = client.post("/security/totp/", {"action": "disable"})
    company.admin.refresh_from_db()
    assert company.admin.totp_confirmed, "an admin cannot turn the required factor off"


def test_only_admins_change_company_settings(company, console):
    client = console(company.executive)
    assert client.post("/settings/", {"require_admin_totp": "on"}).status_code == 302
    assert not CompanySettings.get().require_admin_totp


@pytest.mark.parametrize("how", ["freeze", "depart"])
def test_frozen_or_departed_staff_are_locked_out_on_the_next_request(company, console, api, how):
    session = console(company.sales_a)
    token_client = api(company.sales_a)
    assert session.get("/").status_code == 200
    assert token_client.get("me").status_code == 200
    if how == "freeze":
        services.freeze(actor=company.manager_a, employee=company.sales_a, reason="涉嫌飞单")
    else:
        services.set_status(actor=company.manager_a, employee=company.sales_a, status="departed")
    assert session.get("/").status_code == 302
    assert session.get("/api/v1/me").status_code == 401
    assert token_client.get("me").status_code == 401
    assert login(Client(), "sales_a").status_code == 200  # the login form again, refused
