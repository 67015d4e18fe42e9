"""Work phones in a real browser on a 390 px phone: the fleet, a phone's page, its command form,
the policies; nothing scrolls sideways."""

import pytest

from custos.devices import commands, policies
from custos.devices.models import Command
from tests.browser.test_phone_layout import CULPRIT, PHONE, WIDTH, _sign_in
from tests.devices.conftest import enrol_phone

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.base = live_server.url
    yield page
    context.close()


def test_the_fleet_on_a_phone(phone, company):
    apps = ["com.tencent.wework", "com.custos.agent.with.a.rather.long.package.name"]
    version = policies.publish(
        actor=company.manager_a,
        unit=company.store_a,
        rules={"allowed_apps": apps, "disabled": ["camera", "bluetooth"]},
    )
    e = enrol_phone(company.manager_a, company.sales_a)
    e.phone.call("POST", "policy", {"revision": version.pk, "failures": ["camera", "bluetooth"]})
    e.phone.heartbeat(battery=41, apps=[*apps, "com.tencent.mm", "com.example.another.private.application"])
    commands.queue(
        actor=company.manager_a,
        device=e.device,
        kind="install_app",
        package="com.custos.agent.with.a.rather.long.package.name",
        url="https://apps.example.com/a/very/long/path/to/the/package/file.apk",
    )
    _sign_in(phone, company.manager_a.user.username)
    for path in (
        "/devices/",
        f"/devices/{e.device.pk}/",
        "/devices/policies/",
        "/devices/?compliance=non_compliant",
    ):
        phone.goto(phone.base + path)
        phone.wait_for_load_state("networkidle")
        scroll, client = phone.evaluate(WIDTH)
        assert scroll <= client, f"{path}: {scroll} > {client} {phone.evaluate(CULPRIT)}"
    # The manager rings the phone from its page, as on a phone.
    phone.goto(phone.base + f"/devices/{e.device.pk}/")
    phone.select_option("#queue-command select[name=kind]", "ring")
    phone.fill("#queue-command input[name=reason]", "找手机")
    phone.click("#queue-command button[type=submit]")
    phone.wait_for_load_state("networkidle")
    assert Command.objects.filter(device=e.device, kind="ring", status="queued").exists()
    assert "响铃" in phone.inner_text("#commands")
