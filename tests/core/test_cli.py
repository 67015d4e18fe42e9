"""The `custos` command as an operator meets it: a process, its exit code and what it prints."""

import os
import secrets
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import transaction

from custos.core.datadir import secret_file
from custos.org import demo
from custos.org.models import Employee, Unit


def custos(*args, env=None, data_dir=None):
    environment = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    environment.update(env or {})
    if data_dir:
        environment["CUSTOS_DATA_DIR"] = str(data_dir)
    return subprocess.run(
        [sys.executable, "-m", "custos.cli", *args], capture_output=True, text=True, env=environment, timeout=120
    )


def test_help_lists_every_command_with_a_line(tmp_path):
    result = custos("--help", data_dir=tmp_path)
    assert result.returncode == 0
    for name in ("serve", "worker", "migrate", "demo", "createadmin", "check"):
        line = next(line for line in result.stdout.splitlines() if line.strip().startswith(name + " "))
        assert len(line.split(None, 1)[1]) > 10


def test_unknown_command_is_one_line_and_exit_2(tmp_path):
    result = custos("frobnicate", data_dir=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "frobnicate" in result.stderr
    assert "Traceback" not in result.stderr


def test_wrong_argument_is_one_line_and_nonzero(tmp_path):
    result = custos("serve", "--port", "eighty", data_dir=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0 and "--port" in result.stderr
    result = custos("serve", "--port", "70000", "--no-worker", data_dir=tmp_path)
    assert result.returncode == 1 and "between 1 and 65535" in result.stderr and "Traceback" not in result.stderr


def test_createadmin_without_password_explains_itself(tmp_path):
    assert custos("migrate", "-v", "0", data_dir=tmp_path).returncode == 0
    result = custos("createadmin", "--username", "root", data_dir=tmp_path)
    assert result.returncode == 1 and "CUSTOS_ADMIN_PASSWORD" in result.stderr
    ok = custos("createadmin", "--username", "root", env={"CUSTOS_ADMIN_PASSWORD": "a-very-long-pass"}, data_dir=tmp_path)
    assert ok.returncode == 0, ok.stderr
    again = custos("createadmin", "--username", "root", env={"CUSTOS_ADMIN_PASSWORD": "a-very-long-pass"}, data_dir=tmp_path)
    assert again.returncode == 1 and "root" in again.stderr and "Traceback" not in again.stderr


def test_secrets_are_generated_private_and_reused(tmp_path, monkeypatch):
    monkeypatch.setenv("CUSTOS_DATA_DIR", str(tmp_path))
    first = secret_file("secret-key")
    assert stat.S_IMODE((tmp_path / "secret-key").stat().st_mode) == 0o600
    assert secret_file("secret-key") == first and len(first) > 40


def test_deploy_check_is_clean_for_a_production_configuration(tmp_path):
    production = {
        "DATABASE_URL": "postgres://custos@db.internal:5432/custos",
        "CUSTOS_SECRET_KEY": secrets.token_urlsafe(64),
        "CUSTOS_SECURE": "true",
        "ALLOWED_HOSTS": "custos.example.com",
        "CUSTOS_REDIS_URL": "redis://127.0.0.1:6379/0",
    }
    result = custos("check", "--deploy", "--fail-level", "WARNING", env=production, data_dir=tmp_path)
    assert result.returncode == 0, result.stderr + result.stdout
    insecure = custos("check", "--deploy", "--fail-level", "WARNING", env={"DEBUG": "true"}, data_dir=tmp_path)
    assert insecure.returncode != 0


def _demo_snapshot(seed):
    with transaction.atomic():
        demo.build(seed)
        snapshot = (
            list(Unit.objects.order_by("pk").values_list("name", "kind")),
            sorted(Employee.objects.values_list("user__username", "name", "role", "unit__name")),
        )
        transaction.set_rollback(True)
    return snapshot


@pytest.mark.django_db
def test_demo_is_reproducible_from_its_seed():
    units, staff = _demo_snapshot(7)
    assert (units, staff) == _demo_snapshot(7)
    assert _demo_snapshot(8)[1] != staff
    assert len(units) == 9 and sum(kind == "store" for _n, kind in units) == 6
    assert 38 <= len(staff) <= 50
    assert {role for *_x, role, _u in staff} == {"admin", "executive", "manager", "sales", "service", "auditor"}
    assert all(1 < len(name) <= 3 for _u, name, *_ in staff)


def test_make_run_path_migrate_demo_and_keep_data(tmp_path):
    assert custos("migrate", "-v", "0", data_dir=tmp_path).returncode == 0
    first = custos("demo", "--if-empty", data_dir=tmp_path)
    assert first.returncode == 0 and "admin" in first.stdout and demo.DEMO_PASSWORD in first.stdout
    second = custos("demo", "--if-empty", data_dir=tmp_path)
    assert second.returncode == 0 and "already" in second.stdout
    assert custos("demo", data_dir=tmp_path).returncode == 1
    assert Path(tmp_path, "custos.sqlite3").exists()
