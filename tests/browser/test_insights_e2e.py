"""Insights in a real browser on a 390 px phone: the charts draw, nothing scrolls sideways, the
risk list links to the customer."""

import pytest

from custos.insights import rollup
from tests.conftest import PASSWORD
from tests.insights.conftest import shop  # noqa: F401 - the fixture

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDTH = "() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"


@pytest.mark.parametrize("who,board", [("executive", "company"), ("manager_a", "team"), ("sales_a", "mine")])
def test_dashboards_on_a_phone(browser, live_server, shop, who, board):  # noqa: F811
    rollup.build()
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(15_000)
    try:
        page.goto(f"{live_server.url}/login/")
        page.fill("input[name=username]", getattr(shop, who).user.username)
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.goto(f"{live_server.url}/insights/")
        assert page.url.endswith(f"/insights/{board}/")
        charts = page.locator("[data-chart]")
        if charts.count():
            page.wait_for_selector("[data-chart] canvas")
        scroll, client = page.evaluate(WIDTH)
        assert scroll <= client, f"{board} scrolls sideways: {scroll} > {client}"
        link = page.locator("#table-risk a").first
        assert link.get_attribute("href").startswith("/customers/")
    finally:
        context.close()
