"""Issue 19 walked in Chromium on the demo's data, as the store manager (store1) and the administrator
would, at desktop width and on a 390 px phone: the fleet (state, compliance, the lost phone, the
non-compliant one, commands), a phone's page, the day's visits with their photos, the faked visit
caught, sales1's route on the plain map, the visit with its watermark, the area and its shifts.

Every page must fit the screen (nothing scrolls sideways), show Chinese labels rather than raw
codes (non_compliant, far_check_in, timed_out...), and draw its map.
"""

import re

import pytest
from django.utils import timezone

from custos.customers import demo as customers_demo
from custos.devices import demo as devices_demo
from custos.devices.models import Command, Device
from custos.field import demo as field_demo
from custos.field.models import Visit
from custos.org import demo as org_demo
from custos.org.demo import DEMO_PASSWORD
from custos.org.models import Employee
from tests.browser.test_console_e2e import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
WIDTH = "() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
CULPRIT = """() => { const w = document.documentElement.clientWidth; const out = [];
  for (const e of document.querySelectorAll('body *')) { const r = e.getBoundingClientRect();
    if (r.right > w + 1 && r.width > 0) out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + ' ' + Math.round(r.right)); }
  return out.slice(0, 5); }"""
# What a manager should never read: the codes behind the labels.
RAW = re.compile(
    r"\b(non_compliant|no_policy|timed_out|not_queued|far_check_in|photo_reused|mock_location|"
    r"impossible_speed|left_area|fake_visit|device_offline|device_sim_changed|install_app|"
    r"uninstall_app|push_policy)\b"
)


@pytest.fixture
def demo(db):
    org_demo.build(2026)
    customers_demo.build(2026, total=300)
    fleet = devices_demo.build(2026)
    made = field_demo.build(2026)
    return {"fleet": fleet, "field": made}


def _fits(page, where):
    scroll, client = page.evaluate(WIDTH)
    assert scroll <= client, f"{where}: {scroll} > {client} {page.evaluate(CULPRIT)}"
    text = page.inner_text("main") if page.locator("main").count() else page.inner_text("body")
    raw = RAW.findall(text)
    assert not raw, f"{where}: raw codes on the page: {sorted(set(raw))}"
    return text


@pytest.mark.parametrize("username", ["store1", "admin"])
def test_the_manager_and_the_administrator_walk_phones_and_field_work(page, demo, username):
    sales1 = Employee.objects.get(user__username="sales1")
    faked = next(v for v in Visit.objects.filter(employee=sales1).order_by("checked_in_at") if v.distance_m)
    day = timezone.localdate(faked.checked_in_at).isoformat()
    sign_in(page, username, DEMO_PASSWORD)
    page.wait_for_url(page.base + "/")
    lost, bad = demo["fleet"]["lost"], demo["fleet"]["non_compliant"]
    for screen in (DESKTOP, PHONE):
        page.set_viewport_size(screen)
        where = f"{username} at {screen['width']} px"

        page.goto(page.base + "/devices/")
        text = _fits(page, f"{where}: fleet")
        assert page.locator("#count-silent b").inner_text() == "1"
        assert page.locator("#count-noncompliant b").inner_text() == "1"
        assert "失联" in text and "不合规" in text
        lost_row = page.locator("#fleet tr", has_text=lost)
        assert "失联" in lost_row.inner_text()
        page.locator("#fleet tr", has_text=bad).get_by_role("link").first.click()
        page.wait_for_load_state("networkidle")
        text = _fits(page, f"{where}: the non-compliant phone")
        assert "不合规" in text and "com.tencent.mm" in text
        if screen is DESKTOP:
            # The app outside the allow-list is one click away from being uninstalled.
            page.locator("form.uninstall-outside button", has_text="com.tencent.mm").click()
            page.wait_for_load_state("networkidle")
            queued = Command.objects.get(device__serial=bad, kind="uninstall_app", status="queued")
            assert queued.payload["package"] == "com.tencent.mm"
            assert page.locator(f"#commands tr[data-command='{queued.pk}']").count() == 1
        page.goto(page.base + "/devices/?compliance=non_compliant")
        _fits(page, f"{where}: non-compliant list")
        page.goto(page.base + "/devices/policies/")
        _fits(page, f"{where}: policies")

        # The flagged visits first: one row, one photo (SQLite's in-memory test database refuses
        # concurrent writers, and each photo viewed is a ledger entry, so one at a time here).
        page.goto(f"{page.base}/field/?day={day}&flagged=1")
        assert page.locator("#visits tbody tr[data-visit]").count() == 1
        page.wait_for_function("document.querySelector('img.thumb').naturalWidth > 0")
        assert "签到位置远离客户地点" in page.locator(f"[data-visit='{faked.pk}']").inner_text()
        _fits(page, f"{where}: flagged visits")
        page.goto(f"{page.base}/field/?day={day}&employee={sales1.pk}")
        page.wait_for_load_state("networkidle")
        of_the_day = [
            v
            for v in Visit.objects.filter(employee=sales1)
            if timezone.localdate(v.checked_in_at).isoformat() == day
        ]
        assert page.locator("#visits tbody tr[data-visit]").count() == len(of_the_day)
        assert "签到位置远离客户地点" in page.locator(f"[data-visit='{faked.pk}']").inner_text()
        _fits(page, f"{where}: sales1's visits")

        page.goto(f"{page.base}/field/route/{sales1.pk}/?day={day}")
        page.wait_for_selector("#route-map canvas")
        box = page.locator("#route-map").bounding_box()
        assert box["width"] <= screen["width"] and box["height"] >= 300
        _fits(page, f"{where}: route")

        page.goto(f"{page.base}/field/visits/{faked.pk}/")
        page.wait_for_function("document.querySelector('.visit-photo img').naturalWidth > 0")
        text = _fits(page, f"{where}: the faked visit")
        assert "签到位置远离客户地点" in page.locator("#visit-alerts").inner_text()

        page.goto(f"{page.base}/field/areas/")
        _fits(page, f"{where}: areas")
        page.goto(f"{page.base}/field/areas/{sales1.pk}/")
        page.wait_for_selector("#route-map canvas")
        text = _fits(page, f"{where}: sales1's area")
        assert page.locator("#area-form").count() == 1
        page.goto(f"{page.base}/field/sites/")
        _fits(page, f"{where}: sites")

    # On the phone, the lost phone is given up: retired with a reason, out of the fleet's counts.
    lost_device = Device.objects.get(serial=lost)
    page.goto(f"{page.base}/devices/{lost_device.pk}/")
    page.click("#retire summary")
    page.fill("#retire input[name=reason]", "手机丢失两天，已报警")
    page.click("#retire button[type=submit]")
    page.wait_for_selector("#retired")
    _fits(page, f"{username}: the retired phone")
    assert Device.objects.get(pk=lost_device.pk).state == "retired"
    page.goto(page.base + "/devices/")
    assert page.locator("#count-silent b").inner_text() == "0"
    assert page.locator("#count-retired b").inner_text() == "1"
    _fits(page, f"{username}: the fleet after retiring")
