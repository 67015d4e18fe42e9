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
    assert any('"username":"sales_a"' in e.payload for e in Entry.objects.filter(kind="auth.login_failed"))


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
    assert any("nobody-here" in e.payload for e in Entry.objects.filter(kind="auth.locked_out"))


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
    assert any("password+totp" in e.payload for e in Entry.objects.filter(kind="auth.login"))


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


# --- back-off instead of a lock an outsider can set --------------------------------------------

OUTSIDER, OWNER = "203.0.113.9", "198.51.100.7"


def at(address):
    return Client(REMOTE_ADDR=address)


def waits(kind, key):
    from custos.access.models import LoginThrottle

    return LoginThrottle.objects.get(kind=kind, key=key)


def let_time_pass(kind, key):
    """The wait is over (as if its seconds had gone by), the count it earned stays."""
    from datetime import timedelta

    from django.utils import timezone

    from custos.access.models import LoginThrottle

    LoginThrottle.objects.filter(kind=kind, key=key).update(locked_until=timezone.now() - timedelta(seconds=1))


def locks(**match):
    import json

    found = [json.loads(e.payload) for e in Entry.objects.filter(kind="auth.locked_out").order_by("seq")]
    return [p for p in found if all(p.get(k) == v for k, v in match.items())]


def test_an_outsider_cannot_keep_the_owner_with_a_second_factor_out(company):
    owner = Client(REMOTE_ADDR=OWNER)
    login(owner, "manager_a")
    totp = enrol(owner, company.manager_a)
    owner.post("/logout/")
    outsider = at(OUTSIDER)
    for _ in range(8):  # the ones past the fifth are turned away unchecked
        login(outsider, "manager_a", "guess-123456")
    [lock] = locks(scope="account")
    assert (lock["username"], lock["seconds"], lock["employee"]) == ("manager_a", 30, company.manager_a.pk)
    # The password alone waits, whoever types it: the same answer as a wrong one.
    refused = login(at(OWNER), "manager_a")
    assert refused.status_code == 200 and "用户名或密码错误" in refused.content.decode()
    # With the code from the authenticator app in the same form, the owner is in at once.
    owner = at(OWNER)
    response = owner.post("/login/", {"username": "manager_a", "password": PASSWORD, "code": totp.now()})
    assert response.status_code == 302 and response["Location"] == "/"
    assert owner.get("/").status_code == 200
    entry = Entry.objects.filter(kind="auth.login").latest("seq")
    assert entry.actor_id == company.manager_a.pk and '"method":"password+totp"' in entry.payload
    assert waits("account", "manager_a").locked_until is None  # and the name starts afresh


def test_a_wrong_code_or_password_with_the_form_still_waits(company):
    client = Client(REMOTE_ADDR=OWNER)
    login(client, "manager_a")
    totp = enrol(client, company.manager_a)
    for _ in range(5):
        login(at(OUTSIDER), "manager_a", "guess-123456")
    wrong_code = "000000" if totp.now() != "000000" else "111111"
    for password, code in (("guess-123456", totp.now()), (PASSWORD, wrong_code), (PASSWORD, "")):
        response = at(OWNER).post("/login/", {"username": "manager_a", "password": password, "code": code})
        assert response.status_code == 200, (password, code)
        assert "用户名或密码错误" in response.content.decode()


def test_without_a_second_factor_the_owner_waits_a_short_while(company):
    for _ in range(5):
        login(at(OUTSIDER), "sales_a", "wrong-password")
    assert [p["seconds"] for p in locks(username="sales_a")] == [30]
    assert login(at(OWNER), "sales_a").status_code == 200, "the wait is not over"
    let_time_pass("account", "sales_a")
    assert login(at(OWNER), "sales_a").status_code == 302
    # Each failure after a wait waits twice as long.
    for _ in range(5):
        login(at(OUTSIDER), "sales_a", "wrong-password")
    let_time_pass("account", "sales_a")
    login(at(OUTSIDER), "sales_a", "wrong-password")
    let_time_pass("account", "sales_a")
    login(at(OUTSIDER), "sales_a", "wrong-password")
    assert [p["seconds"] for p in locks(username="sales_a")] == [30, 30, 60, 120]


def test_attempts_at_a_waiting_name_are_turned_away_unchecked_and_recorded_once(company):
    for _ in range(5):
        login(at(OUTSIDER), "admin", "wrong-password")
    failed = Entry.objects.filter(kind="auth.login_failed").count()
    for _ in range(20):
        login(at(OUTSIDER), "admin", "wrong-password")
    assert Entry.objects.filter(kind="auth.login_failed").count() == failed, "no password is checked while it waits"
    assert Entry.objects.filter(kind="auth.login_refused_locked").count() == 1
    assert locks(username="admin")[0]["admin"] is True


def test_one_password_tried_across_many_accounts_from_one_address_is_slowed(company, settings):
    settings.CUSTOS_LOGIN_ADDRESS_MAX_FAILURES = 20
    names = [f"user{i}" for i in range(18)] + ["sales_a", "manager_a"]
    for name in names:
        response = login(at(OUTSIDER), name, "Summer2026!")
        assert response.status_code == 200
    [lock] = locks(scope="address")
    assert lock["address"] == OUTSIDER and lock["seconds"] == 30 and lock["username"] is None
    checked = Entry.objects.filter(kind="auth.login_failed").count()
    for name in ("boss", "sales_b", "service_a"):
        response = login(at(OUTSIDER), name, "Summer2026!")
        assert response.status_code == 429
        assert "分钟" in response.content.decode() or "minute" in response.content.decode()
    # Even the right password from that address waits: nothing is checked there for now.
    assert login(at(OUTSIDER), "sales_b").status_code == 429
    assert Entry.objects.filter(kind="auth.login_failed").count() == checked
    # Nobody else is held back: no single name reached its own threshold.
    assert login(at(OWNER), "sales_a").status_code == 302
    let_time_pass("address", OUTSIDER)
    login(at(OUTSIDER), "user99", "Summer2026!")
    assert [p["seconds"] for p in locks(scope="address")] == [30, 60]


def test_guessing_the_code_after_a_right_password_waits_too(company):
    client = Client(REMOTE_ADDR=OWNER)
    login(client, "manager_a")
    totp = enrol(client, company.manager_a)
    thief = at(OUTSIDER)
    assert login(thief, "manager_a")["Location"] == "/login/code/"  # the password is known
    wrong = "000000" if totp.now() != "000000" else "111111"
    for _ in range(5):
        thief.post("/login/code/", {"code": wrong})
    assert [p["scope"] for p in locks()] == ["second_factor"]
    response = thief.post("/login/code/", {"code": totp.now()}, follow=True)
    assert response.redirect_chain[-1][0] == "/login/", "a waiting second factor takes no code, not even the right one"
    assert thief.get("/").status_code == 302
    # Nor does the password with the code in one form while it waits.
    response = at(OWNER).post("/login/", {"username": "manager_a", "password": PASSWORD, "code": totp.now()})
    assert response.status_code == 200
    let_time_pass("second_factor", "manager_a")
    response = at(OWNER).post("/login/", {"username": "manager_a", "password": PASSWORD, "code": totp.now()})
    assert response.status_code == 302


def test_a_typo_now_and_then_never_adds_up(company, settings):
    from datetime import timedelta

    from django.db.models import F

    from custos.access.models import LoginThrottle

    for _ in range(30):
        login(at(OWNER), "sales_a", "wrong-password")
        LoginThrottle.objects.update(forgive_from=F("forgive_from") - timedelta(hours=1, seconds=1))  # an hour on
    assert not locks()
    assert waits("account", "sales_a").failures == waits("address", OWNER).failures == 1


def test_each_wait_is_an_alert_for_administrators(company, console):
    from custos.alerts.models import Alert

    for _ in range(6):
        login(at(OUTSIDER), "admin", "wrong-password")
    let_time_pass("account", "admin")
    login(at(OUTSIDER), "admin", "wrong-password<script>")
    [alert] = Alert.objects.filter(rule="login_locked")
    assert alert.unit_id == company.hq.pk and alert.severity == "high" and alert.employee_id is None
    assert alert.occurrences == 2 and len(alert.evidence) == 2  # the second wait joins the open alert
    assert "admin" in alert.summary and OUTSIDER in alert.summary
    assert "admin" in console(company.executive).get("/alerts/").content.decode()
    page = console(company.manager_a).get("/alerts/").content.decode()
    assert f"/alerts/{alert.pk}/" not in page, "a store manager has nothing to do with it"
    # A name typed by anyone reaches the alert (and the chat robots) without markdown or links.
    for _ in range(5):
        login(at(OWNER), "[点我](http://evil.example/x)", "wrong-password")
    odd = Alert.objects.filter(rule="login_locked", severity="medium").get()
    assert "点我" in odd.summary and "[" not in odd.summary and "://" not in odd.summary
    let_time_pass("account", "admin")  # the admin without a second factor waited a little
    assert console(company.admin).get(f"/alerts/{alert.pk}/").status_code == 200


def test_client_addresses():
    from django.test import RequestFactory, override_settings

    from custos.access import login as service

    request = RequestFactory().get("/", REMOTE_ADDR="10.0.0.1", HTTP_X_FORWARDED_FOR="1.2.3.4, 5.6.7.8")
    assert service.client_address(request) == "10.0.0.1"
    with override_settings(CUSTOS_TRUST_PROXY=True):
        assert service.client_address(request) == "5.6.7.8"  # what our proxy saw, not what the client claimed
    key = service._address_key
    assert key("2001:db8:1:2:aaaa::1") == key("2001:db8:1:2:bbbb::9") == "2001:db8:1:2::/64"
    assert key("::ffff:192.0.2.1") == "192.0.2.1" and key("192.0.2.1") == "192.0.2.1"
    assert key("not an address") is None and key(None) is None
