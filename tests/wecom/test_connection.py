"""Configuring the connection, testing it, and the client's tokens and retries against the stub."""

import pytest

from custos.core.errors import Forbidden, InvalidInput
from custos.ledger.models import Entry
from custos.wecom import services
from custos.wecom.client import WeComClient, WeComError
from custos.wecom.models import AccessToken, Connection

from .conftest import AES_KEY


def test_secrets_are_sealed_and_the_entry_names_no_secret(wecom):
    row = Connection.objects.get(pk=1)
    for field in ("app_secret_encrypted", "contact_secret_encrypted", "directory_secret_encrypted", "callback_token_encrypted", "callback_aes_key_encrypted"):
        sealed = getattr(row, field)
        assert sealed.startswith("v1:")
        assert "stub-" not in sealed and AES_KEY not in sealed
    entry = Entry.objects.filter(kind="wecom.configured").latest("seq")
    assert "stub-app-secret" not in entry.payload and AES_KEY not in entry.payload
    assert "wecom.app_secret" in entry.payload  # which secrets changed, by name


def test_only_an_admin_configures(company, stub):
    with pytest.raises(Forbidden):
        services.configure(actor=company.manager_a, corp_id="ww123456")


@pytest.mark.parametrize(
    "kwargs, says",
    [
        ({"corp_id": "有空格 的ID"}, "企业ID"),
        ({"corp_id": "ww1234", "callback_aes_key": "short"}, "EncodingAESKey"),
        ({"corp_id": "ww1234", "api_base": "ftp://x"}, "http"),
        ({"corp_id": "ww1234", "agent_id": "abc"}, "AgentId"),
        ({"corp_id": "ww1234", "enabled": True}, "Secret"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(company, kwargs, says):
    with pytest.raises(InvalidInput) as err:
        services.configure(actor=company.admin, **kwargs)
    assert says in err.value.message
    assert not Connection.objects.exists()


def test_test_connection_says_ok(wecom):
    ok, message = services.test_connection()
    assert ok, message
    assert "自建应用：连接正常" in message and "客户联系：连接正常" in message
    assert Connection.objects.get(pk=1).last_test_ok is True


def test_a_wrong_secret_is_named_with_errcode_and_meaning(company, wecom):
    services.configure(actor=company.admin, corp_id=wecom.corp_id, app_secret="not-the-right-secret")
    ok, message = services.test_connection()
    assert not ok
    assert "自建应用：企业微信错误码 40001：不合法的secret参数" in message
    assert "客户联系：连接正常" in message  # the others still work and say so


def test_an_address_not_on_the_allow_list_is_named(wecom):
    wecom.blocked_ip = True
    ok, message = services.test_connection()
    assert not ok and "60020" in message and "不安全的访问IP" in message and "可信IP" in message


def test_a_wrong_corp_id_and_an_unreachable_server(company, wecom):
    services.configure(actor=company.admin, corp_id="wwWRONG0000")
    assert "40013" in services.test_connection()[1]
    services.configure(actor=company.admin, corp_id=wecom.corp_id, api_base="http://127.0.0.1:9")
    ok, message = services.test_connection()
    assert not ok and "无法连接" in message


def test_tokens_are_cached_shared_and_refreshed_once_when_expired(wecom):
    client = WeComClient()
    client.get("/cgi-bin/department/list")
    client.get("/cgi-bin/department/list")
    WeComClient().get("/cgi-bin/department/list")  # another process would read the same row
    assert wecom.calls.count("/cgi-bin/gettoken") == 1
    assert AccessToken.objects.filter(secret_kind="directory").exists()
    assert "stub" not in AccessToken.objects.get(secret_kind="directory").token_encrypted
    wecom.expire_tokens()
    assert WeComClient().get("/cgi-bin/department/list")["department"]
    assert wecom.calls.count("/cgi-bin/gettoken") == 2


def test_frequency_limits_back_off_then_go_through(wecom):
    wecom.fail_next["/cgi-bin/department/list"] = [45009, 45033]
    assert WeComClient().get("/cgi-bin/department/list")["department"]
    assert wecom.calls.count("/cgi-bin/department/list") == 3


def test_other_errors_raise_with_their_meaning(wecom):
    wecom.fail_next["/cgi-bin/department/list"] = [48002]
    with pytest.raises(WeComError) as err:
        WeComClient().get("/cgi-bin/department/list")
    assert err.value.errcode == 48002 and "无权限" in err.value.message and not err.value.retryable


def test_a_contact_secret_is_used_for_customer_apis_and_falls_back_to_the_app_secret(company, wecom):
    WeComClient().post("/cgi-bin/externalcontact/get_corp_tag_list", {})
    kinds = {t: k for t, (k, _e) in wecom.tokens.items()}
    assert set(kinds.values()) == {"contact"}
    Connection.objects.filter(pk=1).update(contact_secret_encrypted="")
    AccessToken.objects.all().delete()
    WeComClient().post("/cgi-bin/externalcontact/get_corp_tag_list", {})
    assert {k for (k, _e) in wecom.tokens.values()} == {"contact", "app"}
