"""`custos keys rotate` / `keys status`: a new key version, re-encryption in batches, resumable."""

import io

import pytest
from django.core.management import call_command
from django.db import connection

from custos.access import login
from custos.core import crypto, keyring
from custos.customers import contacts, keys, selectors
from custos.customers.models import CustomerContact
from custos.org.models import Employee


@pytest.fixture
def own_keys(tmp_path, monkeypatch):
    """A data directory of this test's own, so the keys file it rotates is a scratch one."""
    monkeypatch.delenv("CUSTOS_FIELD_KEYS", raising=False)
    monkeypatch.setenv("CUSTOS_DATA_DIR", str(tmp_path))
    crypto.reset_cache()
    yield tmp_path / crypto.KEYS_FILE
    monkeypatch.undo()
    crypto.reset_cache()


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


def test_rotation_resumes_and_leaves_no_old_ciphertext(own_keys, company, make_customer):
    phones = [f"1391234{i:04d}" for i in range(12)]
    made = [make_customer(company.sales_a, phone=p) for p in phones]
    login.start_totp_enrolment(company.manager_a)
    totp_before = crypto.decrypt(Employee.objects.get(pk=company.manager_a.pk).totp_secret, aad=login.TOTP_AAD)
    assert _raw_versions() == {"v1", "totp v1"}

    # Interrupted: only 5 of the 13 rows (the TOTP secret, then 4 contacts) are done when it stops.
    out = _run("rotate", "--batch", "2", "--limit", "5")
    assert "new key v2 is current" in out and "re-encrypted 5 rows under v2" in out
    assert "8 rows still under older keys" in out
    assert _raw_versions() == {"v1", "v2", "totp v2"}
    # Meanwhile both versions read, and the blind index still finds every number.
    for customer, phone in zip(made, phones, strict=True):
        contact = CustomerContact.objects.get(customer=customer)
        assert contacts.open_value(contact) == "+86" + phone
    status = _run("status")
    assert "current key: v2" in status and "v1: 8, v2: 4" in status and "8 rows under older keys" in status

    # Run again: it carries on with v2 instead of adding a third key.
    out = _run("rotate", "--batch", "3")
    assert "continuing the rotation to v2: 8 rows to go" in out and "re-encrypted 8 rows" in out
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

    # A finished rotation run again starts the next one.
    out = _run("rotate")
    assert "new key v3 is current" in out and "every row is now under v3" in out
    assert "v1, v2 may be removed" in out
    assert _raw_versions() == {"v3", "totp v3"}
    assert own_keys.stat().st_mode & 0o777 == 0o600
    assert len(own_keys.read_text().split()) == 3


def test_new_rows_after_rotation_use_the_new_key(own_keys, company, make_customer):
    make_customer(company.sales_a)
    _run("rotate")
    fresh = make_customer(company.sales_a)
    assert crypto.key_version_of(CustomerContact.objects.get(customer=fresh).value_encrypted) == 2


def test_keys_from_the_environment_are_not_rewritten(company, make_customer, monkeypatch):
    spec = "1:" + crypto._b64(b"k" * 32)
    monkeypatch.setenv("CUSTOS_FIELD_KEYS", spec)
    crypto.reset_cache()
    try:
        make_customer(company.sales_a)
        from django.core.management.base import CommandError

        with pytest.raises(CommandError, match="CUSTOS_FIELD_KEYS"):
            _run("rotate")
        # The operator adds v2 to the environment; the same command then re-encrypts.
        monkeypatch.setenv("CUSTOS_FIELD_KEYS", spec + ",2:" + crypto._b64(b"m" * 32))
        assert "re-encrypted 1 rows under v2" in _run("rotate")
        assert keys.stale_contacts().count() == 0
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
    assert "re-encrypted 2 rows under v2" in _run("rotate")  # the sheet, and its header
    job.refresh_from_db()
    assert crypto.key_version_of(job.sheet_encrypted) == 2
    assert crypto.key_version_of(job.details_encrypted) == 2 and job.header == ["客户", "手机"]
    assert imports.check(company.manager_a, job.pk, {}).report["would_create"] == 1
