"""`custos device simulate` against a live server: a fleet enrols, reports, applies the policy and
answers commands over real HTTP; the lost phone is caught by the silence alert."""

import json
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from custos.alerts.models import Alert
from custos.devices import commands, policies, services
from custos.devices.models import Command, Device
from custos.ledger.models import Entry


def _codes(company, tmp_path, n=4):
    staff = [company.sales_a, company.sales_a_peer, company.service_a, company.sales_a]
    lines = []
    for i in range(n):
        device = services.register(
            actor=company.manager_a, serial=f"SIM-T-{i}", employee=staff[i % len(staff)]
        )
        _code, clear = services.issue_code(actor=company.manager_a, device=device)
        lines.append(f"{device.serial} {clear}")
    path = tmp_path / "codes.txt"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_fleet_plays_against_a_live_server(company, live_server, tmp_path, capsys, settings):
    settings.CUSTOS_DEVICE_OFFLINE_MINUTES = 30
    policies.publish(
        actor=company.manager_a,
        unit=company.store_a,
        rules={
            "allowed_apps": ["com.tencent.wework", "com.custos.agent", "com.custos.crm"],
            "disabled": ["camera"],
        },
    )
    codes = _codes(company, tmp_path)
    state = tmp_path / "fleet.json"
    call_command(
        "device", "simulate", "--url", live_server.url, "--codes", str(codes), "--state", str(state),
        "--rounds", "2", "--interval", "0", "--lost", "1", "--non-compliant", "1",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "done after" in out and "phones 4" in out and "refused 0" in out, out
    assert oct(state.stat().st_mode & 0o777) == "0o600"
    assert set(json.loads(state.read_text())) == {"SIM-T-0", "SIM-T-1", "SIM-T-2", "SIM-T-3"}
    devices = {d.serial: d for d in Device.objects.all()}
    assert all(d.state == "enrolled" for d in devices.values())
    lost, bad, good = devices["SIM-T-0"], devices["SIM-T-1"], devices["SIM-T-2"]
    assert lost.policy_applied_id is None and good.policy_applied_id is not None
    assert bad.policy_failures == ["camera"] and "com.tencent.mm" in bad.installed_apps
    current = policies.effective(good)
    assert policies.compliance(good, current).state == "compliant"
    assert policies.compliance(bad, current).state == "non_compliant"
    assert Entry.objects.filter(kind="device.policy_applied").count() == 3

    # Commands queued now go out on the next run's polls (credentials from the state file, no codes).
    ring = commands.queue(actor=company.manager_a, device=good, kind="ring")
    app = commands.queue(actor=company.manager_a, device=bad, kind="uninstall_app", package="com.tencent.mm")
    call_command(
        "device",
        "simulate",
        "--url",
        live_server.url,
        "--state",
        str(state),
        "--rounds",
        "1",
        "--interval",
        "0",
        "--lost",
        "1",
        "--non-compliant",
        "1",
    )
    assert "commands done 2" in capsys.readouterr().out
    assert (
        Command.objects.get(pk=ring.pk).status == "succeeded"
        and Command.objects.get(pk=app.pk).result == "已卸载 com.tencent.mm"
    )

    # The lost phone said nothing since its enrolment: the detector catches it.
    Device.objects.filter(pk=lost.pk).update(last_seen_at=timezone.now() - timedelta(minutes=31))
    call_command("device", "sweep")
    assert Alert.objects.filter(rule="device_offline", employee=lost.employee).count() == 1
    assert not Alert.objects.filter(rule="device_offline").exclude(employee=lost.employee).exists()


def test_bad_input_and_a_server_that_is_down_give_one_line(company, live_server, tmp_path):
    with pytest.raises(CommandError, match="--codes"):
        call_command("device", "simulate", "--url", live_server.url, "--rounds", "1")
    bad = tmp_path / "bad.txt"
    bad.write_text("only-one-field\n")
    with pytest.raises(CommandError, match="SERIAL CODE"):
        call_command("device", "simulate", "--url", live_server.url, "--codes", str(bad), "--rounds", "1")
    codes = _codes(company, tmp_path, n=1)
    with pytest.raises(CommandError, match="cannot reach"):
        call_command(
            "device", "simulate", "--url", "http://127.0.0.1:9", "--codes", str(codes), "--rounds", "1"
        )
    # A used code: the phone is not enrolled, the run goes on with none and says so.
    call_command(
        "device",
        "simulate",
        "--url",
        live_server.url,
        "--codes",
        str(codes),
        "--rounds",
        "1",
        "--interval",
        "0",
    )
    with pytest.raises(CommandError):
        call_command("device", "simulate", "--url", live_server.url, "--codes", str(codes), "--rounds", "1")


def test_codes_command_registers_and_prints_codes(company, capsys):
    call_command("device", "codes", "--as", company.manager_a.user.username, "--register", "3")
    lines = [x for x in capsys.readouterr().out.splitlines() if x.strip()]
    assert len(lines) == 3 and all(len(x.split()) == 2 for x in lines)
    assert Device.objects.filter(unit=company.store_a, state="registered").count() == 3
    with pytest.raises(CommandError):
        call_command("device", "codes", "--as", company.sales_a.user.username, "--register", "1")


def test_the_fleet_plays_a_field_day_through_the_field_agent(company, live_server, tmp_path, capsys):
    from custos.customers import services as customer_services
    from custos.field import services as field_services
    from custos.field.models import Visit

    for i in range(3):
        c = customer_services.create_customer(
            actor=company.sales_a, name=f"外勤客户{i}", owner=company.sales_a,
            contacts_in=[customer_services.NewContact("phone", f"1390000000{i}")],
        )  # fmt: skip
        field_services.set_site(
            actor=company.manager_a,
            customer_id=c.pk,
            name=f"门店{i}",
            lat=23.13 + i * 0.01,
            lon=113.32 + i * 0.01,
        )
    codes, state, sites = _codes(company, tmp_path, n=1), tmp_path / "state.json", tmp_path / "sites.json"
    call_command(
        "device",
        "simulate",
        "--url",
        live_server.url,
        "--codes",
        str(codes),
        "--state",
        str(state),
        "--rounds",
        "1",
    )
    capsys.readouterr()
    call_command("device", "sites", "--as", company.manager_a.user.username)
    sites.write_text(capsys.readouterr().out)
    assert len(json.loads(sites.read_text())["SIM-T-0"]) == 3
    call_command(
        "device", "simulate", "--url", live_server.url, "--state", str(state), "--sites", str(sites),
        "--fake-visits", "1", "--rounds", "1",
    )  # fmt: skip
    out = capsys.readouterr().out
    assert "field " in out and "refused 0" in out, out
    visits = Visit.objects.filter(employee=company.sales_a)
    assert visits.count() == 3 and all(v.checked_out_at for v in visits)
    assert Alert.objects.filter(category="fake_visit", employee=company.sales_a).exists()
