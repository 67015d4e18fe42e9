"""A handover in Custos moves the WeCom contacts too: transfers to the stub, results back."""

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from custos.alerts.models import Alert
from custos.customers.models import Customer
from custos.handover import allocation
from custos.handover import services as handover
from custos.ledger.models import Entry
from custos.org import services as org_services
from custos.wecom import sync, transfers
from custos.wecom.models import FollowRelation, MemberLink, Transfer

from ..conftest import PASSWORD


@pytest.fixture
def customers(company, synced, django_capture_on_commit_callbacks):
    """Five customers sales_a serves in WeCom, synced into Custos; one group sales_a owns."""
    for i in range(5):
        synced.add_contact("sales_a", f"wmH{i}", f"交接客户{i}")
    synced.groups["wrSalesA"] = {"chat_id": "wrSalesA", "name": "老客户群", "owner": "sales_a", "create_time": 0, "member_list": [], "admin_list": []}
    with django_capture_on_commit_callbacks(execute=True):
        sync.run(sync.start("contacts").pk)
    return list(Customer.objects.filter(owner=company.sales_a).order_by("pk"))


def _hand_over(company, django_capture_on_commit_callbacks, *, receivers, strategy=allocation.ROUND_ROBIN, customer_ids=None):
    case = handover.open_case(actor=company.manager_a, employee=company.sales_a, last_day=timezone.localdate() + timedelta(days=3))
    plan = handover.preview(actor=company.manager_a, kind="handover", strategy=strategy, receiver_ids=[r.pk for r in receivers], case=case, customer_ids=customer_ids)
    with django_capture_on_commit_callbacks(execute=True):
        handover.commit(actor=company.manager_a, plan=plan)
    return case, plan


def test_a_handover_sends_in_service_transfers_and_only_wecom_settles_them(company, customers, synced, django_capture_on_commit_callbacks):
    case, plan = _hand_over(company, django_capture_on_commit_callbacks, receivers=[company.sales_a_peer])
    rows = list(Transfer.objects.filter(plan_id=plan.pk).exclude(chat_id__gt="").order_by("pk"))
    assert [t.kind for t in rows] == ["onjob"] * 5  # the leaver still works in WeCom
    assert {t.status for t in rows} == {"waiting"}
    assert {t["external_userid"] for t in synced.transfers} == {f"wmH{i}" for i in range(5)}
    group = Transfer.objects.get(plan_id=plan.pk, chat_id="wrSalesA")
    assert group.status == "done" and synced.groups["wrSalesA"]["owner"] == "sales_a_peer"

    # Nothing moves in WeCom before its 24 hours: polling keeps them waiting.
    with django_capture_on_commit_callbacks(execute=True):
        assert transfers.poll(force=True) == 0
    synced.refuse("wmH4")
    with django_capture_on_commit_callbacks(execute=True):
        synced.advance(25)
        assert transfers.poll(force=True) == 4
    states = dict(Transfer.objects.filter(plan_id=plan.pk).exclude(chat_id__gt="").values_list("external_userid", "status"))
    assert states == {"wmH0": "done", "wmH1": "done", "wmH2": "done", "wmH3": "done", "wmH4": "refused"}
    assert Transfer.objects.get(external_userid="wmH4").reason == "客户拒绝了接替"
    # WeCom's own removal of the old owner is recorded, but raises no deletion alert.
    removed = Entry.objects.filter(kind="contact.deleted_by_staff", source="wecom")
    assert removed.count() == 4 and all(json.loads(e.payload)["by_transfer"] for e in removed)
    assert not Alert.objects.filter(rule="customer_deleted").exists()
    settled = Entry.objects.filter(kind="wecom.transfer_settled")
    assert {json.loads(e.payload)["status"] for e in settled} == {"done", "refused"}
    assert settled.exclude(customer_id=None).count() == 5
    assert not FollowRelation.objects.filter(userid="sales_a", external_userid="wmH0", deleted_at__isnull=True).exists()
    # The receiver was told in WeCom which customers to contact.
    assert any("您接手了" in m["content"] and m["touser"] == ["sales_a_peer"] for m in synced.messages)


def test_the_case_page_shows_each_customers_wecom_state_and_retries(company, customers, synced, django_capture_on_commit_callbacks):
    case, plan = _hand_over(company, django_capture_on_commit_callbacks, receivers=[company.sales_a_peer])
    synced.refuse("wmH1")
    with django_capture_on_commit_callbacks(execute=True):
        synced.advance(25)
    browser = Client()
    browser.login(username="manager_a", password=PASSWORD)
    page = browser.get(f"/handover/cases/{case.pk}/").content.decode()
    assert 'id="wecom-transfers"' in page and "交接客户1" in page
    row = page.split('data-transfer="', 1)[1].split('data-status="refused"', 1)[1].split("</tr>", 1)[0]
    assert "客户拒绝" in row and "重试" in row and "csrfmiddlewaretoken" in row
    assert f"{company.sales_a.name} → {company.sales_a_peer.name}" in page  # people by name, not WeCom ids
    refused = Transfer.objects.get(external_userid="wmH1")
    with django_capture_on_commit_callbacks(execute=True):
        response = browser.post(f"/wecom/transfers/{refused.pk}/retry/", {"next": f"/handover/cases/{case.pk}/"})
    assert response.status_code == 302
    refused.refresh_from_db()
    assert refused.status == "waiting" and refused.attempts == 2
    assert response["Location"] == f"/handover/cases/{case.pk}/"
    with django_capture_on_commit_callbacks(execute=True):
        Transfer.objects.filter(pk=refused.pk).update(status="failed")
        elsewhere = browser.post(f"/wecom/transfers/{refused.pk}/retry/", {"next": "https://evil.example/"})
    assert elsewhere["Location"] == "/wecom/"  # never sent to another site
    # Another store's manager cannot see or retry it.
    other = Client()
    other.login(username="manager_b", password=PASSWORD)
    assert other.post(f"/wecom/transfers/{refused.pk}/retry/").status_code == 404


def test_a_departed_leavers_customers_go_by_the_resigned_api(company, customers, synced, django_capture_on_commit_callbacks):
    org_services.depart_on_last_day(employee=company.sales_a)
    synced.users["sales_a"]["status"] = 5
    MemberLink.objects.filter(userid="sales_a").update(status=5)
    from custos.handover.models import DepartureCase

    case = DepartureCase.objects.create(employee=company.sales_a, unit=company.store_a, last_day=timezone.localdate())
    plan = handover.preview(actor=company.manager_a, kind="handover", strategy=allocation.ROUND_ROBIN, receiver_ids=[company.sales_a_peer.pk], case=case)
    with django_capture_on_commit_callbacks(execute=True):
        handover.commit(actor=company.manager_a, plan=plan)
    assert set(Transfer.objects.filter(plan_id=plan.pk).exclude(chat_id__gt="").values_list("kind", "status")) == {("resigned", "waiting")}
    assert Transfer.objects.get(chat_id="wrSalesA").kind == "group_resigned"
    with django_capture_on_commit_callbacks(execute=True):
        synced.advance(25)
        transfers.poll(force=True)
    assert set(Transfer.objects.filter(plan_id=plan.pk, kind="resigned").values_list("status", flat=True)) == {"done"}


def test_wecom_refusing_a_transfer_is_a_failure_with_its_reason(company, customers, synced, django_capture_on_commit_callbacks):
    # WeCom says the leaver has not left: the resigned API refuses every customer (40097).
    org_services.depart_on_last_day(employee=company.sales_a)
    from custos.handover.models import DepartureCase

    case = DepartureCase.objects.create(employee=company.sales_a, unit=company.store_a, last_day=timezone.localdate())
    plan = handover.preview(actor=company.manager_a, kind="handover", strategy=allocation.ROUND_ROBIN, receiver_ids=[company.sales_a_peer.pk], case=case)
    with django_capture_on_commit_callbacks(execute=True):
        handover.commit(actor=company.manager_a, plan=plan)
    failed = Transfer.objects.filter(plan_id=plan.pk, kind="resigned")
    assert {t.status for t in failed} == {"failed"} and {t.errcode for t in failed} == {40097}
    assert "该成员尚未离职" in failed.first().reason


def test_in_service_limits_100_a_call_and_twice_in_90_days(company, synced, django_capture_on_commit_callbacks):
    from custos.wecom.client import WeComClient

    for i in range(130):
        synced.add_contact("sales_a", f"wmL{i:03d}", f"多{i}")
    with django_capture_on_commit_callbacks(execute=True):
        sync.run(sync.start("contacts").pk)
    plan = handover.preview(actor=company.manager_a, kind="transfer", strategy=allocation.ROUND_ROBIN, receiver_ids=[company.sales_a_peer.pk], from_employee=company.sales_a, daily_cap=0)
    with django_capture_on_commit_callbacks(execute=True):
        handover.commit(actor=company.manager_a, plan=plan)
    assert synced.calls.count("/cgi-bin/externalcontact/transfer_customer") == 2  # 100 + 30
    assert Transfer.objects.filter(plan_id=plan.pk, status="waiting").count() == 130
    # The same customer moved a third time within 90 days: WeCom's 40128, said in Chinese.
    client = WeComClient()
    for _ in range(2):
        synced.transfers.clear()
        answer = client.post("/cgi-bin/externalcontact/transfer_customer", {"handover_userid": "sales_a", "takeover_userid": "sales_b", "external_userid": ["wmL000"]})
    assert answer["customer"][0]["errcode"] == 40128
    from custos.wecom import errcodes

    assert "90 天内" in errcodes.describe(40128)


def test_nothing_is_sent_when_transfers_are_off(company, customers, synced, django_capture_on_commit_callbacks):
    from custos.wecom.models import Connection

    Connection.objects.filter(pk=1).update(transfers_enabled=False)
    _hand_over(company, django_capture_on_commit_callbacks, receivers=[company.sales_a_peer])
    assert not Transfer.objects.exists() and not synced.transfers
