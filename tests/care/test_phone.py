"""Care's pages fit a 390 px phone (no sideways scrolling) with real rows in them."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from custos.care import greetings, key_accounts, loyalty, services
from custos.care.models import ContactTask
from custos.customers import imports
from custos.customers.models import Purchase
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
WIDTH = "() => [document.scrollingElement.scrollWidth, document.scrollingElement.clientWidth]"


@pytest.fixture
def phone(browser, live_server):  # noqa: F811
    context = browser.new_context(
        viewport={"width": 390, "height": 844}, locale="zh-CN", is_mobile=True, has_touch=True
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.base = live_server.url
    yield page
    context.close()


def _sign_in(page, username):
    page.goto(page.base + "/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state()


def test_care_pages_fit_a_phone(company, make_customer, phone):
    today = timezone.localdate()
    services.set_cadence(actor=company.executive, grade="A", every_days=1)
    c = make_customer(
        company.sales_a, name="佛山宏达建材有限公司（旗舰店）", grade="A",
        profile={"birthday": f"1980-{today:%m-%d}" if (today.month, today.day) != (2, 29) else "1980-02-28"},
    )  # fmt: skip
    services.generate_due_tasks(today=today - timedelta(days=2))
    task = ContactTask.objects.get(customer=c)
    services.record_outcome(
        actor=company.service_a, task_id=task.pk, reached=True, complaint="送货晚了三天，销售不回消息" * 5
    )
    key_accounts.create_plan(
        actor=company.manager_a, customer_id=c.pk, visitor_id=company.manager_a.pk, every_days=30,
        gifts="中秋礼盒、年度答谢会邀请函、定制台历", events="新品品鉴会",
    )  # fmt: skip
    greetings.add_template(
        actor=company.manager_a,
        occasion="birthday",
        title="生日",
        text="{name}您好，今天是您的生日，衣尚全体同事祝您生日快乐，万事顺意！",
    )
    loyalty.set_level(
        actor=company.executive,
        code="silver",
        name="银卡会员",
        rank=1,
        min_spend=100,
        min_purchases=1,
        benefits="95折；生日当月双倍积分；免费改衣",
    )
    Purchase.objects.create(customer=c, product="羊毛大衣", amount=Decimal(1299), purchased_on=today)
    loyalty.earn_for_purchases()
    # A POS sheet checked by the worker, one row wrong: its job page lists the error.
    sheet = f"客户编号,积分,会员等级\n{c.pk},1500,银卡\n99999999,12,钻石会员级别非常长的名字\n"
    job = imports.upload(company.manager_a, "收银系统导出-2026年12月.csv", sheet.encode(), kind="points")
    imports.check(company.manager_a, job.pk, {}, kind="points")
    pages = {
        "manager_a": [
            "/care/",
            "/care/key-accounts/",
            "/care/greetings/",
            "/care/loyalty/",
            f"/care/loyalty/import/{job.pk}/",
            f"/care/customers/{c.pk}/lines/",
            f"/customers/{c.pk}/",
        ],
        "service_a": ["/care/", f"/care/tasks/{ContactTask.objects.filter(queue='desk').first().pk}/"],
        "sales_a": ["/care/greetings/", f"/customers/{c.pk}/"],
    }
    wide = []
    for username, urls in pages.items():
        phone.context.clear_cookies()
        _sign_in(phone, username)
        for url in urls:
            phone.goto(phone.base + url)
            scroll, client = phone.evaluate(WIDTH)
            if scroll > client:
                wide.append(f"{username} {url}: {scroll} > {client}")
    assert not wide, wide
