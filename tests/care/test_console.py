from datetime import timedelta

from django.utils import timezone

from custos.care import key_accounts, services
from custos.care.models import ContactTask


def _tasks(company, make_customer):
    services.set_cadence(actor=company.executive, grade="A", every_days=1)
    late = make_customer(company.sales_a_peer, name="逾期回访", grade="A", age=45)
    services.generate_due_tasks(today=timezone.localdate() - timedelta(days=3))  # left undone since
    due = make_customer(company.sales_a, name="今天回访", grade="A", age=30)
    services.generate_due_tasks()
    return ContactTask.objects.get(customer=due), ContactTask.objects.get(customer=late)


def test_the_desks_day_overdue_and_today_in_chinese(company, make_customer, console):
    today_task, late_task = _tasks(company, make_customer)
    page = console(company.service_a).get("/care/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "我的任务" in html and "逾期" in html
    overdue = html[html.index('id="overdue-list"') : html.index('id="due-today"')]
    assert f'data-task="{late_task.pk}"' in overdue and f'data-task="{today_task.pk}"' not in overdue
    assert "今天回访" in html[html.index('id="today-list"') :]
    csv = console(company.service_a).get("/care/?format=csv").content.decode("utf-8-sig")
    assert "逾期回访" in csv and "今天回访" in csv


def test_an_outcome_with_a_complaint_from_the_console(company, make_customer, console):
    task, _late = _tasks(company, make_customer)
    desk = console(company.service_a)
    assert desk.get(f"/care/tasks/{task.pk}/").status_code == 200
    saved = desk.post(
        f"/care/tasks/{task.pk}/", {"reached": "yes", "satisfaction": "2", "complaint": "安装师傅迟到"}
    )
    assert saved.status_code == 302
    complaint = ContactTask.objects.get(kind="complaint")
    assert complaint.assignee_id == company.manager_a.pk
    manager_page = console(company.manager_a).get("/care/").content.decode()
    assert "安装师傅迟到" in manager_page and 'id="complaints"' in manager_page
    assert "安装师傅迟到" not in console(company.sales_a).get("/care/").content.decode()
    assert console(company.sales_a).get(f"/care/tasks/{complaint.pk}/").status_code == 404
    console(company.manager_a).post(f"/care/tasks/{complaint.pk}/", {"note": "已上门道歉"})
    assert ContactTask.objects.get(pk=complaint.pk).status == "done"


def test_key_accounts_page_and_a_visit(company, make_customer, console):
    c = make_customer(company.sales_a, name="宏达建材")
    plan = key_accounts.create_plan(
        actor=company.manager_a, customer_id=c.pk, visitor_id=company.manager_a.pk, every_days=30
    )
    type(plan).objects.filter(pk=plan.pk).update(next_visit_on=timezone.localdate() - timedelta(days=3))
    manager = console(company.manager_a)
    assert "宏达建材" in manager.get("/care/").content.decode().split('id="overdue-plans"')[1]
    assert "宏达建材" in manager.get("/care/key-accounts/").content.decode()
    manager.post(f"/care/key-accounts/{plan.pk}/visit/", {"kind": "visit", "note": "送了茶叶"})
    plan.refresh_from_db()
    assert plan.next_visit_on > timezone.localdate()
    assert console(company.manager_b).get("/care/key-accounts/").content.decode().count("宏达建材") == 0


def test_lines_page(company, make_customer, console):
    c = make_customer(company.sales_a, name="分工客户")
    manager = console(company.manager_a)
    manager.post(
        f"/care/customers/{c.pk}/lines/", {"kind": "service", "employee_id": str(company.service_a.pk)}
    )
    html = manager.get(f"/care/customers/{c.pk}/lines/").content.decode()
    assert company.service_a.name in html and company.sales_a.name in html
    assert console(company.manager_b).get(f"/care/customers/{c.pk}/lines/").status_code == 404


def test_the_customer_timeline_reads_care_in_words(company, make_customer, console):
    task, _late = _tasks(company, make_customer)
    services.record_outcome(actor=company.service_a, task_id=task.pk, reached=True, satisfaction=5)
    html = console(company.manager_a).get(f"/customers/{task.customer_id}/").content.decode()
    assert "客服记录回访结果" in html and "care.task_done" not in html
