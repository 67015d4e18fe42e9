"""Retiring a phone: its credential stops signing, its waiting commands are cancelled, it leaves the
silence and compliance watch and the fleet, and its history and ledger stay."""

import json
from datetime import timedelta

from django.core.management import CommandError, call_command
from django.utils import timezone

from custos.access.models import ApiToken
from custos.alerts.models import Alert
from custos.devices import commands, departures, policies, selectors, services
from custos.devices.models import Command, Device
from custos.handover import services as handover
from custos.handover.models import ChecklistItem
from custos.ledger.models import Entry


def test_a_retired_phone_stops_signing_and_leaves_the_watch(company, api, enrolled, console, settings):
    e = enrolled()
    policies.publish(actor=company.manager_a, unit=company.store_a, rules={"disabled": ["camera"]})
    ring = commands.queue(actor=company.manager_a, device=e.device, kind="ring")
    # silent for a day and not running the policy: listed as silent and non-compliant
    Device.objects.filter(pk=e.device.pk).update(last_seen_at=timezone.now() - timedelta(days=1))
    settings.CUSTOS_DEVICE_POLICY_GRACE_MINUTES = 0
    assert [r.connection for r in selectors.fleet(company.manager_a)] == ["silent"]
    assert len(selectors.fleet(company.manager_a, compliance="non_compliant")) == 1

    manager = api(company.manager_a)
    assert manager.post(f"devices/{e.device.pk}/retire", {"reason": " "}).status_code in (400, 422)
    # a salesperson cannot retire their own phone
    assert api(company.sales_a).post(f"devices/{e.device.pk}/retire", {"reason": "坏了"}).status_code == 403
    done = manager.post(f"devices/{e.device.pk}/retire", {"reason": "屏幕摔碎，退回供应商"})
    assert done.status_code == 200, done.content
    body = done.json()
    assert body["state"] == "retired" and body["connection"] == "retired" and body["compliance"] == "retired"
    assert body["retired_reason"] == "屏幕摔碎，退回供应商" and body["open_commands"] == 0

    # The credential is revoked: the phone's next heartbeat is refused.
    assert ApiToken.objects.get(pk=e.device.token_id).revoked_at is not None
    assert e.phone.heartbeat(battery=50).status_code == 401
    ring.refresh_from_db()
    assert ring.status == "cancelled"
    # Out of the watch: no silence alert, not in the fleet, not non-compliant.
    assert services.alert_silent(timezone.now() + timedelta(days=3)) == 0
    assert not Alert.objects.filter(rule="device_offline").exists()
    assert selectors.fleet(company.manager_a) == []
    assert manager.get("devices/non-compliant").json() == []
    # Kept in history: its page, the retired filter, its commands, the ledger entry.
    assert [r.device.pk for r in selectors.fleet(company.manager_a, state="retired")] == [e.device.pk]
    assert manager.get(f"devices/{e.device.pk}/commands").json()["count"] == 1
    [entry] = Entry.objects.filter(kind="device.retired")
    payload = json.loads(entry.payload)
    assert payload["cancelled_commands"] == [ring.pk] and entry.actor_id == company.manager_a.pk
    assert payload["reason"] == "屏幕摔碎，退回供应商" and payload["was"] == "enrolled"
    assert Entry.objects.filter(kind="auth.token_revoked").count() == 1
    page = console(company.manager_a).get(f"/devices/{e.device.pk}/").content.decode()
    assert 'id="retired"' in page and "屏幕摔碎" in page and 'id="retire"' not in page
    fleet = console(company.manager_a).get("/devices/").content.decode()
    assert 'id="count-retired"' in fleet and f'data-device="{e.device.pk}"' not in fleet
    # Nothing more can be done with it: no commands, no new code, no second retirement, no reassigning.
    assert manager.post(f"devices/{e.device.pk}/commands", {"kind": "lock"}).status_code == 409
    assert manager.post(f"devices/{e.device.pk}/enrolment-code", {}).status_code == 409
    assert manager.post(f"devices/{e.device.pk}/retire", {"reason": "again"}).status_code == 409
    assigned = manager.post(f"devices/{e.device.pk}/assign", {"employee_id": company.sales_a_peer.pk})
    assert assigned.status_code == 409


def test_retiring_from_the_console_and_the_command_line(company, console, enrolled, capsys):
    e = enrolled()
    other = enrolled()
    browser = console(company.manager_a)
    # No reason, or a salesperson: refused with a message (back to the page), the phone unchanged.
    browser.post(f"/devices/{e.device.pk}/retire/", {"reason": ""})
    console(company.sales_a).post(f"/devices/{e.device.pk}/retire/", {"reason": "x"})
    assert Device.objects.get(pk=e.device.pk).state == "enrolled"
    assert browser.post(f"/devices/{e.device.pk}/retire/", {"reason": "丢失"}).status_code == 302
    assert Device.objects.get(pk=e.device.pk).state == "retired"

    call_command(
        "device", "retire", "--as", company.manager_a.user.username, "--serial", other.device.serial,
        "--reason", "退回",
    )  # fmt: skip
    assert "retired " + other.device.serial in capsys.readouterr().out
    try:
        call_command(
            "device", "retire", "--as", company.manager_b.user.username, "--serial", other.device.serial,
            "--reason", "x",
        )  # fmt: skip
        raise AssertionError("a phone outside the scope was retired")
    except CommandError as exc:
        assert "no phone" in str(exc)


def test_a_leavers_retired_phone_keeps_the_checklist_item_until_waived(company, enrolled):
    e = enrolled()
    case = handover.open_case(
        actor=company.manager_a, employee=company.sales_a, last_day=timezone.localdate() + timedelta(days=1)
    )
    handover.freeze_now(actor=company.manager_a, case=case, reason="离职")
    assert Command.objects.filter(device=e.device, case_id=case.pk, status="queued").count() == 2
    # The phone never comes back: the manager retires it; the lock and wipe are cancelled, yet the
    # item is not ticked by the retirement (nobody saw the phone wiped).
    services.retire(actor=company.manager_a, device=e.device, reason="手机丢失，未找回")
    assert set(Command.objects.filter(device=e.device).values_list("status", flat=True)) == {"cancelled"}
    handover.refresh(case)
    item = ChecklistItem.objects.get(case=case, kind=departures.KIND)
    assert item.done_at is None and item.detail["lock"] == "cancelled"
    handover.waive(actor=company.manager_a, item=item, reason="手机丢失，已报警，已注销")
    item.refresh_from_db()
    assert item.waived_at is not None
