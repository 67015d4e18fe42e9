"""Customer pages in a real browser: a salesperson on a phone, a manager importing a sheet."""

import pytest

from custos.customers import services
from custos.customers.models import Customer, FollowUp
from custos.customers.services import NewContact

from .test_console_e2e import sign_in

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}


def _fits(page, selector) -> None:
    """Nothing on the page is wider than the screen: no sideways scrolling on a phone."""
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], (selector, width)
    for box in (e.bounding_box() for e in page.locator(selector).all()):
        assert box is None or box["x"] + box["width"] <= PHONE["width"] + 1, (selector, box)


def test_a_salesperson_works_a_customer_on_a_phone(page, company, tmp_path):
    customer = services.create_customer(
        actor=company.sales_a,
        name="罗美玲",
        grade="A",
        tags=["老客户"],
        contacts_in=[NewContact("phone", "13912345678"), NewContact("wechat", "luomeiling88")],
    )
    services.create_customer(actor=company.sales_b, name="徐汇的客户", contacts_in=[NewContact("phone", "13900002222")])
    page.set_viewport_size(PHONE)
    sign_in(page, "sales_a")
    page.wait_for_url(page.base + "/")
    page.goto(page.base + "/customers/")
    rows = page.locator("table.customers tbody").inner_text()
    assert "罗美玲" in rows and "139****5678" in rows and "徐汇的客户" not in rows and "13912345678" not in rows
    _fits(page, "table.customers tbody tr")
    page.screenshot(path=str(tmp_path / "customers-phone.png"), full_page=True)

    # htmx search narrows the list as one types
    page.fill("input[name=q]", "徐汇")
    page.press("input[name=q]", "End")  # fill() types no key; the list listens for keyup
    page.wait_for_function("!document.querySelector('#customer-rows').innerText.includes('罗美玲')")
    page.fill("input[name=q]", "罗")
    page.press("input[name=q]", "End")
    page.wait_for_function("document.querySelector('#customer-rows').innerText.includes('罗美玲')")

    page.click("table.customers >> text=罗美玲")
    page.wait_for_url(page.base + f"/customers/{customer.pk}/")
    _fits(page, "section.card")
    assert "13912345678" not in page.content()
    page.select_option("form.stacked select[name=kind]", "visit")
    page.fill("form.stacked textarea[name=content]", "到店试了两件真丝衬衫，下周再来")
    page.click("button:has-text('保存跟进'), button:has-text('Save follow-up')")
    page.wait_for_url(page.base + f"/customers/{customer.pk}/")
    assert "到店试了两件真丝衬衫" in page.locator("body").inner_text()
    assert FollowUp.objects.filter(customer=customer, kind="visit").count() == 1
    _fits(page, "section.card")
    page.screenshot(path=str(tmp_path / "customer-phone.png"), full_page=True)

    # another store's customer is not there, even by typing its address
    other = Customer.objects.get(name="徐汇的客户")
    assert page.goto(page.base + f"/customers/{other.pk}/").status == 404


def test_a_manager_imports_a_sheet_with_mapping_dry_run_and_progress(page, company, tmp_path):
    sheet = tmp_path / "客户名单.csv"
    lines = ["客户,电话号码,级别"] + [f"客户{i},1390000{i:04d},B" for i in range(30)] + [",13900009999,B"]
    sheet.write_bytes("\n".join(lines).encode("gb18030"))  # as Excel on Chinese Windows saves it
    sign_in(page, "manager_a")
    page.wait_for_url(page.base + "/")
    page.goto(page.base + "/customers/")
    page.click("#import-link")
    page.set_input_files("input[type=file]", str(sheet))
    page.click("#import-upload button[type=submit]")
    page.wait_for_selector("#import-mapping")
    assert page.input_value("select[name=map_name]") == "客户"
    page.select_option("select[name=map_phone]", "电话号码")
    page.click("#import-mapping button[type=submit]")
    page.wait_for_selector("#import-report")
    assert page.inner_text("[data-count=would_create]") == "30"
    assert page.inner_text("[data-count=errors]") == "1"
    assert page.locator("tr.error[data-row='32']").count() == 1
    assert page.locator("#import-run").count() == 0  # nothing imports while a row is wrong

    sheet.write_bytes("\n".join(lines[:-1]).encode("gb18030"))
    page.goto(page.base + "/customers/import/")
    page.set_input_files("input[type=file]", str(sheet))
    page.click("#import-upload button[type=submit]")
    page.wait_for_selector("#import-mapping")
    page.select_option("select[name=map_phone]", "电话号码")
    page.click("#import-mapping button[type=submit]")
    page.click("#import-run button")
    page.wait_for_selector("#import-progress[data-status=done]")
    assert page.inner_text("#import-progress [data-count=done]") == "30"
    assert Customer.objects.filter(owner=company.manager_a, name__startswith="客户").count() == 30
