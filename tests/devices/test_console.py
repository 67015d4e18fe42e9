"""The console: the fleet scoped by unit, a phone's page with its commands, queuing, codes, policies."""

import re

from custos.devices import policies, services
from custos.devices.models import Command, Device, EnrolmentCode


def test_the_fleet_is_scoped_and_shows_state_and_compliance(company, console, enrolled):
    mine = enrolled()
    theirs = services.register(actor=company.manager_b, serial="SN-XUHUI-1", employee=company.sales_b)
    page = console(company.manager_a).get("/devices/")
    html = page.content.decode()
    assert page.status_code == 200
    assert mine.device.serial in html and theirs.serial not in html
    assert 'data-connection="online"' in html
    # the store_b manager sees theirs only; the phone page of the other store is a 404
    other = console(company.manager_b)
    assert mine.device.serial not in other.get("/devices/").content.decode()
    assert other.get(f"/devices/{mine.device.pk}/").status_code == 404
    # a salesperson sees their own phone
    assert mine.device.serial in console(company.sales_a).get("/devices/").content.decode()
    csv = console(company.manager_a).get("/devices/?format=csv")
    assert csv["Content-Type"].startswith("text/csv") and mine.device.serial in csv.content.decode(
        "utf-8-sig"
    )


def test_a_manager_queues_a_command_and_sees_its_result(company, console, enrolled):
    e = enrolled()
    browser = console(company.manager_a)
    response = browser.post(f"/devices/{e.device.pk}/commands/", {"kind": "ring", "reason": "找手机"})
    assert response.status_code == 302
    [command] = Command.objects.filter(device=e.device)
    assert command.kind == "ring" and command.created_by_id == company.manager_a.pk
    e.phone.poll()
    e.phone.ack(command.pk, result="已响铃 30 秒")
    html = browser.get(f"/devices/{e.device.pk}/").content.decode()
    assert f'data-command="{command.pk}" data-status="succeeded"' in html and "已响铃 30 秒" in html
    # a salesperson has no form and cannot post one
    sales = console(company.sales_a)
    assert 'id="queue-command"' not in sales.get(f"/devices/{e.device.pk}/").content.decode()
    sales.post(f"/devices/{e.device.pk}/commands/", {"kind": "wipe"})
    assert Command.objects.filter(device=e.device).count() == 1


def test_the_enrolment_code_is_shown_once_on_the_answer(company, console):
    device = services.register(actor=company.manager_a, serial="SN-NEW-1", employee=company.sales_a)
    browser = console(company.manager_a)
    answer = browser.post(f"/devices/{device.pk}/enrolment-code/")
    html = answer.content.decode()
    code = re.search(r'class="dev-code">([0-9A-Z-]+)<', html).group(1)
    assert len(code) == 19 and EnrolmentCode.objects.filter(device=device).count() == 1
    assert code not in browser.get(f"/devices/{device.pk}/").content.decode()


def test_policies_page_publishes_versions(company, console, enrolled):
    e = enrolled()
    browser = console(company.manager_a)
    response = browser.post(
        "/devices/policies/",
        {
            "unit": company.store_a.pk,
            "allowed_apps": "com.tencent.wework\ncom.custos.crm",
            "disabled": ["camera", "bluetooth"],
            "call_recording": "on",
        },
    )
    assert response.status_code == 302
    current = policies.effective(e.device)
    assert current.rules == {
        "allowed_apps": ["com.custos.crm", "com.tencent.wework"], "disabled": ["camera", "bluetooth"],
        "call_recording": True, "archive_upload": False,
    }  # fmt: skip
    html = browser.get("/devices/policies/").content.decode()
    assert "com.custos.crm" in html and "v1" in html
    # another store's unit is not the store manager's to govern
    browser.post("/devices/policies/", {"unit": company.store_b.pk, "allowed_apps": ""})
    assert policies.Resolver().for_unit(company.store_b) is None
    assert console(company.auditor).post("/devices/policies/", {"unit": company.store_a.pk}).status_code in (
        302,
        403,
        404,
    )
    assert policies.effective(e.device).version == 1


def test_register_form_and_the_non_compliant_list(company, console, enrolled):
    browser = console(company.manager_a)
    browser.post(
        "/devices/register/",
        {"serial": "SN-FORM-1", "employee": company.sales_a_peer.pk, "model": "OPPO Reno"},
    )
    device = Device.objects.get(serial="SN-FORM-1")
    assert device.employee_id == company.sales_a_peer.pk and device.unit_id == company.store_a.pk
    e = enrolled()
    version = policies.publish(
        actor=company.manager_a, unit=company.store_a, rules={"allowed_apps": ["com.tencent.wework"]}
    )
    e.phone.call("POST", "policy", {"revision": version.pk})
    e.phone.heartbeat(apps=["com.tencent.wework", "com.tencent.mm"])
    page = browser.get("/devices/?compliance=non_compliant").content.decode()
    html = page[page.index('id="fleet"') :]
    assert e.device.serial in html and "com.tencent.mm" in html and "SN-FORM-1" not in html


def test_one_phone_gets_its_own_policy_from_the_console(company, console, enrolled):
    e, other = enrolled(), enrolled()
    policies.publish(actor=company.manager_a, unit=company.store_a, rules={"disabled": ["camera"]})
    browser = console(company.manager_a)
    page = browser.get(f"/devices/{e.device.pk}/").content.decode()
    assert f"/devices/policies/?device={e.device.serial}" in page
    form = browser.get(f"/devices/policies/?device={e.device.serial}").content.decode()
    assert f'name="serial" maxlength="64" value="{e.device.serial}"' in form
    answer = browser.post(
        "/devices/policies/",
        {"unit": company.store_a.pk, "serial": e.device.serial, "disabled": ["camera", "screenshots"]},
    )
    assert answer.status_code == 302
    own = policies.effective(e.device)
    assert own.policy.device_id == e.device.pk and own.rules["disabled"] == ["camera", "screenshots"]
    assert policies.effective(other.device).policy.unit_id == company.store_a.pk  # the unit's still
    # A phone outside the manager's scope, or no such phone: nothing published.
    theirs = services.register(actor=company.manager_b, serial="SN-XUHUI-9", employee=company.sales_b)
    browser.post("/devices/policies/", {"serial": theirs.serial, "disabled": ["camera"]})
    browser.post("/devices/policies/", {"serial": "SN-NOPE", "disabled": ["camera"]})
    assert policies.effective(theirs) is None
