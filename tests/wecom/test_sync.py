"""Directory and contact sync from the stub: matched, never destructive, paged, resumable."""

import pytest

from custos.customers.models import Customer, CustomerContact
from custos.org.models import Employee, Unit
from custos.wecom import sync
from custos.wecom.models import CorpTag, DepartmentLink, FollowRelation, MemberLink, SyncRun


def _run(kind):
    return sync.run(sync.start(kind).pk)


def test_directory_links_units_and_staff_and_hires_new_members(company, wecom):
    wecom.add_department(6, "新开店", 2)
    wecom.add_user("newbie", "新人", 6)
    run = _run("directory")
    assert run.status == "done" and run.percent == 100
    assert run.counts["members_matched"] == 8 and run.counts["members_created"] == 1
    assert DepartmentLink.objects.get(department_id=3).unit == company.store_a  # matched by name under its parent
    assert DepartmentLink.objects.get(department_id=1).unit == company.hq
    new_store = DepartmentLink.objects.get(department_id=6).unit
    assert new_store.parent == company.south and new_store.name == "新开店"
    assert MemberLink.objects.get(userid="sales_a").employee == company.sales_a
    assert Employee.objects.get(employee_no="newbie").unit == new_store


def test_a_member_gone_from_wecom_is_flagged_not_deleted(company, wecom):
    wecom.add_department(7, "临时项目组", 1)
    _run("directory")
    units, staff = Unit.objects.count(), Employee.objects.count()
    del wecom.users["sales_b"]
    del wecom.departments[7]
    run = _run("directory")
    assert run.counts["members_missing"] == 1
    gone = MemberLink.objects.get(userid="sales_b")
    assert gone.missing_since is not None and gone.employee == company.sales_b
    assert Employee.objects.get(pk=company.sales_b.pk).status == Employee.Status.ACTIVE
    assert DepartmentLink.objects.get(department_id=7).missing_since is not None
    assert (Unit.objects.count(), Employee.objects.count()) == (units, staff)
    wecom.add_user("sales_b", company.sales_b.name, 4)
    _run("directory")
    assert MemberLink.objects.get(userid="sales_b").missing_since is None


def test_contacts_become_customers_with_their_relations_and_tags(company, synced):
    synced.add_tag_group("g1", "客户等级", {"t1": "VIP", "t2": "装修中"})
    for i in range(250):  # three pages of 100 for one member
        synced.add_contact("sales_a", f"wmA{i:04d}", f"客户{i}", tags=["t1"] if i % 2 else [], createtime=1700000000 + i)
    synced.add_contact("sales_b", "wmB0001", "徐汇客户", remark="老王 装修")
    synced.add_contact("sales_a_peer", "wmA0007", "客户7")  # a second staff member on the same customer
    run = _run("contacts")
    assert run.status == "done", run.error
    assert run.total == 3 and run.done == 3
    assert run.counts["customers_created"] == 251 and run.counts["relations"] == 252
    assert synced.calls.count("/cgi-bin/externalcontact/batch/get_by_user") == 5
    wang = Customer.objects.get(name="老王 装修")  # the member's remark names the customer
    assert wang.owner == company.sales_b and wang.unit == company.store_b and wang.source == "企业微信"
    assert CustomerContact.objects.get(customer=wang).kind == "wecom"
    vip = Customer.objects.get(name="客户1")
    assert [t.name for t in vip.tags.all()] == ["VIP"]
    seven = Customer.objects.get(name="客户7")
    assert seven.owner == company.sales_a
    assert set(FollowRelation.objects.filter(external_userid="wmA0007").values_list("userid", flat=True)) == {"sales_a", "sales_a_peer"}
    assert CorpTag.objects.count() == 2
    again = _run("contacts")
    assert again.counts.get("customers_created", 0) == 0 and Customer.objects.count() == 251


def test_a_stopped_sync_goes_on_from_its_page_without_duplicates(company, synced):
    for i in range(230):
        synced.add_contact("sales_a", f"wmR{i:04d}", f"续{i}")
    original = synced.handle
    seen = {"n": 0}

    def fail_third_page(method, path, query, body):
        if path == "/cgi-bin/externalcontact/batch/get_by_user":
            seen["n"] += 1
            if seen["n"] == 3:
                return {"errcode": 48002, "errmsg": "api forbidden"}
        return original(method, path, query, body)

    synced.handle = fail_third_page
    failed = _run("contacts")
    assert failed.status == "failed" and "48002" in failed.error
    assert Customer.objects.count() == 200 and failed.state["cursor"] == "200"
    synced.handle = original
    row = SyncRun.objects.get(pk=failed.pk)
    row.status = "running"
    row.save()
    resumed = sync.run(row.pk)
    assert resumed.status == "done" and Customer.objects.count() == 230
    assert FollowRelation.objects.count() == 230


def test_only_one_sync_of_a_kind_runs_at_once(company, synced):
    first = sync.start("contacts")
    with pytest.raises(Exception) as err:
        sync.start("contacts")
    assert "正在进行" in str(err.value)
    SyncRun.objects.filter(pk=first.pk).update(heartbeat_at=first.started_at.replace(year=2020))
    assert sync.start("contacts").pk == first.pk  # a crashed run is resumed, not doubled


def test_a_relation_gone_without_a_callback_is_marked_by_the_next_sync(company, synced):
    synced.add_contact("sales_a", "wmGone1", "走了的客户")
    synced.add_contact("sales_a", "wmStays", "还在的客户")
    _run("contacts")
    synced.follows.pop(("sales_a", "wmGone1"))  # deleted in WeCom while the callback was lost
    run = _run("contacts")
    assert run.counts["relations_gone"] == 1
    gone = FollowRelation.objects.get(external_userid="wmGone1")
    assert gone.deleted_at is not None and gone.customer_id is not None
    assert FollowRelation.objects.get(external_userid="wmStays").deleted_at is None
    assert Customer.objects.filter(pk=gone.customer_id).exists()  # the customer stays the company's
