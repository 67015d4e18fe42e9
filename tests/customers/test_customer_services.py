"""Creating and changing customer records: every write checked, every write in the ledger."""

import json

import pytest

from custos.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from custos.customers import services
from custos.customers.models import Customer, CustomerContact
from custos.customers.services import NewContact
from custos.ledger.models import Entry
from custos.org import services as org_services


def entries(customer, kind=None):
    qs = Entry.objects.filter(customer_id=customer.pk)
    if kind:
        qs = qs.filter(kind=kind)
    return [json.loads(e.payload) | {"_actor": e.actor_id, "_kind": e.kind} for e in qs.order_by("seq")]


def test_create_a_person_with_profile_tags_and_contacts(company, make_customer):
    customer = make_customer(
        company.sales_a,
        name="  李 娜 ",
        grade="a",
        source="转介绍",
        tags=["老客户", "高端", "老客户"],
        profile={
            "birthday": "1986-03-08",
            "preferences": {"sizes": "M / 38码", "styles": ["通勤", "简约"], "budget": "800-1500元"},
            "family": {
                "spouse": {"name": "王强", "occupation": "工程师"},
                "children": [{"name": "王小明", "birth_year": 2015, "school": "天河第一小学"}],
                "elders": [{"relation": "母亲", "age": 68, "likes": "广场舞、早茶"}],
            },
            "notes": "",
        },
    )
    assert (customer.name, customer.grade, customer.owner, customer.unit) == (
        "李 娜",
        "A",
        company.sales_a,
        company.store_a,
    )
    assert sorted(customer.tags.values_list("name", flat=True)) == ["老客户", "高端"]
    assert customer.profile["family"]["children"][0]["school"] == "天河第一小学"
    assert "notes" not in customer.profile  # empty values are pruned
    assert 50 < customer.completeness < 100
    [created] = entries(customer, "customer.created")
    assert created["_actor"] == company.sales_a.pk and created["owner"] == company.sales_a.pk
    assert created["contacts"][0]["masked"].startswith("138****")


def test_create_a_company_with_its_five_parts(company, make_customer):
    customer = make_customer(
        company.sales_a,
        name="佛山美家装饰材料有限公司",
        kind="company",
        profile={
            "overview": {"industry": "装饰材料批发", "founded_year": 2009, "staff_size": "50-100人"},
            "business": {"annual_revenue": "约3000万", "condition": "稳定，旺季在3-6月"},
            "boss": {"name": "陈建国", "hometown": "潮汕", "hobbies": "喝茶、钓鱼"},
            "settlement": {"terms": "月结", "payment_days": 60, "habits": "月底前对账，次月15号付款"},
            "key_staff": [{"name": "刘会计", "title": "财务"}, {"name": "小周", "title": "采购"}],
        },
    )
    assert customer.kind == "company" and customer.profile["settlement"]["payment_days"] == 60
    assert customer.completeness == 90  # everything but a WeChat id and an address


@pytest.mark.parametrize(
    "profile,field",
    [
        ({"birthday": "not a date"}, "birthday"),
        ({"shoe": "38"}, "shoe"),
        ({"family": {"children": [{"birth_year": 1700}]}}, "family.children.0.birth_year"),
        ({"overview": {"industry": "x"}}, "overview"),  # a company's part on a person
    ],
)
def test_a_bad_profile_is_refused_naming_the_field(company, make_customer, profile, field):
    with pytest.raises(InvalidInput) as exc:
        make_customer(company.sales_a, profile=profile)
    assert field in exc.value.message
    assert not Customer.objects.exists()


def test_a_phone_number_typed_into_free_text_is_refused(company, make_customer):
    with pytest.raises(InvalidInput) as exc:
        make_customer(company.sales_a, profile={"notes": "她老公电话 139 1234 5678 晚上打"})
    assert "139 1234 5678" in exc.value.message
    customer = make_customer(company.sales_a, profile={"notes": "预算800-1500，生日1986年3月8日"})
    assert customer.profile["notes"].startswith("预算")


def test_a_duplicate_phone_anywhere_in_the_company_names_only_the_unit(company, make_customer):
    make_customer(company.sales_b, name="王芳", phone="13912345678")
    with pytest.raises(Conflict) as exc:
        make_customer(company.sales_a, name="王芳芳", phone="+86 139-1234-5678")
    message = exc.value.message
    assert "徐汇店" in message
    assert "王芳" not in message and company.sales_b.name not in message and "5678" not in message
    assert exc.value.code == "duplicate_contact"
    assert Customer.objects.count() == 1  # the whole create was undone


def test_a_duplicate_wechat_is_refused_even_when_the_holder_is_archived(company, make_customer):
    held = make_customer(company.sales_a, contacts_in=[NewContact("wechat", "LiNa_1986")])
    services.archive(actor=company.manager_a, customer=held, reason="长期无联系")
    with pytest.raises(Conflict) as exc:
        make_customer(company.sales_a2, contacts_in=[NewContact("wechat", "lina_1986")])
    assert "天河店" in exc.value.message


def test_a_removed_number_can_be_used_again(company, make_customer):
    customer = make_customer(company.sales_a, phone="13912345678")
    contact = customer.contacts.get()
    services.remove_contact(actor=company.manager_a, customer=customer, contact=contact, reason="客户换号")
    other = make_customer(company.sales_a2, phone="13912345678")
    assert other.contacts.count() == 1
    contact.refresh_from_db()
    assert contact.removed and contact.value_encrypted  # kept, encrypted, for a manager to recover
    [removed] = entries(customer, "customer.contact_removed")
    assert removed["reason"] == "客户换号" and removed["_actor"] == company.manager_a.pk


def test_sales_create_only_for_themselves_in_their_own_unit(company, make_customer):
    with pytest.raises(Forbidden):
        make_customer(company.sales_a_peer, actor=company.sales_a)
    with pytest.raises(NotFound):
        services.create_customer(actor=company.sales_a, name="x", unit=company.store_b)
    with pytest.raises(Forbidden):
        services.create_customer(actor=company.auditor, name="x", owner=company.sales_a)


def test_a_manager_creates_for_staff_in_scope_only(company, make_customer):
    customer = make_customer(company.sales_a_peer, actor=company.manager_a)
    assert customer.owner == company.sales_a_peer and customer.created_by == company.manager_a
    with pytest.raises(NotFound):
        make_customer(company.sales_b, actor=company.manager_a)


def test_update_applies_profile_sections_and_records_what_changed(company, make_customer):
    customer = make_customer(company.sales_a, profile={"birthday": "1990-01-02", "notes": "老顾客"})
    before = customer.completeness
    services.update_customer(
        actor=company.sales_a,
        customer=customer,
        grade="B",
        tags=["VIP"],
        profile={"preferences": {"sizes": "L", "styles": ["休闲"]}, "notes": None},
    )
    customer.refresh_from_db()
    assert customer.profile == {"birthday": "1990-01-02", "preferences": {"sizes": "L", "styles": ["休闲"]}}
    assert customer.grade == "B" and customer.completeness == before + 8
    [updated] = entries(customer, "customer.updated")
    assert updated["changed"]["grade"] == {"from": "C", "to": "B"}
    assert updated["changed"]["profile"] == {"notes": None, "preferences": {"sizes": "L", "styles": ["休闲"]}}
    assert updated["changed"]["tags"] == {"from": [], "to": ["VIP"]}
    services.update_customer(actor=company.sales_a, customer=customer, grade="B")
    assert len(entries(customer, "customer.updated")) == 1  # nothing changed, nothing recorded


def test_unknown_grades_are_refused_and_grades_are_configurable(company, make_customer, settings):
    with pytest.raises(InvalidInput):
        make_customer(company.sales_a, grade="S")
    settings.CUSTOS_CUSTOMER_GRADES = ["S", "A", "B"]
    assert make_customer(company.sales_a, grade="s").grade == "S"


# --- ownership ---------------------------------------------------------------------------


def test_transfer_is_for_managers_and_records_from_and_to(company, make_customer):
    customer = make_customer(company.sales_a)
    with pytest.raises(Forbidden):
        services.change_owner(
            actor=company.sales_a, customer=customer, kind="transfer", to=company.sales_a_peer
        )
    services.change_owner(
        actor=company.manager_a,
        customer=customer,
        kind="transfer",
        to=company.sales_a_peer,
        reason="离职继承",
    )
    customer.refresh_from_db()
    assert customer.owner == company.sales_a_peer
    [changed] = entries(customer, "customer.owner_changed")
    assert changed == {
        "change": "transfer",
        "from": company.sales_a.pk,
        "to": company.sales_a_peer.pk,
        "from_unit": company.store_a.pk,
        "to_unit": company.store_a.pk,
        "reason": "离职继承",
        "_actor": company.manager_a.pk,
        "_kind": "customer.owner_changed",
    }


def test_a_transfer_moves_the_customer_to_the_new_owners_unit(company, make_customer):
    customer = make_customer(company.sales_a)
    services.change_owner(
        actor=company.region_manager, customer=customer, kind="transfer", to=company.sales_a2
    )
    customer.refresh_from_db()
    assert customer.unit == company.store_a2


def test_a_manager_cannot_hand_customers_outside_their_scope(company, make_customer):
    customer = make_customer(company.sales_a)
    with pytest.raises(NotFound):
        services.change_owner(actor=company.manager_a, customer=customer, kind="transfer", to=company.sales_b)
    with pytest.raises(NotFound):
        services.change_owner(actor=company.manager_b, customer=customer, kind="transfer", to=company.sales_b)
    assert Customer.objects.get(pk=customer.pk).owner == company.sales_a


def test_nobody_receives_customers_when_frozen_or_an_auditor(company, make_customer):
    customer = make_customer(company.sales_a)
    org_services.freeze(actor=company.manager_a, employee=company.sales_a_peer, reason="调查")
    with pytest.raises(Forbidden):
        services.change_owner(
            actor=company.manager_a, customer=customer, kind="transfer", to=company.sales_a_peer
        )
    with pytest.raises(Forbidden):
        services.change_owner(actor=company.admin, customer=customer, kind="transfer", to=company.auditor)


def test_recycle_claim_and_assign_through_the_pool(company, make_customer):
    customer = make_customer(company.sales_a)
    with pytest.raises(NotFound):  # not theirs, not in the pool: the peer cannot see it
        services.change_owner(actor=company.sales_a_peer, customer=customer, kind="claim")
    services.change_owner(actor=company.sales_a, customer=customer, kind="recycle", reason="暂无需求")
    customer.refresh_from_db()
    assert (customer.owner, customer.status, customer.unit) == (None, "in_pool", company.store_a)
    with pytest.raises(NotFound):  # another store's pool is not theirs to claim
        services.change_owner(actor=company.sales_b, customer=customer, kind="claim")
    services.change_owner(actor=company.sales_a_peer, customer=customer, kind="claim")
    customer.refresh_from_db()
    assert (customer.owner, customer.status) == (company.sales_a_peer, "active")
    services.change_owner(actor=company.manager_a, customer=customer, kind="recycle")
    with pytest.raises(Conflict):
        services.change_owner(actor=company.manager_a, customer=customer, kind="transfer", to=company.sales_a)
    services.change_owner(actor=company.manager_a, customer=customer, kind="assign", to=company.sales_a)
    kinds = [e["change"] for e in entries(customer, "customer.owner_changed")]
    assert kinds == ["recycle", "claim", "recycle", "assign"]


def test_only_the_owner_or_a_manager_recycles(company, make_customer):
    customer = make_customer(company.sales_a)
    with pytest.raises(NotFound):
        services.change_owner(actor=company.sales_a_peer, customer=customer, kind="recycle")


# --- archive, restore, merge ---------------------------------------------------------------


def test_archive_and_restore_are_for_managers_with_a_reason(company, make_customer):
    customer = make_customer(company.sales_a)
    with pytest.raises(Forbidden):
        services.archive(actor=company.sales_a, customer=customer, reason="不要了")
    with pytest.raises(InvalidInput):
        services.archive(actor=company.manager_a, customer=customer, reason="  ")
    services.archive(actor=company.manager_a, customer=customer, reason="重复录入")
    assert Customer.objects.get(pk=customer.pk).status == "archived"
    with pytest.raises(Conflict):
        services.add_contact(actor=company.sales_a, customer=customer, kind="phone", value="13700001111")
    services.restore(actor=company.manager_a, customer=customer)
    assert Customer.objects.get(pk=customer.pk).status == "active"
    assert [e["_kind"] for e in entries(customer)] == [
        "customer.created",
        "customer.archived",
        "customer.restored",
    ]


def test_restoring_a_departed_owners_customer_puts_it_in_the_pool(company, make_customer):
    customer = make_customer(company.sales_a)
    services.archive(actor=company.manager_a, customer=customer, reason="x")
    org_services.set_status(actor=company.manager_a, employee=company.sales_a, status="departed")
    services.restore(actor=company.manager_a, customer=customer)
    customer.refresh_from_db()
    assert (customer.status, customer.owner) == ("in_pool", None)


def test_merge_folds_the_duplicate_into_the_survivor(company, make_customer):
    from custos.customers import activity

    survivor = make_customer(
        company.sales_a, name="刘洋", profile={"birthday": "1990-05-01"}, tags=["老客户"]
    )
    duplicate = make_customer(
        company.sales_a_peer,
        name="刘洋(微信)",
        contacts_in=[NewContact("wechat", "liuyang90")],
        profile={"birthday": "1991-01-01", "preferences": {"sizes": "XL"}},
        tags=["高端"],
    )
    activity.add_follow_up(actor=company.sales_a_peer, customer=duplicate, kind="call", content="约周六到店")
    with pytest.raises(Forbidden):
        services.merge(actor=company.sales_a, survivor=survivor, duplicate=duplicate, reason="同一人")
    services.merge(actor=company.manager_a, survivor=survivor, duplicate=duplicate, reason="同一人")
    survivor.refresh_from_db()
    duplicate.refresh_from_db()
    assert (duplicate.status, duplicate.merged_into) == ("archived", survivor)
    assert survivor.profile == {"birthday": "1990-05-01", "preferences": {"sizes": "XL"}}
    assert sorted(survivor.tags.values_list("name", flat=True)) == ["老客户", "高端"]
    assert survivor.follow_ups.count() == 1 and survivor.last_contact_at is not None
    wechat = survivor.contacts.get(kind="wechat")
    from custos.customers.contacts import open_value

    assert open_value(wechat) == "liuyang90"  # re-encrypted for its new row
    [merged] = entries(survivor, "customer.merged")
    assert merged["duplicate"] == duplicate.pk and merged["moved"]["contacts"] == 1
    assert entries(duplicate, "customer.merged_into")[0]["survivor"] == survivor.pk
    with pytest.raises(Conflict):
        services.restore(actor=company.manager_a, customer=duplicate)


def test_a_manager_cannot_merge_another_stores_customer(company, make_customer):
    mine = make_customer(company.sales_a)
    theirs = make_customer(company.sales_b)
    with pytest.raises(NotFound):
        services.merge(actor=company.manager_a, survivor=mine, duplicate=theirs, reason="x")
    assert Customer.objects.get(pk=theirs.pk).status == "active"
    assert CustomerContact.objects.filter(customer=theirs).count() == 1
