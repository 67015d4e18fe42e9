"""docs/care.md's walk in a real browser: the service desk opens its day, records a return visit
with the call in the archive, records a complaint, and the complaint reaches the owner's manager
(not the owner), who resolves it; the desk then has a call-back after the complaint."""

import pytest

from custos.archive.models import Message
from custos.care import services
from custos.care.models import ContactTask
from custos.ledger.services import append_batch
from tests.alerts.conftest import message_event
from tests.browser.test_console_e2e import sign_in as _sign_in
from tests.pool.conftest import make_customer  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _day(company, make_customer):  # noqa: F811
    """Grade A customers called back daily, so the nightly job makes today's tasks."""
    services.set_cadence(actor=company.executive, grade="A", every_days=1)
    happy = make_customer(company.sales_a, name="王丽华", grade="A", age=60)
    unhappy = make_customer(company.sales_a, name="陈建国", grade="A", age=60)
    services.generate_due_tasks()
    # The desk's call to the first customer, as the archive records it.
    append_batch(
        [
            message_event(
                company.service_a,
                "王女士您好，我是衣尚客服小周，回访一下上次的购物体验",
                customer_id=happy.pk,
            )
        ]
    )
    call = Message.objects.filter(customer_id=happy.pk).order_by("pk").first()
    assert call is not None
    return happy, unhappy, call


def sign_in(page, username):
    page.context.clear_cookies()
    _sign_in(page, username)


def _open_task(page, task):
    page.goto(page.base + "/care/")
    row = page.locator(f"#today-list tr[data-task='{task.pk}']")
    assert row.is_visible()
    row.locator("a.button").click()
    page.wait_for_url(page.base + f"/care/tasks/{task.pk}/")


def test_the_desk_walks_a_return_visit_and_a_complaint(page, company, make_customer):  # noqa: F811
    happy, unhappy, call = _day(company, make_customer)
    first = ContactTask.objects.get(customer=happy, kind="return_visit")
    second = ContactTask.objects.get(customer=unhappy, kind="return_visit")

    # The desk opens its day: both calls are due today.
    sign_in(page, "service_a")
    page.wait_for_url(page.base + "/")
    page.goto(page.base + "/care/")
    assert page.locator("h1").inner_text() == "我的任务"
    today = page.locator("#today-list")
    assert "王丽华" in today.inner_text() and "陈建国" in today.inner_text()

    # A return visit: reached, satisfied, the call linked from the archive.
    _open_task(page, first)
    page.check("input[name=reached][value=yes]")
    page.select_option("select[name=satisfaction]", "5")
    page.fill("textarea[name=note]", "对新款感兴趣")
    page.fill("input[name=archive_message_id]", str(call.pk))
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(page.base + "/care/")
    assert "结果已记录" in page.locator("ul.messages").inner_text()
    assert page.locator(f"#today-list tr[data-task='{first.pk}']").count() == 0
    first.refresh_from_db()
    assert (first.status, first.reached, first.satisfaction, first.outcome_note) == (
        "done",
        True,
        5,
        "对新款感兴趣",
    )
    assert first.archive_message_id == call.pk

    # A complaint: heard by the desk, routed above the owner.
    _open_task(page, second)
    page.select_option("select[name=satisfaction]", "2")
    page.fill("textarea[name=complaint]", "上次买的大衣起球，找销售退换一直没人回")
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(page.base + "/care/")
    complaint = ContactTask.objects.get(kind="complaint", source_task=second)
    assert complaint.assignee_id == company.manager_a.pk and complaint.queue == "manager"

    # The owner (the salesperson) sees nothing of it, not even by its number.
    sign_in(page, "sales_a")
    page.wait_for_url(page.base + "/")
    page.goto(page.base + "/care/")
    assert page.locator("#complaints").count() == 0
    assert "大衣起球" not in page.content()
    assert page.goto(page.base + f"/care/tasks/{complaint.pk}/").status == 404

    # The owner's manager sees it among the complaints to resolve, and resolves it.
    sign_in(page, "manager_a")
    page.wait_for_url(page.base + "/")
    page.goto(page.base + "/care/")
    row = page.locator(f"#complaint-list tr[data-task='{complaint.pk}']")
    assert "陈建国" in row.inner_text() and "大衣起球" in row.inner_text()
    row.locator("a.button").click()
    page.wait_for_url(page.base + f"/care/tasks/{complaint.pk}/")
    assert "满意度 2/5" in page.locator("main").inner_text()
    page.fill("textarea[name=note]", "已上门道歉并换货")
    page.click("form.stacked button[type=submit]")
    page.wait_for_url(page.base + "/care/")
    assert page.locator(f"#complaint-list tr[data-task='{complaint.pk}']").count() == 0
    complaint.refresh_from_db()
    assert (complaint.status, complaint.done_by_id) == ("done", company.manager_a.pk)

    # Back at the desk: a call-back after the complaint, three days on.
    sign_in(page, "service_a")
    page.wait_for_url(page.base + "/")
    page.goto(page.base + "/care/")
    after = ContactTask.objects.get(kind="after_complaint", source_task=complaint)
    assert page.locator(f"#week-list tr[data-task='{after.pk}']").is_visible()
