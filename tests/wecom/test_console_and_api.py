"""The console page and the REST API of the connector, as each role sees them."""

import pytest
from django.test import Client

from custos.wecom.models import Connection, SyncRun

from ..conftest import PASSWORD, ApiClient


def _browser(username):
    c = Client()
    assert c.login(username=username, password=PASSWORD)
    return c


def test_an_admin_sets_it_up_tests_it_and_syncs_from_the_console(company, stub, django_capture_on_commit_callbacks):
    admin = _browser("admin")
    page = admin.get("/wecom/").content.decode()
    assert 'id="wecom-form"' in page and 'id="wecom-test-button"' not in page  # nothing to test yet
    response = admin.post("/wecom/configure/", {
        "corp_id": stub.corp_id, "api_base": f"http://{stub.address}", "agent_id": "1000002",
        "app_secret": stub.secrets["app"], "contact_secret": stub.secrets["contact"], "directory_secret": stub.secrets["directory"],
        "callback_token": "tok", "callback_aes_key": "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "observers": "service_a, admin", "enabled": "on",
    })  # fmt: skip
    assert response.status_code == 302
    assert Connection.objects.get(pk=1).observers == ["admin", "service_a"]
    admin.post("/wecom/test/")
    page = admin.get("/wecom/").content.decode()
    assert "连接正常" in page and 'id="wecom-test"' in page
    # The secrets are never sent back to the browser.
    assert stub.secrets["app"] not in page and "jWmYm7qr5" not in page
    with django_capture_on_commit_callbacks(execute=True):
        assert admin.post("/wecom/sync/directory/").status_code == 302
    run = SyncRun.objects.get(kind="directory")
    assert run.status == "done"
    fragment = admin.get(f"/wecom/sync/run/{run.pk}/").content.decode()
    assert 'data-status="done"' in fragment
    assert "已匹配员工" in admin.get("/wecom/").content.decode()


def test_a_bad_setting_is_said_on_the_page(company, stub):
    admin = _browser("admin")
    response = admin.post("/wecom/configure/", {"corp_id": "ww1234", "callback_aes_key": "too-short"}, HTTP_REFERER="/wecom/", follow=True)
    assert "EncodingAESKey" in response.content.decode()
    assert not Connection.objects.exists()


@pytest.mark.parametrize("username, status", [("boss", 200), ("auditor", 200), ("manager_a", 302), ("sales_a", 302)])
def test_who_sees_the_page(company, username, status):
    response = _browser(username).get("/wecom/")
    assert response.status_code == status


def test_only_an_admin_changes_it(company, stub):
    for username in ("boss", "manager_a", "auditor"):
        _browser(username).post("/wecom/configure/", {"corp_id": "wwX12345"})
        _browser(username).post("/wecom/sync/directory/")
    assert not Connection.objects.exists() and not SyncRun.objects.exists()


def test_the_api(company, wecom):
    admin = ApiClient(company.admin)
    status = admin._call("get", "wecom/status")
    assert status.status_code == 200
    body = status.json()
    assert body["configured"] and body["secrets_set"] == {"app": True, "contact": True, "directory": True}
    assert "stub-app-secret" not in status.content.decode()
    assert admin._call("post", "wecom/test").json()["ok"] is True
    started = admin._call("post", "wecom/sync/directory")
    assert started.status_code == 202
    run = admin._call("get", f"wecom/sync/runs/{started.json()['id']}").json()
    assert run["status"] == "done" and run["percent"] == 100
    bad = admin._call("put", "wecom/config", {"corp_id": "ww1234", "callback_aes_key": "x"})
    assert bad.status_code == 400 and "EncodingAESKey" in bad.json()["message"]
    assert admin._call("post", "wecom/sync/nonsense").status_code == 400
    manager = ApiClient(company.manager_a)
    assert manager._call("get", "wecom/status").status_code == 403
    assert manager._call("put", "wecom/config", {"corp_id": "ww1234"}).status_code == 403
    assert manager._call("post", "wecom/transfers/999/retry").status_code == 404


def test_the_archive_card_and_adding_a_private_key_from_the_console(company):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from custos.wecom.models import ArchiveKey

    from .archive_support import pem, rsa_key

    admin = _browser("admin")
    page = admin.get("/wecom/").content.decode()
    assert 'id="wecom-archive"' in page and "archive-config" in page  # not set up: says how
    key = SimpleUploadedFile("v3.pem", pem(rsa_key(3)).encode())
    assert admin.post("/wecom/archive/keys/", {"version": "3", "pem": key}).status_code == 302
    assert ArchiveKey.objects.get().version == 3
    page = admin.get("/wecom/").content.decode()
    assert "publickey_ver 3" in page and "BEGIN" not in page  # the key itself never comes back
    junk = SimpleUploadedFile("junk.pem", b"-----BEGIN NONSENSE-----")
    refused = admin.post("/wecom/archive/keys/", {"version": "4", "pem": junk}, HTTP_REFERER="/wecom/", follow=True)
    assert "RSA" in refused.content.decode() and ArchiveKey.objects.count() == 1
    bad_version = admin.post("/wecom/archive/keys/", {"version": "x", "pem": SimpleUploadedFile("a.pem", b"")}, HTTP_REFERER="/wecom/", follow=True)
    assert "publickey_ver" in bad_version.content.decode()
    boss = _browser("boss")
    boss.post("/wecom/archive/keys/", {"version": "5", "pem": SimpleUploadedFile("v5.pem", pem(rsa_key(5)).encode())})
    assert ArchiveKey.objects.count() == 1
