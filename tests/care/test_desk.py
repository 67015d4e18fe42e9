"""The service desk: tasks for every customer of its units whoever the owner, outcomes, complaints
routed to the owner's manager and never to the owner."""

from datetime import timedelta

from django.utils import timezone

from custos.care import services
from custos.care.models import ContactTask, Responsibility
from custos.customers.models import Customer, Purchase
from custos.handover import services as handover
from custos.ledger.models import Entry
from tests.care.conftest import body


def daily(company):
    """Grade A called back every day: every customer's first visit falls due today."""
    services.set_cadence(actor=company.executive, grade="A", every_days=1)


def test_cadence_per_grade_makes_each_return_visit_once(company, make_customer):
    a = make_customer(company.sales_a, name="五天一访", grade="A")
    b = make_customer(company.sales_b, name="一周一访", grade="B")
    c = make_customer(company.sales_a, name="不回访", grade="C")
    services.set_cadence(actor=company.executive, grade="A", every_days=5)
    services.set_cadence(actor=company.executive, grade="B", every_days=7)
    services.set_cadence(actor=company.executive, grade="C", every_days=0)

    first = services.generate_due_tasks()
    again = services.generate_due_tasks()

    tasks = {t.customer_id: t for t in ContactTask.objects.filter(kind="return_visit")}
    assert set(tasks) == {a.pk, b.pk} and c.pk not in tasks
    assert first["return_visit"] == 2 and again["return_visit"] == 0
    assert Entry.objects.filter(kind="care.task_created").count() == 2
    today = timezone.localdate()
    assert today <= tasks[a.pk].due_on < today + timedelta(days=5)
    assert tasks[a.pk].due_on.toordinal() % 5 == a.pk % 5


def test_first_visits_spread_over_the_cadence_not_all_at_once(company, make_customer):
    today = timezone.localdate()
    customers = [Customer(pk=n, created_at=timezone.now() - timedelta(days=400)) for n in range(1, 31)]
    days = [services.first_visit_day(c, 30, today) for c in customers]
    assert len(set(days)) == 30 and min(days) == today and max(days) == today + timedelta(days=29)
    # The next days' runs find the same day for everyone not yet due: no second task, no drift.
    for later in (1, 7, 29):
        run = today + timedelta(days=later)
        for c, d in zip(customers, days, strict=True):
            if d >= run:
                assert services.first_visit_day(c, 30, run) == d


def test_a_finished_visit_sets_the_next_one_a_cadence_later(company, make_customer):
    c = make_customer(company.sales_a, grade="A", age=40)
    today = timezone.localdate()
    services.generate_due_tasks(today=services.first_visit_day(c, 30, today))
    task = ContactTask.objects.get(customer=c)
    services.record_outcome(actor=company.service_a, task_id=task.pk, reached=True, satisfaction=5)
    assert services.generate_due_tasks()["return_visit"] == 0  # the next is 30 days away, past the week
    later = services.generate_due_tasks(today=today + timedelta(days=25))
    assert later["return_visit"] == 1
    assert ContactTask.objects.filter(customer=c, status="open").get().due_on == today + timedelta(days=30)


def test_a_purchase_brings_a_call_back_a_week_later(company, make_customer):
    c = make_customer(company.sales_a, grade="D")
    Purchase.objects.create(
        customer=c, product="沙发", amount=3000, purchased_on=timezone.localdate() - timedelta(days=2)
    )
    Purchase.objects.create(
        customer=c, product="旧单", amount=10, purchased_on=timezone.localdate() - timedelta(days=90)
    )
    assert services.generate_due_tasks()["after_purchase"] == 1
    assert services.generate_due_tasks()["after_purchase"] == 0
    task = ContactTask.objects.get(customer=c, kind="after_purchase")
    assert task.note == "沙发" and task.due_on == timezone.localdate() + timedelta(days=5)


def test_the_desk_sees_every_owner_of_its_units_and_nothing_beyond(company, make_customer, api):
    mine = make_customer(company.sales_a, grade="A", age=40)
    peer = make_customer(company.sales_a_peer, grade="A", age=40)
    other_store = make_customer(company.sales_b, grade="A", age=40)
    daily(company)
    services.generate_due_tasks()
    desk = api(company.service_a)
    listed = desk.get("care/tasks", when="week").json()
    assert {t["customer_id"] for t in listed} == {mine.pk, peer.pk}
    far = ContactTask.objects.get(customer=other_store)
    assert desk.get(f"care/tasks/{far.pk}").status_code == 404
    assert desk.post(f"care/tasks/{far.pk}/outcome", {"reached": True}).status_code == 404
    # The salesperson is not the desk: nothing of it is theirs to see.
    assert api(company.sales_a).get("care/tasks", when="week").json() == []


def _due_task(company, make_customer, owner=None):
    c = make_customer(owner or company.sales_a, grade="A", age=40)
    daily(company)
    services.generate_due_tasks()
    return ContactTask.objects.get(customer=c)


def test_a_complaint_goes_to_the_owners_manager_not_the_owner(company, make_customer, api):
    task = _due_task(company, make_customer)
    response = api(company.service_a).post(
        f"care/tasks/{task.pk}/outcome",
        {"reached": True, "satisfaction": 2, "complaint": "送货晚了三天，销售不回消息"},
    )
    assert response.status_code == 200, response.content
    routed = ContactTask.objects.get(kind="complaint", source_task=task)
    assert (routed.queue, routed.assignee_id) == ("manager", company.manager_a.pk)
    entry = Entry.objects.get(kind="care.complaint_routed")
    assert body(entry)["to"] == company.manager_a.pk and body(entry)["owner"] == company.sales_a.pk
    # The manager has it; the owner cannot find it, not even by id.
    assert routed.pk in [
        t["id"] for t in api(company.manager_a).get("care/tasks", when="open", queue="manager").json()
    ]
    assert api(company.sales_a).get(f"care/tasks/{routed.pk}").status_code == 404
    # The manager resolves it, and the desk calls the customer back after.
    resolved = api(company.manager_a).post(f"care/tasks/{routed.pk}/resolve", {"note": "已道歉并补偿"})
    assert resolved.status_code == 200, resolved.content
    after = ContactTask.objects.get(source_task=routed)
    assert (after.kind, after.queue, after.status) == ("after_complaint", "desk", "open")
    assert after.pk in [t["id"] for t in api(company.service_a).get("care/tasks", when="week").json()]


def test_a_complaint_about_a_manager_owner_goes_above_them(company, make_customer, api):
    task = _due_task(company, make_customer, owner=company.manager_a)
    services.record_outcome(actor=company.service_a, task_id=task.pk, reached=True, complaint="店长态度差")
    routed = ContactTask.objects.get(kind="complaint")
    assert routed.assignee_id == company.region_manager.pk
    assert api(company.manager_a).get(f"care/tasks/{routed.pk}").status_code == 404
    assert api(company.region_manager).get(f"care/tasks/{routed.pk}").status_code == 200


def test_not_reached_is_tried_again_and_bad_outcomes_are_refused(company, make_customer, api):
    task = _due_task(company, make_customer)
    desk = api(company.service_a)
    refused = desk.post(f"care/tasks/{task.pk}/outcome", {"reached": False, "satisfaction": 4})
    assert refused.status_code == 400 and refused.json()["error"] == "invalid"
    assert desk.post(f"care/tasks/{task.pk}/outcome", {"reached": True, "satisfaction": 9}).status_code == 422
    assert desk.post(f"care/tasks/{task.pk}/outcome", {"reached": False}).status_code == 200
    again = desk.post(f"care/tasks/{task.pk}/outcome", {"reached": True})
    assert again.status_code == 409
    retry = ContactTask.objects.get(source_task=task)
    assert (retry.kind, retry.due_on) == ("return_visit", timezone.localdate() + timedelta(days=2))


def test_wanting_another_contact_person_reaches_the_manager(company, make_customer):
    task = _due_task(company, make_customer)
    services.record_outcome(
        actor=company.service_a,
        task_id=task.pk,
        reached=True,
        satisfaction=3,
        wants_other_contact=True,
        note="想换个销售",
    )
    change = ContactTask.objects.get(kind="contact_change")
    assert change.assignee_id == company.manager_a.pk and change.note == "想换个销售"


def test_the_service_line_gets_the_task_and_the_archive_link_must_be_the_customers(
    company, make_customer, api
):
    c = make_customer(company.sales_a, grade="A", age=40)
    manager = api(company.manager_a)
    assert (
        manager.put(f"care/customers/{c.pk}/lines/service", {"employee_id": company.service_a.pk}).status_code
        == 200
    )
    daily(company)
    services.generate_due_tasks()
    task = ContactTask.objects.get(customer=c)
    assert task.assignee_id == company.service_a.pk
    missing = api(company.service_a).post(
        f"care/tasks/{task.pk}/outcome", {"reached": True, "archive_message_id": 987654}
    )
    assert missing.status_code == 404


def test_the_work_split(company, make_customer, api):
    c = make_customer(company.sales_a)
    manager = api(company.manager_a)
    assert (
        manager.put(
            f"care/customers/{c.pk}/lines/development", {"employee_id": company.manager_a.pk}
        ).status_code
        == 200
    )
    # The service line is the desk's, the development line a manager's.
    wrong = manager.put(f"care/customers/{c.pk}/lines/service", {"employee_id": company.sales_a_peer.pk})
    assert wrong.status_code == 400
    assert (
        api(company.sales_a)
        .put(f"care/customers/{c.pk}/lines/service", {"employee_id": company.service_a.pk})
        .status_code
        == 403
    )
    assert (
        api(company.manager_b)
        .put(f"care/customers/{c.pk}/lines/service", {"employee_id": company.service_a.pk})
        .status_code
        == 404
    )
    manager.put(f"care/customers/{c.pk}/lines/service", {"employee_id": company.service_a.pk})
    lines = {(x["kind"], x["employee_id"]) for x in manager.get(f"care/customers/{c.pk}/lines").json()}
    assert lines == {
        ("business", company.sales_a.pk),
        ("development", company.manager_a.pk),
        ("service", company.service_a.pk),
    }
    assert Entry.objects.filter(kind="care.responsibility_assigned", customer_id=c.pk).count() == 2
    assert manager.delete(f"care/customers/{c.pk}/lines/service").status_code == 204
    assert not Responsibility.objects.filter(customer=c, kind="service", ended_at__isnull=True).exists()


def test_a_handover_brings_the_desk_a_call(company, make_customer):
    customers = [make_customer(company.sales_a, name=f"交接{n}") for n in range(3)]
    case = handover.open_case(
        actor=company.manager_a, employee=company.sales_a, last_day=timezone.localdate() + timedelta(days=3)
    )
    plan = handover.preview(
        actor=company.manager_a,
        kind="handover",
        case=case,
        strategy="round_robin",
        receiver_ids=[company.sales_a_peer.pk],
    )
    handover.commit(actor=company.manager_a, plan=plan)
    tasks = ContactTask.objects.filter(kind="after_handover")
    assert {t.customer_id for t in tasks} == {c.pk for c in customers}
    assert all(t.due_on == timezone.localdate() + timedelta(days=3) for t in tasks)
    assert Customer.objects.filter(owner=company.sales_a_peer).count() == 3


def test_cadence_is_for_executives(company, api):
    assert api(company.manager_a).put("care/cadence/A", {"every_days": 10}).status_code == 403
    assert api(company.executive).put("care/cadence/Z", {"every_days": 10}).status_code == 400
    assert api(company.executive).put("care/cadence/A", {"every_days": 14}).status_code == 200
    assert {"grade": "A", "every_days": 14} in api(company.service_a).get("care/cadence").json()
