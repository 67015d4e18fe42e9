"""Issue 23, item 4: every console page fits a 390 px phone, for every role.

Each role signs in at 390 x 844, opens every page its navigation offers, a customer, an alert
and a departure case, and fails on any page that scrolls sideways
(document.scrollingElement.scrollWidth > clientWidth). The roles are the demo's (administrator,
executive, region manager, store manager, salesperson, auditor), in the test company's places.
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
WIDTH = "() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"
# Who is wider than the screen, to say which element broke the page.
CULPRIT = """() => { const w = document.documentElement.clientWidth; const out = [];
  for (const e of document.querySelectorAll('body *')) { const r = e.getBoundingClientRect();
    if (r.right > w + 1 && r.width > 0) out.push(e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') +
      (e.className && typeof e.className === 'string' ? '.' + e.className.split(' ').join('.') : '') + ' ' + Math.round(r.right)); }
  return out.slice(0, 5); }"""


@pytest.fixture
def phone(browser, live_server):
    context = browser.new_context(viewport=PHONE, locale="zh-CN", is_mobile=True, has_touch=True)
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
    page.goto(url)
    page.wait_for_load_state("networkidle")
    scroll, client = page.evaluate(WIDTH)
    return None if scroll <= client else f"{url}: {scroll} > {client} {page.evaluate(CULPRIT)}"


def test_every_page_fits_a_phone_for_every_role(phone, company):
    customer, alert, case = _world(company)
    assert alert is not None
    extra = [f"/customers/{customer.pk}/", f"/alerts/{alert.pk}/", f"/handover/cases/{case.pk}/"]
    failures, walked = [], 0
    for username in ("admin", "boss", "region_south", "manager_a", "sales_a", "auditor"):
        _sign_in(phone, username)
        # The menu is folded behind its button, and opens.
        nav = phone.locator("nav.main")
        assert not nav.is_visible(), username
        phone.click(".menu-toggle")
        assert nav.is_visible(), username
        links = nav.locator("a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
        for href in [*dict.fromkeys(links), *extra]:
            url = phone.base + href
            response = phone.request.get(url)
            if response.status != 200:  # outside the role's scope (404) or right (403): nothing to lay out
                continue
            walked += 1
            if problem := _too_wide(phone, url):
                failures.append(f"{username} {problem}")
    assert walked > 40
    assert not failures, "\n".join(failures)


def test_customer_card_puts_the_phone_first(phone, company):
    customer, _alert, _case = _world(company)
    _sign_in(phone, "sales_a")
    phone.goto(phone.base + f"/customers/{customer.pk}/")
    top = phone.locator("#customer-phone").bounding_box()
    assert top is not None and top["y"] < 844, "the phone number is on the first screen"
    assert "139****5678" in phone.locator("#customer-phone").inner_text()
