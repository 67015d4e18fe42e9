"""`custos evidence build|verify` and `custos retention` from the command line."""

import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from custos.cli import main
from custos.evidence import offline
from custos.ledger.models import Entry


def test_build_then_verify(chats, tmp_path, capsys):
    out = tmp_path / "zhang.zip"
    call_command("evidence", "build", "--customer", str(chats.zhang.pk), "--out", str(out))
    assert "evidence package written to" in capsys.readouterr().out
    assert offline.verify_package(out).ok
    created = Entry.objects.get(kind="evidence.package_created")
    assert created.actor_id is None and created.customer_id == chats.zhang.pk
    assert main(["evidence", "verify", str(out)]) == 0
    assert "evidence package verified" in capsys.readouterr().out


def test_build_by_employee_and_range_as_a_manager(chats, tmp_path, capsys):
    c = chats.company
    out = tmp_path / "b.zip"
    call_command(
        "evidence", "build", "--employee", str(c.sales_a.pk), "--from", "2000-01-01", "--to", "2100-01-01",
        "--as", "manager_a", "--out", str(out),
    )
    assert offline.verify_package(out).entries == 4  # 张三 created by sales_a, and three chats
    with pytest.raises(CommandError):  # out of scope: not found
        call_command("evidence", "build", "--employee", str(c.sales_b.pk), "--as", "manager_a", "--out", str(out))
    with pytest.raises(CommandError):  # nothing chosen
        call_command("evidence", "build", "--out", str(out))


def test_verify_names_the_failure_and_exits_non_zero(chats, tmp_path):
    import zipfile

    out = tmp_path / "p.zip"
    call_command("evidence", "build", "--customer", str(chats.zhang.pk), "--out", str(out))
    bad = tmp_path / "bad.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(bad, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            dst.writestr(name, data + b" " if name == "proofs.json" else data)
    result = subprocess.run(
        [sys.executable, "-m", "custos.cli", "evidence", "verify", str(bad)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "proofs.json: SHA-256 does not match the manifest" in result.stderr
    assert subprocess.run([sys.executable, "-m", "custos.cli", "evidence", "verify", str(out)]).returncode == 0
