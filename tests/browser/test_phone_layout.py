"""Issue 23: every console page fits the screen, a 390 px phone and a 1280 px desktop, for every role.

Each role signs in at 390 x 844 and again at 1280 x 900, opens every page its navigation offers,
a customer, an alert and a departure case, and fails on any page that scrolls sideways
(document.scrollingElement.scrollWidth > clientWidth). On the phone the menu is folded behind its
button; on the desktop the navigation is shown whole and there is no menu button. The roles are
the demo's (administrator, executive, region manager, store manager, salesperson, service desk,
auditor), in the test company's places.
"""

from datetime import timedelta

import pytest
from django.utils import timezone

from custos.alerts.models import Alert
from custos.customers import activity
from custos.customers import services as customer_services
from custos.customers.services import NewContact
from custos.handover import services as handover_services
from custos.ledger.services import append_batch
from tests.alerts.conftest import message_event
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}
ROLES = ("admin", "boss", "region_south", "manager_a", "sales_a", "service_a", "auditor")
WIDTH = "() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
# Who is wider than the screen, to say which element broke the page.
CULPRIT = """() => { const w = document.documentElement.clientWidth; const out = [];
  for (const e of document.querySelectorAll('body *')) { const r = e.getBoundingClientRect();
    if (r.right > w + 1 && r.width > 0) out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
      (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '') + ' ' + Math.round(r.right)); }
  return out.slice(0, 5); }"""


def _context(browser, screen):
    if screen == "phone":
        return browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
    return browser.new_context(viewport=DESKTOP, locale="zh-CN")


@pytest.fixture(params=["phone", "desktop"])
def screen(request, browser, live_server):
    """A page at the size of a phone or of a desktop (a context of the session's one Chromium)."""
    context = _context(browser, request.param)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.base = live_server.url
    page.screen = request.param
    yield page
    context.close()


@pytest.fixture
def phone(browser, live_server):
    context = _context(browser, "phone")
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.base = live_server.url
    yield page
    context.close()


def _world(company):
    customer = customer_services.create_customer(
        actor=company.sales_a, name="佛山宏达建材有限公司（旗舰店）", kind="company", owner=company.sales_a,
        contacts_in=[NewContact("phone", "13912345678"), NewContact("address", "广东省佛山市禅城区季华五路一百二十八号宏达大厦二十三层")],
    )  # fmt: skip
    activity.add_follow_up(
        actor=company.sales_a,
        customer=customer,
        kind="call",
        content="电话回访，客户说下周来店里看新款大衣" * 3,
    )
    append_batch(
        [
            message_event(
                company.sales_a,
                "这单咱们私下交易吧，加我私人微信 wxid_abcdefghijklmnop",
                customer_id=customer.pk,
            )
        ]
    )
    alert = Alert.objects.order_by("pk").first()
    case = handover_services.open_case(
        actor=company.manager_a, employee=company.sales_a_peer, last_day=timezone.localdate() + timedelta(days=7),
        reason="个人原因",
    )  # fmt: skip
    return customer, alert, case


def _sign_in(page, username):
    page.context.clear_cookies()
    page.goto(page.base + "/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(page.base + "/")


def _too_wide(page, url):
    """Of the page just opened: whether it scrolls sideways, and which elements are wider."""
    page.wait_for_load_state("networkidle")
    scroll, client = page.evaluate(WIDTH)
    return None if scroll <= client else f"{url}: {scroll} > {client} {page.evaluate(CULPRIT)}"


def _open_menu(page, username):
    """The navigation as each screen shows it: folded behind its button on a phone, whole on a desktop."""
    nav, toggle = page.locator("nav.main"), page.locator(".menu-toggle")
    if page.screen == "phone":
        assert not nav.is_visible(), username
        assert toggle.is_visible(), username
        toggle.click()
        assert nav.is_visible(), username
    else:
        assert nav.is_visible(), username
        assert not toggle.is_visible(), f"{username}: a menu button on the desktop"
        box = nav.bounding_box()
        assert box is not None and box["y"] < 120, f"{username}: the navigation is not in the header"
    return nav


def test_every_page_fits_the_screen_for_every_role(screen, company):
    customer, alert, case = _world(company)
    assert alert is not None
    extra = [f"/customers/{customer.pk}/", f"/alerts/{alert.pk}/", f"/handover/cases/{case.pk}/"]
    failures, walked = [], 0
    for username in ROLES:
        _sign_in(screen, username)
        nav = _open_menu(screen, username)
        links = nav.locator("a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
        for href in [*dict.fromkeys(links), *extra]:
            url = screen.base + href
            response = screen.goto(url)
            if response is None or response.status != 200:  # outside the role's scope (404) or right (403)
                continue
            walked += 1
            if problem := _too_wide(screen, url):
                failures.append(f"{screen.screen} {username} {problem}")
            elif screen.screen == "desktop" and not screen.locator("nav.main").is_visible():
                failures.append(f"desktop {username} {url}: the navigation is hidden")
    assert walked > 45
    assert not failures, "\n".join(failures)


def test_customer_card_puts_the_phone_first(phone, company):
    customer, _alert, _case = _world(company)
    _sign_in(phone, "sales_a")
    phone.goto(phone.base + f"/customers/{customer.pk}/")
    top = phone.locator("#customer-phone").bounding_box()
    assert top is not None and top["y"] < 844, "the phone number is on the first screen"
    assert "139****5678" in phone.locator("#customer-phone").inner_text()
