"""A departure's freeze queues lock and wipe for the leaver's phones; the checklist waits for both."""

from datetime import timedelta

from django.utils import timezone

from custos.devices import departures
from custos.devices.models import Command
from custos.handover import services as handover
from custos.handover.models import ChecklistItem, DeviceCommand
from custos.ledger.models import Entry


def tomorrow():
    return timezone.localdate() + timedelta(days=1)


def test_freeze_locks_and_wipes_and_the_checklist_waits(company, enrolled, console):
    phone = enrolled()
    other = enrolled(employee=company.sales_a_peer)
    case = handover.open_case(actor=company.manager_a, employee=company.sales_a, last_day=tomorrow())
    [item] = case.items.filter(kind="device")
    assert item.ref == str(phone.device.pk) and item.detail["lock"] == "not_queued"

    handover.freeze_now(actor=company.manager_a, case=case, reason="带走客户风险")
    queued = Command.objects.filter(device=phone.device).order_by("id")
    assert [(c.kind, c.case_id, c.created_by_id) for c in queued] == [
        ("lock", case.pk, company.manager_a.pk),
        ("wipe", case.pk, company.manager_a.pk),
    ]
    assert not Command.objects.filter(device=other.device).exists()
    case.refresh_from_db()
    assert case.status == "frozen"
    departures.on_case_frozen(
        sender=None, case=case, actor=None
    )  # sent again (last day, refresh): idempotent
    assert Command.objects.filter(device=phone.device).count() == 2

    # The frozen leaver's phone still polls (the token is not revoked) and answers.
    polled = phone.phone.poll().json()["commands"]
    assert [c["kind"] for c in polled] == ["lock", "wipe"]
    lock, wipe = polled
    phone.phone.ack(lock["id"], ok=True, result="locked")
    handover.refresh(case)
    item.refresh_from_db()
    assert item.done_at is None and item.detail["lock"] == "succeeded" and item.detail["wipe"] == "delivered"
    # handover's own lock for the token is settled by the phone's answer
    assert not DeviceCommand.objects.filter(token=phone.device.token, acknowledged_at__isnull=True).exists()

    phone.phone.ack(wipe["id"], ok=False, result="storage busy")
    handover.refresh(case)
    item.refresh_from_db()
    assert item.done_at is None and item.detail["wipe"] == "failed"
    # The manager sends the wipe again from the phone's page; the phone answers it.
    from custos.devices import commands

    again = commands.queue(actor=company.manager_a, device=phone.device, kind="wipe", reason="再次清除")
    phone.phone.poll()
    phone.phone.ack(again.pk, ok=True, result="wiped")
    summary = handover.refresh(case)
    item.refresh_from_db()
    assert item.done_at is not None
    assert summary["by_kind"]["device"] == {"total": 1, "open": 0}

    page = console(company.manager_a).get(f"/handover/cases/{case.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert phone.device.serial in html and 'data-kind="device"' in html
    results = Entry.objects.filter(kind="device.command_result").count()
    assert results == 3


def test_the_case_cannot_close_while_a_phone_is_not_wiped(company, enrolled):
    phone = enrolled()
    case = handover.open_case(actor=company.manager_a, employee=company.sales_a, last_day=tomorrow())
    handover.freeze_now(actor=company.manager_a, case=case, reason="离职")
    items = case.items.filter(kind="device", done_at__isnull=True, waived_at__isnull=True)
    assert items.count() == 1
    # A lost phone: the manager waives the item with a reason; the commands stay queued.
    handover.waive(actor=company.manager_a, item=items.get(), reason="手机已丢失，已报警")
    assert ChecklistItem.objects.get(case=case, kind="device").waived_at is not None
    assert Command.objects.filter(device=phone.device, status="queued").count() == 2
