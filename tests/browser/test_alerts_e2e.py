"""A violation reaches the store manager's browser within seconds: the live badge, the marked span."""

import pytest

from custos.alerts.models import Alert
from custos.ledger.services import append_batch
from tests.alerts.conftest import message_event
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_live_badge_and_alert_page(page, company):
    page.goto(page.base + "/login/")
    page.fill("input[name=username]", "manager_a")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(page.base + "/")
    assert page.locator("#alert-badge .count").count() == 0

    text = "您好！这单咱们私下交易吧"
    append_batch([message_event(company.sales_a, text)])
    # htmx polls every 5 s: the count appears without reloading the page.
    page.wait_for_selector("#alert-badge .count", timeout=12_000)
    assert page.locator("#alert-badge .count").inner_text() == "1"

    page.click("#alert-badge")
    page.click("table.alerts a")
    mark = page.locator("mark.hit").first
    start, end = int(mark.get_attribute("data-start")), int(mark.get_attribute("data-end"))
    assert mark.inner_text() == text[start:end] and "私下交易" in mark.inner_text()

    page.click("button[value=acknowledge]")
    page.wait_for_selector("#alert-state[data-state=acknowledged]")
    assert Alert.objects.get().state == "acknowledged"
