"""`custos keys rotate` / `keys status`: a new key version, re-encryption in batches, resumable."""

import io
import json

import pytest
from django.core.management import call_command
from django.db import connection

from custos.access import login
from custos.core import crypto, keyring
from custos.customers import contacts, keys, selectors
from custos.customers.models import CustomerContact
from custos.ledger.models import Entry
from custos.ledger.verify import verify
from custos.org.models import Employee


def _run(*args) -> str:
    out = io.StringIO()
    call_command("keys", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def _raw_versions() -> set[str]:
    """Key versions as a raw dump would show them, straight from SQL."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT value_encrypted FROM customers_customercontact")
        found = {row[0].split(":", 1)[0] for row in cursor.fetchall()}
        cursor.execute("SELECT totp_secret FROM org_employee WHERE totp_secret <> ''")
        found |= {"totp " + row[0].split(":", 1)[0] for row in cursor.fetchall()}
    return found


def _ledger_rows() -> int:
    """Ledger entries with a payload: each is sealed, so a rotation re-seals it."""
    return Entry.objects.exclude(payload=None).count()


def test_rotation_resumes_and_leaves_no_old_ciphertext(own_keys, company, make_customer):
    phones = [f"1391234{i:04d}" for i in range(12)]
    made = [make_customer(company.sales_a, phone=p) for p in phones]
    login.start_totp_enrolment(company.manager_a)
    totp_before = crypto.decrypt(
        Employee.objects.get(pk=company.manager_a.pk).totp_secret, aad=login.TOTP_AAD
    )
    assert _raw_versions() == {"v1", "totp v1"}
    ledger = _ledger_rows()  # the ledger's payloads are sealed too, and come after the contacts

    # Interrupted: only 5 of the 13 rows (the TOTP secret, then 4 contacts) are done when it stops.
    out = _run("rotate", "--batch", "2", "--limit", "5")
    assert "new key v2 is current" in out and "re-encrypted 5 rows under v2" in out
    assert f"{8 + ledger} rows still under older keys" in out
    assert _raw_versions() == {"v1", "v2", "totp v2"}
    # Meanwhile both versions read, and the blind index still finds every number.
    for customer, phone in zip(made, phones, strict=True):
        contact = CustomerContact.objects.get(customer=customer)
        assert contacts.open_value(contact) == "+86" + phone
    status = _run("status")
    assert (
        "current key: v2" in status
        and "v1: 8, v2: 4" in status
        and f"{8 + ledger} rows under older keys" in status
    )

    # Run again: it carries on with v2 instead of adding a third key.
    out = _run("rotate", "--batch", "3")
    assert (
        f"continuing the rotation to v2: {8 + ledger} rows to go" in out
        and f"re-encrypted {8 + ledger} rows" in out
    )
    assert "every row is now under v2" in out
    assert set(crypto.field_keys()) == {1, 2}
    assert _raw_versions() == {"v2", "totp v2"}
    assert keys.stale_contacts().count() == 0 and keyring.stale_count() == 0

    for customer, phone in zip(made, phones, strict=True):
        contact = CustomerContact.objects.get(customer=customer)
        assert crypto.key_version_of(contact.value_encrypted) == 2
        assert contacts.open_value(contact) == "+86" + phone
        found = selectors.list_customers(company.admin, selectors.Filters(phone=phone))
        assert [c.pk for c in found] == [customer.pk]
    employee = Employee.objects.get(pk=company.manager_a.pk)
    assert crypto.decrypt(employee.totp_secret, aad=login.TOTP_AAD) == totp_before

    # In the ledger: one start, one finish, with what the two runs re-encrypted together.
    started = Entry.objects.get(kind="keys.rotation_started")
    rotated = Entry.objects.get(kind="keys.rotated")
    assert started.seq < rotated.seq and started.source == rotated.source == "keys"
    assert started.actor_id is None and started.customer_id is None
    to_do, done = json.loads(started.payload), json.loads(rotated.payload)
    assert (to_do["from_versions"], to_do["to_version"]) == ([1], 2)
    assert to_do["rows"]["customers.contact"] == 12 and to_do["rows"]["access.totp"] == 1
    assert (done["from_versions"], done["to_version"], done["started_seq"]) == ([1], 2, started.seq)
    # Every registered column is counted, 0 where it had nothing (apps add columns: the WeCom secrets).
    assert {k: v for k, v in done["rows"].items() if v} == {
        "access.totp": 1,
        "customers.contact": 12,
        "ledger.payload": ledger,
    }
    assert set(done["rows"]) == {f.name for f in keyring.registered()}
    assert {"alerts.webhook_url", "archive.device_secret", "customers.import", "wecom.app_secret"} <= set(
        done["rows"]
    )
    assert done["files"] == {"archive.blobs": 0, "archive.uploads": 0}
    for key in crypto.field_keys().values():
        assert crypto._b64(key) not in started.payload + rotated.payload
    assert "every row is under v2" in _run("status")

    # A finished rotation run again starts the next one.
    out = _run("rotate")
    assert "new key v3 is current" in out and "every row is now under v3" in out
    assert "v1, v2 may be removed" in out
    assert _raw_versions() == {"v3", "totp v3"}
    assert own_keys.stat().st_mode & 0o777 == 0o600
    assert len(own_keys.read_text().split()) == 3
    third = json.loads(Entry.objects.filter(kind="keys.rotated").order_by("-seq").first().payload)
    assert (third["from_versions"], third["to_version"]) == ([2], 3)
    assert third["rows"]["customers.contact"] == 12 and third["rows"]["access.totp"] == 1
    assert Entry.objects.filter(kind="keys.rotation_started").count() == 2
    assert verify().size == Entry.objects.count()


def test_new_rows_after_rotation_use_the_new_key(own_keys, company, make_customer):
    make_customer(company.sales_a)
    _run("rotate")
    fresh = make_customer(company.sales_a)
    assert crypto.key_version_of(CustomerContact.objects.get(customer=fresh).value_encrypted) == 2


def test_keys_from_the_environment_are_not_rewritten(company, make_customer, monkeypatch):
    # v1 as it was: the company's ledger entries were sealed with it before the environment said so.
    spec = "1:" + crypto._b64(crypto.field_keys()[1])
    monkeypatch.setenv("CUSTOS_FIELD_KEYS", spec)
    crypto.reset_cache()
    try:
        make_customer(company.sales_a)
        from django.core.management.base import CommandError

        with pytest.raises(CommandError, match="CUSTOS_FIELD_KEYS"):
            _run("rotate")
        assert not Entry.objects.filter(kind__startswith="keys.").exists()  # nothing started
        # The operator adds v2 to the environment; the same command then re-encrypts.
        make_customer(company.sales_a)
        monkeypatch.setenv("CUSTOS_FIELD_KEYS", spec + ",2:" + crypto._b64(b"m" * 32))
        assert "re-encrypted 1 rows under v2" in _run("rotate", "--limit", "1")
        # Before that rotation is done, v3 is added: the rotation to v2 is superseded, one to v3
        # starts, and takes every row (under v1 or v2) to v3.
        monkeypatch.setenv(
            "CUSTOS_FIELD_KEYS", spec + ",2:" + crypto._b64(b"m" * 32) + ",3:" + crypto._b64(b"n" * 32)
        )
        ledger = _ledger_rows()
        out = _run("rotate")
        assert (
            f"continuing the rotation to v3: {2 + ledger} rows to go" in out
            and "every row is now under v3" in out
        )
        assert keys.stale_contacts().count() == 0
        kinds = list(
            Entry.objects.filter(kind__startswith="keys.").order_by("seq").values_list("kind", "payload")
        )
        assert [k for k, _p in kinds] == [
            "keys.rotation_started",
            "keys.rotation_superseded",
            "keys.rotation_started",
            "keys.rotated",
        ]
        superseded, started, rotated = (json.loads(p) for _k, p in kinds[1:])
        assert superseded["to_version"] == 2 and superseded["superseded_by"] == 3
        assert superseded["rows"]["customers.contact"] == 1
        assert (started["from_versions"], started["to_version"]) == ([1, 2], 3)
        assert rotated["rows"]["customers.contact"] == 2
        assert verify().size == Entry.objects.count()
    finally:
        monkeypatch.undo()
        crypto.reset_cache()


def test_a_missing_key_is_a_clear_error(own_keys):
    with pytest.raises(crypto.KeyConfigError, match="version 9 is missing"):
        crypto.decrypt("v9:AAAA")


def test_the_command_is_listed():
    from custos.cli import COMMANDS

    assert "keys" in COMMANDS


def test_a_kept_import_sheet_is_rotated_and_still_reads(own_keys, company):
    from custos.customers import imports

    job = imports.upload(company.manager_a, "a.csv", "客户,手机\n罗美玲,13912345678\n".encode())
    ledger = _ledger_rows()
    assert f"re-encrypted {2 + ledger} rows under v2" in _run("rotate")  # the sheet, its header, the ledger
    job.refresh_from_db()
    assert crypto.key_version_of(job.sheet_encrypted) == 2
    assert crypto.key_version_of(job.details_encrypted) == 2 and job.header == ["客户", "手机"]
    assert imports.check(company.manager_a, job.pk, {}).report["would_create"] == 1


def test_a_second_rotation_started_meanwhile_is_refused_and_adds_no_key(own_keys, company):
    import fcntl

    from django.core.management.base import CommandError

    _run("status")  # the keys file exists, at one version
    before = own_keys.read_bytes()
    with open(own_keys.parent / "keys-rotate.lock", "a") as held:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)  # a rotation in another process
        with pytest.raises(CommandError, match="another `custos keys rotate` is running"):
            _run("rotate")
    assert own_keys.read_bytes() == before and not Entry.objects.filter(kind__startswith="keys.").exists()
    _run("rotate")  # once the other one is done
    assert crypto.current_version() == 2


def test_batch_sealers_take_the_key_current_when_made_and_open_after_rotation(own_keys):
    from custos.core.sealed import SealedJSONField, SealedTextField, open_

    field = SealedTextField(seal_as="test.body")
    before = field.sealer()
    crypto.add_key_version()
    after = field.sealer()
    old, new = before("回扣的事私下说"), after("回扣的事私下说")
    # a batch begun before the rotation finishes under its key; the next batch takes the new one
    assert (crypto.key_version_of(old), crypto.key_version_of(new)) == (1, 2)
    assert open_(old, field._aad) == open_(new, field._aad) == "回扣的事私下说"
    assert before("") == "" and before(None) is None
    as_json = SealedJSONField(seal_as="test.extra").sealer()
    assert as_json({}) == "" and crypto.key_version_of(as_json({"a": "位置"})) == 2
    # a version the process has not read yet is looked up, not refused
    crypto.add_key_version()
    third = crypto.encrypt("新客户")
    assert crypto.key_version_of(third) == 3 and crypto.decrypt(third) == "新客户"
