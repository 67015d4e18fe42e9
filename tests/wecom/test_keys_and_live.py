"""The connection's secrets under `custos keys rotate`, and callbacks over real HTTP."""

import io

import pytest
import requests
from django.core.management import call_command

from custos.ledger.models import Entry
from custos.wecom import services
from custos.wecom.models import AccessToken, Callback, Connection

from .conftest import AES_KEY, TOKEN


def test_key_rotation_reseals_the_secrets_and_the_connection_still_works(own_keys, company, stub):
    services.configure(
        actor=company.admin, corp_id=stub.corp_id, api_base=f"http://{stub.address}",
        app_secret=stub.secrets["app"], contact_secret=stub.secrets["contact"], callback_token=TOKEN, callback_aes_key=AES_KEY,
    )  # fmt: skip
    assert services.test_connection()[0]
    assert AccessToken.objects.exists()
    out = io.StringIO()
    call_command("keys", "rotate", stdout=out, stderr=io.StringIO())
    row = Connection.objects.get(pk=1)
    for field in ("app_secret_encrypted", "contact_secret_encrypted", "callback_token_encrypted", "callback_aes_key_encrypted"):
        assert getattr(row, field).startswith("v2:")
    assert all(t.token_encrypted.startswith("v2:") for t in AccessToken.objects.all())
    started = Entry.objects.get(kind="keys.rotation_started")
    assert '"wecom.app_secret":1' in started.payload.replace(" ", "")
    # Remove key v1 entirely: everything the connector needs still opens.
    own_keys.write_text(own_keys.read_text().splitlines()[-1] + "\n")
    from custos.core import crypto

    crypto.reset_cache()
    assert services.test_connection()[0]


@pytest.mark.django_db(transaction=True)
def test_a_callback_over_http_reaches_the_ledger(live_server, company, stub, settings):
    settings.HUEY = {**settings.HUEY, "immediate": True}
    services.configure(
        actor=company.admin, corp_id=stub.corp_id, api_base=f"http://{stub.address}", app_secret=stub.secrets["app"],
        callback_token=TOKEN, callback_aes_key=AES_KEY, enabled=True,
    )  # fmt: skip
    stub.callback = {"url": f"{live_server.url}/wecom/callback/", "token": TOKEN, "aes_key": AES_KEY}
    record = stub.delete_contact("sales_a", "wmOverHttp")
    assert record["status"] == 200 and record["reply"] == "success"
    assert Callback.objects.get().status == Callback.Status.DONE
    assert Entry.objects.filter(kind="contact.deleted_by_staff", source="wecom").count() == 1
    forged = requests.post(f"{live_server.url}/wecom/callback/?msg_signature=00&timestamp=1&nonce=1", data=b"<xml><Encrypt>AAAA</Encrypt></xml>", timeout=10)
    assert forged.status_code == 403
    too_big = requests.post(f"{live_server.url}/wecom/callback/?msg_signature=00&timestamp=1&nonce=1", data=b"x" * 70000, timeout=10)
    assert too_big.status_code == 413
