"""`custos simulate` against a live server: signed traffic arrives in the ledger, the archive and the alerts."""

import signal
import socket
import subprocess
import sys
import time

import pytest
from django.core.management import CommandError, call_command

from custos.access.models import ApiToken
from custos.alerts.models import Alert
from custos.archive import credentials, simulate
from custos.archive.models import Message
from custos.detection.engine import Engine
from custos.ledger.models import Entry


def _run(live_server, token, secret, **options):
    # The first scan in a process builds the detection tables (about a second); built here, they
    # do not eat the two seconds of traffic the assertions below count.
    Engine.from_default()
    call_command(
        "simulate", rate=options.pop("rate", 40), duration=options.pop("duration", 2), url=live_server.url,
        token=token, secret=secret, seed=7, contacts=4, **options,
    )  # fmt: skip


def test_device_traffic_reaches_ledger_archive_and_alerts(company, live_server, capsys):
    _row, token, secret = credentials.issue(actor=company.manager_a, kind="device", name="模拟手机", employee=company.sales_a)
    _run(live_server, token, secret)
    out = capsys.readouterr().out
    assert "done after" in out and " 0 rejected" in out, out
    kinds = set(Entry.objects.filter(source=f"device:{company.sales_a.pk}").values_list("kind", flat=True))
    assert {"contact.added", "message.sent", "message.received"} <= kinds
    assert Entry.objects.filter(source=f"device:{company.sales_a.pk}").count() >= 40
    texts = set(Message.objects.filter(employee=company.sales_a).values_list("text", flat=True))
    assert texts & set(simulate.DISGUISED), "no suspicious phrase was sent"
    assert Alert.objects.filter(employee=company.sales_a).exists(), "a suspicious phrase raised no alert"


def test_integration_token_names_employees(company, live_server, capsys):
    _row, token, secret = credentials.issue(
        actor=company.admin, kind=ApiToken.Kind.INTEGRATION, name="会话存档", unit=company.store_a
    )
    staff = [company.sales_a.employee_no, company.sales_a_peer.employee_no]
    _run(live_server, token, secret, employees=",".join(staff), rate=20, duration=1.5)
    assert " 0 rejected" in capsys.readouterr().out
    senders = set(Entry.objects.filter(source=f"integration:{company.store_a.pk}").values_list("actor_id", flat=True))
    assert senders == {company.sales_a.pk, company.sales_a_peer.pk}


def test_credential_command_prints_a_simulate_line(company, capsys):
    call_command("archive", "credential", "--as", company.admin.user.username, "--unit", str(company.store_a.pk), "--name", "连接器")
    line = next(x for x in capsys.readouterr().out.splitlines() if "custos simulate" in x)
    # "=" keeps a secret that begins with "-" from being read as an option
    assert "--token=cst_" in line and "--secret=" in line and company.sales_a.employee_no in line


def test_wrong_secret_is_one_clear_line(company, live_server):
    _row, token, _secret = credentials.issue(actor=company.manager_a, kind="device", name="模拟手机", employee=company.sales_a)
    with pytest.raises(CommandError, match=r"refused the credential \(401\): The signature does not match"):
        _run(live_server, token, "not-the-secret", duration=1)


def test_server_down_exits_non_zero_with_one_line(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # closed again: nothing listens there
    done = subprocess.run(
        [sys.executable, "-m", "custos.cli", "simulate", "--rate", "5", "--duration", "1",
         "--url", f"http://127.0.0.1:{port}", "--token", "cst_x_y", "--secret", "s"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [f"custos simulate: cannot reach http://127.0.0.1:{port}: Connection refused"]


def test_ctrl_c_stops_with_the_summary(company, live_server):
    _row, token, secret = credentials.issue(actor=company.manager_a, kind="device", name="模拟手机", employee=company.sales_a)
    proc = subprocess.Popen(
        [sys.executable, "-m", "custos.cli", "simulate", "--rate", "20", "--url", live_server.url,
         f"--token={token}", f"--secret={secret}"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 30
    while not Entry.objects.filter(source=f"device:{company.sales_a.pk}").exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert out.startswith("stopped after") and "accepted" in out
    assert "Traceback" not in err
