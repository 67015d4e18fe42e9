"""Commands: queued, delivered on the next poll, answered, retried after a timeout, in the ledger."""

from datetime import timedelta

from django.utils import timezone

from custos.devices import commands
from custos.devices.models import Command, Device
from custos.ledger.models import Entry


def test_a_command_goes_out_on_the_next_poll_and_comes_back_with_a_result(company, api, enrolled):
    e = enrolled()
    manager = api(company.manager_a)
    queued = manager.post(
        f"devices/{e.device.pk}/commands",
        {"kind": "install_app", "package": "com.tencent.wework", "url": "https://example.com/wework.apk"},
    )
    assert queued.status_code == 201, queued.content
    command_id = queued.json()["id"]
    assert e.phone.heartbeat().json()["commands_waiting"] == 1
    polled = e.phone.poll().json()["commands"]
    assert [(c["id"], c["kind"], c["payload"]["package"], c["attempt"]) for c in polled] == [
        (command_id, "install_app", "com.tencent.wework", 1)
    ]
    assert e.phone.poll().json()["commands"] == []  # delivered once, not on every poll
    acked = e.phone.ack(command_id, ok=True, result="installed 4.1.30")
    assert acked.json() == {"id": command_id, "status": "succeeded"}
    assert (
        e.phone.ack(command_id, ok=False).json()["status"] == "succeeded"
    )  # answering twice changes nothing
    history = manager.get(f"devices/{e.device.pk}/commands").json()["items"]
    assert history[0]["result"] == "installed 4.1.30" and history[0]["acknowledged_at"]
    kinds = list(
        Entry.objects.filter(kind__startswith="device.command").order_by("seq").values_list("kind", flat=True)
    )
    assert kinds == ["device.command_queued", "device.command_delivered", "device.command_result"]


def test_bad_commands_and_wrong_people_are_refused(company, api, enrolled):
    e = enrolled()
    manager = api(company.manager_a)
    assert manager.post(f"devices/{e.device.pk}/commands", {"kind": "explode"}).status_code == 400
    assert (
        manager.post(
            f"devices/{e.device.pk}/commands", {"kind": "install_app", "package": "not a package"}
        ).status_code
        == 400
    )
    assert (
        manager.post(
            f"devices/{e.device.pk}/commands",
            {"kind": "install_app", "package": "com.x.y", "url": "http://plain.example/x.apk"},
        ).status_code
        == 400
    )
    assert (
        manager.post(f"devices/{e.device.pk}/commands", {"kind": "push_policy"}).status_code == 400
    )  # no policy yet
    assert api(company.sales_a).post(f"devices/{e.device.pk}/commands", {"kind": "wipe"}).status_code == 403
    assert api(company.manager_b).post(f"devices/{e.device.pk}/commands", {"kind": "wipe"}).status_code == 404
    assert api(company.auditor).post(f"devices/{e.device.pk}/commands", {"kind": "ring"}).status_code == 403
    assert not Command.objects.exists()
    # Another phone cannot answer this phone's command.
    other = enrolled(employee=company.sales_a_peer)
    ring = commands.queue(actor=company.manager_a, device=e.device, kind="ring")
    assert other.phone.ack(ring.pk).status_code == 404
    assert Command.objects.get(pk=ring.pk).status == "queued"


def test_an_unanswered_command_is_retried_then_times_out(company, enrolled, settings):
    settings.CUSTOS_DEVICE_COMMAND_TIMEOUT_SECONDS = 60
    settings.CUSTOS_DEVICE_COMMAND_ATTEMPTS = 2
    e = enrolled()
    lock = commands.queue(actor=company.manager_a, device=e.device, kind="lock", reason="丢失")
    assert [c["id"] for c in e.phone.poll().json()["commands"]] == [lock.pk]
    Command.objects.filter(pk=lock.pk).update(delivered_at=timezone.now() - timedelta(seconds=61))
    assert commands.sweep() == {"retried": 1, "timed_out": 0}
    again = e.phone.poll().json()["commands"]
    assert [(c["id"], c["attempt"]) for c in again] == [(lock.pk, 2)]
    Command.objects.filter(pk=lock.pk).update(delivered_at=timezone.now() - timedelta(seconds=61))
    assert e.phone.poll().json()["commands"] == []  # the poll sweeps first: out of attempts
    assert Command.objects.get(pk=lock.pk).status == "timed_out"
    # A late answer still counts: the phone did lock.
    assert e.phone.ack(lock.pk, ok=True, result="locked late").json()["status"] == "succeeded"
    assert Device.objects.get(pk=e.device.pk).locked_at is not None
    kinds = list(
        Entry.objects.filter(kind__startswith="device.command").order_by("seq").values_list("kind", flat=True)
    )
    assert kinds == [
        "device.command_queued", "device.command_delivered", "device.command_retried",
        "device.command_delivered", "device.command_timed_out", "device.command_result",
    ]  # fmt: skip


def test_the_same_waiting_command_is_not_queued_twice(company, enrolled):
    e = enrolled()
    first = commands.queue(actor=company.manager_a, device=e.device, kind="ring")
    assert commands.queue(actor=company.manager_a, device=e.device, kind="ring").pk == first.pk
    e.phone.poll()
    e.phone.ack(first.pk)
    assert commands.queue(actor=company.manager_a, device=e.device, kind="ring").pk != first.pk
