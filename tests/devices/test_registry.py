"""Registering, enrolling with a one-time code, heartbeats, the silence and SIM alerts."""

import hashlib
import json
from datetime import timedelta

from django.test import Client
from django.utils import timezone

from custos.alerts.models import Alert
from custos.devices import services
from custos.devices.models import Device, EnrolmentCode
from custos.ledger.models import Entry
from tests.devices.conftest import Phone


def _enrol(body):
    return Client().post("/api/v1/devices/agent/enrol", body, content_type="application/json")


def test_a_code_enrols_once_and_is_kept_hashed(company, api):
    manager = api(company.manager_a)
    made = manager.post(
        "devices",
        {
            "serial": "SN-A-1",
            "employee_id": company.sales_a.pk,
            "model": "小米 14",
            "phone_number": "13800001111",
        },
    )
    assert made.status_code == 201, made.content
    device_id = made.json()["id"]
    issued = manager.post(f"devices/{device_id}/enrolment-code", {"hours": 2})
    assert issued.status_code == 201
    code = issued.json()["code"]
    row = EnrolmentCode.objects.get(device_id=device_id)
    assert (
        code not in row.code_hash
        and row.code_hash == hashlib.sha256(code.replace("-", "").encode()).hexdigest()
    )
    assert code not in json.dumps(list(Entry.objects.values_list("payload", flat=True)))

    wrong_phone = _enrol({"code": code, "serial": "SN-OTHER"})
    assert wrong_phone.status_code == 403 and "序列号" in wrong_phone.json()["message"]
    ok = _enrol({"code": code.lower(), "serial": "SN-A-1", "sim_serial": "89860012345678901234"})
    assert ok.status_code == 201, ok.content
    again = _enrol({"code": code, "serial": "SN-A-1"})
    assert again.status_code == 401 and again.json()["error"] == "unauthenticated"

    device = Device.objects.get(pk=device_id)
    assert device.state == "enrolled" and device.token.employee_id == company.sales_a.pk
    assert device.sim_serial == "89860012345678901234"
    kinds = list(Entry.objects.filter(kind__startswith="device.").values_list("kind", flat=True))
    assert kinds == ["device.registered", "device.enrolment_code_issued", "device.enrolled"]
    # The credential signs: a heartbeat goes through.
    phone = Phone(ok.json()["token"], ok.json()["secret"], device_id)
    assert phone.heartbeat(battery=80).status_code == 200


def test_an_expired_or_replaced_code_is_refused(company):
    device = services.register(actor=company.manager_a, serial="SN-EXP", employee=company.sales_a)
    _code, first = services.issue_code(actor=company.manager_a, device=device)
    _code, second = services.issue_code(actor=company.manager_a, device=device)
    assert _enrol({"code": first, "serial": "SN-EXP"}).status_code == 401  # replaced by the second
    EnrolmentCode.objects.filter(device=device).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert _enrol({"code": second, "serial": "SN-EXP"}).status_code == 401
    assert Device.objects.get(pk=device.pk).state == "registered"


def test_nobody_enrols_their_own_phone_and_scope_holds(company, api):
    own = api(company.sales_a).post("devices", {"serial": "SN-MINE", "employee_id": company.sales_a.pk})
    assert own.status_code == 403
    other_store = api(company.manager_a).post(
        "devices", {"serial": "SN-B", "employee_id": company.sales_b.pk}
    )
    assert other_store.status_code == 404
    device = services.register(actor=company.manager_b, serial="SN-B-2", employee=company.sales_b)
    assert api(company.manager_a).get(f"devices/{device.pk}").status_code == 404
    assert api(company.manager_a).post(f"devices/{device.pk}/enrolment-code", {}).status_code == 404
    assert api(company.auditor).post(f"devices/{device.pk}/enrolment-code", {}).status_code == 403
    assert api(company.manager_b).get(f"devices/{device.pk}").status_code == 200
    assert not Device.objects.filter(serial__in=["SN-MINE", "SN-B"]).exists()


def test_the_agent_refuses_unsigned_replayed_and_personal_callers(company, api, enrolled):
    phone = enrolled().phone
    path = "/api/v1/devices/agent/heartbeat"
    assert Client().post(path, {}, content_type="application/json").status_code == 401
    personal = api(company.manager_a).post("devices/agent/heartbeat", {})
    assert personal.status_code == 403
    from custos.archive import signing

    headers = signing.signed_headers(phone.token, phone.secret, "POST", path, b"{}")
    extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
    assert Client().post(path, b"{}", content_type="application/json", **extra).status_code == 200
    replay = Client().post(path, b"{}", content_type="application/json", **extra)
    assert replay.status_code == 401 and "nonce" in replay.json()["message"]
    tampered = Client().post(
        path, b'{"battery": 5}', content_type="application/json", **{**extra, "HTTP_X_CUSTOS_NONCE": "x" * 20}
    )
    assert tampered.status_code == 401


def test_heartbeat_updates_last_seen_and_tells_the_policy(company, enrolled):
    e = enrolled()
    Device.objects.filter(pk=e.device.pk).update(last_seen_at=timezone.now() - timedelta(hours=1))
    answer = e.phone.heartbeat(battery=57, network="4G", apps=["com.tencent.wework"]).json()
    assert answer["policy_revision"] is None and answer["commands_waiting"] == 0
    device = Device.objects.get(pk=e.device.pk)
    assert timezone.now() - device.last_seen_at < timedelta(seconds=5)
    assert device.last_report["battery"] == 57 and device.installed_apps == ["com.tencent.wework"]


def test_sim_or_number_change_raises_an_alert(company, enrolled):
    e = enrolled(sim="89860000000000000001", number="13800000001")
    assert e.phone.heartbeat(sim_serial="89860000000000000001", phone_number="13800000001").status_code == 200
    assert not Alert.objects.filter(rule="device_sim_changed").exists()
    e.phone.heartbeat(sim_serial="89860000000000009999", phone_number="13800000001")
    alert = Alert.objects.get(rule="device_sim_changed")
    assert (
        alert.employee_id == company.sales_a.pk
        and alert.unit_id == company.store_a.pk
        and alert.category == "device"
    )
    assert "9999" in alert.summary and "0001" in alert.summary
    e.phone.heartbeat(sim_serial="89860000000000009999", phone_number="13911112222")
    assert Alert.objects.filter(rule="device_sim_changed").count() == 2
    entries = Entry.objects.filter(kind="device.sim_changed")
    assert entries.count() == 2
    # The full ICCID stays out of the ledger: only its tail.
    assert "89860000000000009999" not in json.dumps(list(entries.values_list("payload", flat=True)))


def test_a_silent_phone_raises_one_alert_until_it_reports(company, enrolled, settings):
    settings.CUSTOS_DEVICE_OFFLINE_MINUTES = 60
    lost, fine = enrolled(), enrolled(employee=company.sales_a_peer)
    Device.objects.filter(pk=lost.device.pk).update(last_seen_at=timezone.now() - timedelta(minutes=61))
    Device.objects.filter(pk=fine.device.pk).update(last_seen_at=timezone.now() - timedelta(minutes=59))
    assert services.alert_silent() == 1
    assert services.alert_silent() == 0  # one alert per silence
    alert = Alert.objects.get(rule="device_offline")
    assert alert.employee_id == company.sales_a.pk and alert.state == "open"
    assert Entry.objects.filter(kind="device.silent").count() == 1
    lost.phone.heartbeat(battery=3)
    assert Entry.objects.filter(kind="device.back_online").count() == 1
    Device.objects.filter(pk=lost.device.pk).update(last_seen_at=timezone.now() - timedelta(minutes=90))
    assert services.alert_silent() == 1  # a new silence, a new signal


def test_reassigning_revokes_the_credential(company, api, enrolled):
    e = enrolled()
    moved = api(company.manager_a).post(
        f"devices/{e.device.pk}/assign", {"employee_id": company.sales_a_peer.pk}
    )
    assert moved.status_code == 200 and moved.json()["state"] == "registered"
    assert e.phone.heartbeat().status_code == 401


def test_the_periodic_tasks_and_the_fleet_list(company, api, enrolled, settings):
    from custos.devices import tasks

    settings.CUSTOS_DEVICE_OFFLINE_MINUTES = 10
    e, other = enrolled(), enrolled(employee=company.sales_a_peer)
    Device.objects.filter(pk=e.device.pk).update(last_seen_at=timezone.now() - timedelta(minutes=11))
    assert tasks.alert_silent_phones.call_local() == {"alerted": 1}
    assert tasks.sweep_commands.call_local() == {"retried": 0, "timed_out": 0}
    listed = api(company.manager_a).get("devices", connection="silent").json()
    assert listed["count"] == 1 and listed["items"][0]["id"] == e.device.pk
    everyone = api(company.region_manager).get("devices").json()
    assert {d["id"] for d in everyone["items"]} == {e.device.pk, other.device.pk}
    assert api(company.manager_b).get("devices").json()["count"] == 0
    assert api(company.sales_a_peer).get("devices").json()["items"][0]["id"] == other.device.pk
