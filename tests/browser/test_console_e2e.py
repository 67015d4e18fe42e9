"""A store manager's first morning in the console, in a real browser."""

import re

import pytest

from custos.org.models import Employee
from tests.conftest import PASSWORD

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def sign_in(page, username, password=PASSWORD):
    page.goto(page.base + "/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("button[type=submit]")


def test_manager_walks_the_console(page, company, tmp_path):
    sign_in(page, "wrong-user", "wrong-password")
    assert page.locator(".errors").inner_text().startswith("用户名或密码错误")

    sign_in(page, "region_south")
    page.wait_for_url(page.base + "/")
    assert "你好" in page.locator("h1").inner_text()
    tree = page.locator(".card .tree").first.inner_text()
    assert "华南区" in tree and "天河店" in tree and "徐汇店" not in tree

    page.click("nav.main >> text=员工")
    rows = page.locator("#staff-rows tbody tr").all_inner_texts()
    assert any(company.sales_a.name in r for r in rows) and any(company.sales_a2.name in r for r in rows)
    assert not any(company.sales_b.name in r for r in rows)

    # htmx: picking a role narrows the table without a page load
    page.select_option("select[name=role]", "manager")
    page.wait_for_url(re.compile(r"role=manager"))
    page.wait_for_function("document.querySelectorAll('#staff-rows tbody tr').length === 2")
    managers = page.locator("#staff-rows").inner_text()
    assert company.manager_a.name in managers and company.region_manager.name in managers
    assert company.sales_a.name not in managers

    # freeze a salesperson, then see the mark
    page.goto(page.base + f"/staff/{company.sales_a.pk}/")
    page.fill("input[name=reason][required]", "离职前大量删除客户")
    page.click("button.danger:has-text('立即冻结')")
    assert "已冻结" in page.locator(".messages").inner_text()
    assert Employee.objects.get(pk=company.sales_a.pk).frozen_at is not None

    # a store outside the region is not there, even by typing its address
    response = page.goto(page.base + f"/staff/{company.sales_b.pk}/")
    assert response.status == 404

    # English on request, and back
    # the select submits its form on change; wait for that navigation, not the current page
    with page.expect_navigation():
        page.select_option("select[name=language]", "en")
    assert page.locator("nav.main").inner_text().split()[:2] == ["Home", "Organisation"]

    # a phone-sized screen still shows every field of a row
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(page.base + "/staff/")
    first = page.locator("#staff-rows tbody tr").first
    assert first.bounding_box()["width"] <= 390
    page.screenshot(path=str(tmp_path / "staff-phone.png"), full_page=True)


def test_frozen_salesperson_is_thrown_out_of_an_open_session(page, company):
    from custos.org import services

    sign_in(page, "sales_a")
    page.wait_for_url(page.base + "/")
    assert "你可以查看自己负责的内容" in page.content()
    services.freeze(actor=company.manager_a, employee=company.sales_a, reason="调查")
    page.goto(page.base + "/staff/")
    assert page.url.startswith(page.base + "/login/")
