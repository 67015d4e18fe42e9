"""A departure's lock and wipe, walked end to end with `custos device simulate` against a live server:
the phone enrols; the manager opens the case and freezes the leaver; the freeze queues lock and
wipe; the simulated phone (its token still signs although its holder is frozen) picks both up on
its next round and answers them; the checklist item clears and the case can close."""

import json
from datetime import timedelta

from django.core.management import call_command
from django.utils import timezone

from custos.devices import services
from custos.devices.models import Command, Device
from custos.handover import services as handover
from custos.handover.models import ChecklistItem, DeviceCommand
from custos.ledger.models import Entry


def _simulate(live_server, *args):
    call_command("device", "simulate", "--url", live_server.url, "--rounds", "1", "--interval", "0", *args)


def test_departure_freeze_lock_wipe_acknowledged_by_the_simulated_phone(
    company, live_server, tmp_path, capsys
):
    device = services.register(
        actor=company.manager_a, serial="SN-LEAVER-1", employee=company.sales_a, model="华为 nova 12"
    )
    _code, clear = services.issue_code(actor=company.manager_a, device=device)
    codes, state = tmp_path / "codes.txt", tmp_path / "fleet.json"
    codes.write_text(f"{device.serial} {clear}\n")
    _simulate(live_server, "--codes", str(codes), "--state", str(state))
    assert "phones 1" in capsys.readouterr().out
    device.refresh_from_db()
    assert device.state == "enrolled"

    # 1. The store manager opens the departure case: one checklist item for the enrolled phone.
    case = handover.open_case(
        actor=company.manager_a, employee=company.sales_a, last_day=timezone.localdate() + timedelta(days=1)
    )
    item = ChecklistItem.objects.get(case=case, kind="device")
    assert item.ref == str(device.pk) and item.detail["lock"] == item.detail["wipe"] == "not_queued"

    # 2. Freeze now: lock and wipe queued for the leaver's phone, tied to the case.
    handover.freeze_now(actor=company.manager_a, case=case, reason="离职，带走客户风险")
    queued = list(
        Command.objects.filter(device=device).order_by("id").values_list("kind", "status", "case_id")
    )
    assert queued == [("lock", "queued", case.pk), ("wipe", "queued", case.pk)]
    company.sales_a.refresh_from_db()
    case.refresh_from_db()
    assert not company.sales_a.may_sign_in and case.status == "frozen"
    handover.refresh(case)
    item.refresh_from_db()
    assert item.done_at is None and item.detail["lock"] == item.detail["wipe"] == "queued"

    # 3. The simulated phone's next round: heartbeat (commands_waiting 2), poll, carry out, answer.
    _simulate(live_server, "--state", str(state))
    out = capsys.readouterr().out
    assert "commands done 2" in out and "refused 0" in out, out
    done = {c.kind: c for c in Command.objects.filter(device=device)}
    assert {k: (c.status, c.result) for k, c in done.items()} == {
        "lock": ("succeeded", "已锁屏"),
        "wipe": ("succeeded", "工作数据已清除"),
    }
    device.refresh_from_db()
    assert device.locked_at and device.wiped_at

    # 4. The checklist item clears; handover's own bare lock for the token is settled too.
    summary = handover.refresh(case)
    item.refresh_from_db()
    assert item.done_at is not None and summary["by_kind"]["device"] == {"total": 1, "open": 0}
    assert not DeviceCommand.objects.filter(token=device.token, acknowledged_at__isnull=True).exists()

    # Every step is in the ledger, tied to the case.
    steps = [
        (e.kind, json.loads(e.payload).get("kind"))
        for e in Entry.objects.filter(kind__startswith="device.command_")
        .exclude(kind="device.command_acknowledged")  # handover's bare lock, settled by ours
        .order_by("seq")
    ]
    assert steps == [
        ("device.command_queued", "lock"),
        ("device.command_queued", "wipe"),
        ("device.command_delivered", "lock"),
        ("device.command_delivered", "wipe"),
        ("device.command_result", "lock"),
        ("device.command_result", "wipe"),
    ]
    results = [json.loads(e.payload) for e in Entry.objects.filter(kind="device.command_result")]
    assert all(r["ok"] and r["case"] == case.pk for r in results)
    queued_entries = Entry.objects.filter(kind="device.command_queued")
    assert {e.source for e in queued_entries} == {"handover"}
    assert Device.objects.get(pk=device.pk).state == "enrolled"  # still the company's phone, wiped

    # 5. The last day passes: the leaver departs, the case is frozen again by the task; nothing is
    # queued twice and no lock is left waiting for a phone that already locked.
    after = timezone.now() + timedelta(days=2)
    assert [c.pk for c in handover.leave_on_last_day(now=after)] == [case.pk]
    company.sales_a.refresh_from_db()
    assert company.sales_a.status == "departed"
    assert Command.objects.filter(device=device).count() == 2
    assert not DeviceCommand.objects.filter(token=device.token, acknowledged_at__isnull=True).exists()
    handover.refresh(case)
    item.refresh_from_db()
    assert item.done_at is not None
