"""A departure from opening the case to closing it, through the services."""

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from custos.access import tokens
from custos.access.models import ApiToken
from custos.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from custos.customers import activity
from custos.customers import services as customer_services
from custos.customers.models import Customer
from custos.customers.timeline import timeline
from custos.handover import services, tasks
from custos.handover.models import ChecklistItem, ContactTask, DepartureCase, DeviceCommand, Plan
from custos.ledger.models import Entry
from custos.org import services as org_services
from custos.org.models import Employee
from tests.handover.conftest import days_ago, message

K = ChecklistItem.Kind
FULL = {
    "birthday": "1990-01-01", "gender": "female", "occupation": "教师", "notes": "喜欢素色",
    "preferences": {"sizes": "M", "styles": ["通勤"], "budget": "500-1000"},
    "family": {"spouse": {"name": "王先生"}, "children": [{"name": "小明"}], "elders": [{"relation": "母亲"}]},
}  # fmt: skip
pytestmark = pytest.mark.django_db


def tomorrow():
    return timezone.localdate() + timedelta(days=1)


def items(case, kind):
    return {i.ref: i for i in case.items.filter(kind=kind)}


@pytest.fixture
def leaver_book(company, make_customer, chat):
    """sales_a's customers: a full file, an empty file with a due follow-up, one with a planned
    follow-up, one who wrote last and got no answer; one group without another colleague."""
    s = company.sales_a
    full = make_customer(s, name="全档客户", grade="A", profile=FULL)
    empty = make_customer(s, name="空档客户")
    customer_services.update_customer(actor=s, customer=empty, next_follow_up_on=timezone.localdate() - timedelta(days=2))
    planned = make_customer(s, name="跟进中客户")
    customer_services.update_customer(actor=s, customer=planned, next_follow_up_on=timezone.localdate() + timedelta(days=5))
    waiting = make_customer(s, name="待回复客户")
    chat(
        message("message.sent", s, waiting, at=days_ago(3)),
        message("message.received", s, waiting, at=days_ago(1)),
        message("message.sent", s, full, at=days_ago(2)),
        message("message.received", s, full, at=days_ago(2) + timedelta(minutes=1)),
        message("message.sent", s, full, at=days_ago(2) + timedelta(minutes=5)),
    )
    from custos.ledger.services import append

    append("group.created", {"group": "g1", "name": "老客户群", "members": [{"contact": "wx-1"}], "has_company_observer": False}, actor_id=s.pk, source="test-archive", source_id="g1")
    return {"full": full, "empty": empty, "planned": planned, "waiting": waiting}


def test_opening_a_case_marks_resigning_and_builds_the_checklist(company, leaver_book):
    case = services.open_case(actor=company.manager_a, employee=company.sales_a, last_day=tomorrow(), reason="个人原因")
    company.sales_a.refresh_from_db()
    assert company.sales_a.status == Employee.Status.RESIGNING and company.sales_a.last_day == tomorrow()
    b = leaver_book
    assert set(items(case, K.CUSTOMER)) == {str(c.pk) for c in b.values()}
    assert set(items(case, K.FOLLOW_UP)) == {str(b["empty"].pk)}
    assert set(items(case, K.OPEN_ITEM)) == {str(b["planned"].pk)}
    assert [i.customer_id for i in items(case, K.UNANSWERED).values()] == [b["waiting"].pk]
    assert set(items(case, K.GROUP)) == {"g1"}
    fill_in = {i.customer_id for i in items(case, K.FILL_IN).values()}
    assert b["empty"].pk in fill_in and b["full"].pk not in fill_in
    kinds = list(Entry.objects.filter(kind__startswith="handover.").values_list("kind", flat=True))
    assert kinds == ["handover.case_opened"]
    with pytest.raises(Conflict):
        services.open_case(actor=company.region_manager, employee=company.sales_a, last_day=tomorrow())


def test_only_managers_in_scope_open_cases(company, leaver_book):
    with pytest.raises(NotFound):
        services.open_case(actor=company.manager_b, employee=company.sales_a, last_day=tomorrow())
    with pytest.raises(Forbidden):
        services.open_case(actor=company.sales_a_peer, employee=company.sales_a, last_day=tomorrow())
    with pytest.raises(InvalidInput):
        services.open_case(actor=company.manager_a, employee=company.sales_a, last_day=None)


def test_items_are_ticked_by_the_data(company, leaver_book, chat):
    b = leaver_book
    case = services.open_case(actor=company.manager_a, employee=company.sales_a, last_day=tomorrow())
    s = company.sales_a
    activity.add_follow_up(actor=s, customer=b["empty"], kind="call", content="回访", next_follow_up_on=timezone.localdate() + timedelta(days=7))
    chat(message("message.sent", s, b["waiting"]))
    customer_services.update_customer(actor=s, customer=b["empty"], profile=FULL)
    services.refresh(case)
    assert items(case, K.FOLLOW_UP)[str(b["empty"].pk)].done_at is not None
    assert next(iter(items(case, K.UNANSWERED).values())).done_at is not None
    b["empty"].refresh_from_db()
    assert b["empty"].completeness >= 60
    assert items(case, K.FILL_IN)[str(b["empty"].pk)].done_at is not None
    # a colleague joins the group: it no longer depends on the leaver
    from custos.ledger.services import append

    append("group.member_added", {"group": "g1", "member": {"employee": company.manager_a.pk}}, source="test-archive", source_id="g1-add")
    services.refresh(case)
    assert items(case, K.GROUP)["g1"].done_at is not None


def test_freeze_now_refuses_sessions_and_tokens_and_queues_a_device_lock(company, leaver_book, console):
    s = company.sales_a
    browser = console(s)
    _t, personal = tokens.issue(actor=s, kind=ApiToken.Kind.PERSONAL, name="script")
    device, device_clear = tokens.issue(actor=company.manager_a, kind=ApiToken.Kind.DEVICE, name="工作手机", employee=s)
    case = services.open_case(actor=company.manager_a, employee=s, last_day=tomorrow())
    assert browser.get("/").status_code == 200
    services.freeze_now(actor=company.manager_a, case=case, reason="带走客户风险")
    case.refresh_from_db()
    assert case.status == DepartureCase.Status.FROZEN
    assert browser.get("/").status_code == 302  # the session is refused on its next request
    api = Client(HTTP_AUTHORIZATION=f"Bearer {personal}")
    assert api.get("/api/v1/me").status_code == 401
    assert tokens.authenticate(device_clear) is None  # no more ingestion from the device
    [command] = DeviceCommand.objects.filter(token=device)
    phone = Client(HTTP_AUTHORIZATION=f"Bearer {device_clear}")
    polled = phone.post("/api/v1/devices/poll", {"acknowledge": []}, content_type="application/json")
    assert polled.status_code == 200, polled.content
    assert polled.json()["commands"] == [{"id": command.pk, "kind": "lock", "payload": {"reason": "departure", "case": case.pk}}]
    acked = phone.post("/api/v1/devices/poll", {"acknowledge": [command.pk]}, content_type="application/json")
    assert acked.json()["commands"] == []
    command.refresh_from_db()
    assert command.delivered_at and command.acknowledged_at
    assert phone.post("/api/v1/devices/poll", {}, content_type="application/json").status_code == 200
    # a personal token is not a device
    assert Client(HTTP_AUTHORIZATION=f"Bearer {personal}").post("/api/v1/devices/poll", {}, content_type="application/json").status_code in (401, 403)
    assert Client(HTTP_AUTHORIZATION="Bearer cst_nope_nope").post("/api/v1/devices/poll", {}, content_type="application/json").status_code == 401


def test_last_day_departs_and_freezes_through_the_periodic_task(company, leaver_book, settings):
    settings.CUSTOS_HANDOVER_FREEZE_HOUR = 0
    s = company.sales_a
    device, _clear = tokens.issue(actor=company.manager_a, kind=ApiToken.Kind.DEVICE, name="工作手机", employee=s)
    case = services.open_case(actor=company.manager_a, employee=s, last_day=timezone.localdate())
    tasks.handover_rounds.call_local()
    s.refresh_from_db()
    case.refresh_from_db()
    assert s.status == Employee.Status.DEPARTED and s.frozen_at is not None
    assert case.status == DepartureCase.Status.FROZEN
    assert DeviceCommand.objects.filter(token=device, kind="lock").count() == 1
    tasks.handover_rounds.call_local()  # idempotent: no second command while one waits
    assert DeviceCommand.objects.filter(token=device).count() == 1


def test_marking_resigning_elsewhere_opens_a_case(company, leaver_book):
    org_services.set_status(actor=company.manager_a, employee=company.sales_a, status="resigning", last_day=tomorrow())
    tasks.handover_rounds.call_local()
    case = DepartureCase.objects.get(employee=company.sales_a)
    assert case.opened_by is None and case.last_day == tomorrow() and case.items.exists()


def test_handover_commit_moves_everything_and_successors_see_history(company, leaver_book):
    b = leaver_book
    case = services.open_case(actor=company.manager_a, employee=company.sales_a, last_day=tomorrow())
    plan = services.preview(
        actor=company.manager_a, kind=Plan.Kind.HANDOVER, case=case, strategy="round_robin",
        receiver_ids=[company.sales_a_peer.pk, company.service_a.pk],
    )  # fmt: skip
    assert plan.status == Plan.Status.DRAFT and plan.moves.filter(to_employee__isnull=False).count() == 4
    assert Customer.objects.filter(owner=company.sales_a).count() == 4  # a preview moves nothing
    services.commit(actor=company.manager_a, plan=plan)
    assert Customer.objects.filter(owner=company.sales_a).count() == 0
    changes = Entry.objects.filter(kind="customer.owner_changed")
    assert changes.count() == 4 and all('"change":"handover"' in e.payload for e in changes)
    assert Entry.objects.filter(kind="handover.plan_committed").count() == 1
    assert set(items(case, K.CUSTOMER)) and all(i.done_at for i in items(case, K.CUSTOMER).values())
    # the successor sees the whole history of what they inherited, from before the handover
    waiting = b["waiting"]
    heir = Customer.objects.get(pk=waiting.pk).owner
    kinds = [i.kind for i in timeline(heir, waiting.pk)]
    assert "message.received" in kinds and "customer.created" in kinds and "customer.owner_changed" in kinds
    # and a task to tell the customer who their new contact is
    task = ContactTask.objects.get(customer=waiting)
    assert task.assignee == heir and heir.name in task.message and waiting.name in task.message
    # the report: who got what, and the customer left waiting is answered once the heir writes
    from custos.handover import reports

    report = reports.departure(company.manager_a, case.pk)
    assert report.handed_over == 4 and [u["answered"] for u in report.unanswered] == [False]
    from custos.ledger.services import append_batch

    append_batch([message("message.sent", heir, waiting)])
    assert [u["answered"] for u in reports.departure(company.manager_a, case.pk).unanswered] == [True]
    # a second commit of the same plan is refused
    with pytest.raises(Conflict):
        services.commit(actor=company.manager_a, plan=plan)


def test_closing_needs_freeze_and_every_item_settled(company, leaver_book):
    case = services.open_case(actor=company.manager_a, employee=company.sales_a, last_day=tomorrow())
    with pytest.raises(Conflict):
        services.close_case(actor=company.manager_a, case=case)
    services.freeze_now(actor=company.manager_a, case=case, reason="提前离岗")
    plan = services.preview(actor=company.manager_a, kind="handover", case=case, strategy="least_loaded", receiver_ids=[company.sales_a_peer.pk])
    services.commit(actor=company.manager_a, plan=plan)
    with pytest.raises(Conflict) as err:
        services.close_case(actor=company.manager_a, case=case)
    assert err.value.code == "items_open"
    for item in case.items.filter(done_at__isnull=True):
        services.waive(actor=company.manager_a, item=item, reason="已电话交接")
    closed = services.close_case(actor=company.manager_a, case=case)
    assert closed.status == DepartureCase.Status.CLOSED
    assert Entry.objects.filter(kind="handover.case_closed").count() == 1


def test_frozen_resigning_or_other_scope_staff_never_receive(company, leaver_book):
    case = services.open_case(actor=company.manager_a, employee=company.sales_a, last_day=tomorrow())
    org_services.freeze(actor=company.manager_a, employee=company.service_a, reason="调查中")
    plan = services.preview(
        actor=company.manager_a, kind="handover", case=case, strategy="round_robin",
        receiver_ids=[company.service_a.pk, company.sales_a_peer.pk],
    )  # fmt: skip
    assert set(plan.moves.values_list("to_employee_id", flat=True)) == {company.sales_a_peer.pk}
    with pytest.raises(NotFound):
        services.preview(actor=company.manager_a, kind="handover", case=case, strategy="round_robin", receiver_ids=[company.sales_b.pk])


def test_weighted_plan_records_its_seed_and_replays(company, leaver_book, make_customer):
    for n in range(20):
        make_customer(company.sales_a, name=f"客户{n}")
    case = services.open_case(actor=company.manager_a, employee=company.sales_a, last_day=tomorrow())
    receivers = [company.sales_a_peer.pk, company.service_a.pk]
    weights = {str(company.sales_a_peer.pk): 3, str(company.service_a.pk): 1}
    first = services.preview(actor=company.manager_a, kind="handover", case=case, strategy="weighted", receiver_ids=receivers, weights=weights)
    assert first.seed is not None and first.params["weights"] == {k: float(v) for k, v in weights.items()}
    again = services.preview(actor=company.manager_a, kind="handover", case=case, strategy="weighted", receiver_ids=receivers, weights=weights, seed=first.seed)
    pairs = lambda p: sorted(p.moves.values_list("customer_id", "to_employee_id"))  # noqa: E731
    assert pairs(first) == pairs(again)


def test_the_leaver_works_their_whole_last_day(company, leaver_book):
    s = company.sales_a
    case = services.open_case(actor=company.manager_a, employee=s, last_day=timezone.localdate())
    morning = timezone.localtime().replace(hour=9, minute=0)
    assert services.leave_on_last_day(morning) == []
    s.refresh_from_db()
    assert s.status == Employee.Status.RESIGNING and s.frozen_at is None
    evening = morning.replace(hour=18, minute=5)
    assert [c.pk for c in services.leave_on_last_day(evening)] == [case.pk]
    s.refresh_from_db()
    assert s.status == Employee.Status.DEPARTED and s.frozen_at is not None


def test_a_withdrawn_resignation_is_left_alone_and_a_closed_case_still_departs(company, make_customer):
    stays, goes = company.sales_a, company.sales_a_peer
    later = timezone.localtime() + timedelta(days=2)
    kept = services.open_case(actor=company.manager_a, employee=stays, last_day=timezone.localdate())
    org_services.set_status(actor=company.manager_a, employee=stays, status="active")
    closed = services.open_case(actor=company.manager_a, employee=goes, last_day=timezone.localdate())
    services.freeze_now(actor=company.manager_a, case=closed, reason="提前离岗")
    services.close_case(actor=company.manager_a, case=closed)
    left = services.leave_on_last_day(later)
    assert [c.pk for c in left] == [closed.pk]
    stays.refresh_from_db()
    goes.refresh_from_db()
    assert stays.status == "active" and stays.frozen_at is None and kept.pk
    assert goes.status == "departed"


def test_a_freeze_from_the_staff_page_locks_the_devices_too(company, leaver_book):
    device, _clear = tokens.issue(actor=company.manager_a, kind=ApiToken.Kind.DEVICE, name="工作手机", employee=company.sales_a)
    case = services.open_case(actor=company.manager_a, employee=company.sales_a, last_day=tomorrow())
    org_services.freeze(actor=company.manager_a, employee=company.sales_a, reason="调查")
    tasks.handover_rounds.call_local()
    case.refresh_from_db()
    assert case.status == DepartureCase.Status.FROZEN
    assert DeviceCommand.objects.filter(token=device, kind="lock").count() == 1
