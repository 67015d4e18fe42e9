"""A copy of the whole database after `custos demo`, read as an attacker with a leaked backup would
read it: no chat text, no customer's phone number, WeChat id or address anywhere in clear
(tables, the search indexes and what they are built over, ledger payloads, the job queue).

SQLite: every statement of iterdump(); PostgreSQL: pg_dump when it is on PATH, else every row of
every table as text. The secrets are what the demo wrote, read back opened through the models.
"""

import io
import shutil
import subprocess

import pytest
from django.core.management import call_command
from django.db import connection

from custos.archive import seal_check


def _dump() -> str:
    if connection.vendor == "postgresql" and shutil.which("pg_dump"):
        s = connection.settings_dict
        env = {"PGPASSWORD": s.get("PASSWORD") or ""}
        args = ["pg_dump", "--no-owner", "-h", s.get("HOST") or "127.0.0.1", "-p", str(s.get("PORT") or 5432)]
        args += ["-U", s.get("USER") or "postgres", s["NAME"]]
        done = subprocess.run(args, capture_output=True, check=False, env=env, text=True)  # noqa: S603
        if done.returncode == 0:
            return done.stdout
        # a pg_dump older than the server refuses: every row of every table instead
    return seal_check.database_text()


_found: dict = {}


def _leaks() -> dict[str, list[str]]:
    """Run the demo, dump, and look for every secret in clear (once for this module's tests)."""
    if _found:
        return _found
    call_command("demo", stdout=io.StringIO())
    secrets = seal_check.secrets()
    assert len(secrets["text"]) > 1000 and secrets["phone"] and secrets["wechat"] and secrets["address"]
    dump = _dump() + "\n" + seal_check.queue_text()
    _found.update(seal_check.leaks(dump, secrets))
    # the dump is of the database the demo filled: its ciphertexts are there
    _found["sealed"] = [str(dump.count("v1:") > len(secrets["text"]))]
    # WeChat ids are kept as keyed pseudonyms, and the demo's chats still match their customers
    from custos.archive.models import ExternalContact

    wx = ExternalContact.objects.filter(external_id__startswith="wx:")
    _found["matched"] = [str(wx.exists() and not wx.filter(customer_id__isnull=True).exists())]
    # and the command says the same of it
    out = io.StringIO()
    call_command("archive", "seal-check", stdout=out)
    assert "no chat text, phone number, WeChat id or address in clear" in out.getvalue()
    return _found


@pytest.mark.django_db(transaction=True)
def test_a_dump_after_the_demo_holds_no_chat_text_phone_number_or_address_in_clear():
    leaks = _leaks()
    assert leaks["sealed"] == ["True"]
    assert not (leaks["text"] or leaks["address"] or leaks["phone"]), {k: v[:5] for k, v in leaks.items()}


@pytest.mark.django_db(transaction=True)
def test_a_dump_after_the_demo_holds_no_wechat_id_in_clear():
    leaks = _leaks()
    assert not leaks["wechat"], leaks["wechat"][:5]
    assert leaks["matched"] == ["True"]
