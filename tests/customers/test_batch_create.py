"""create_customers (imports): the same customers and ledger entries as create_customer, all or nothing."""

import json

import pytest

from custos.core.errors import Conflict, Forbidden, InvalidInput, NotFound
from custos.customers import contacts, services
from custos.customers.models import Customer, CustomerContact
from custos.customers.services import NewContact
from custos.ledger.models import Entry


def item(name, phone, **extra):
    return {"name": name, "contacts_in": [NewContact("phone", phone, "本人")], **extra}


def state(customer):
    c = Customer.objects.get(pk=customer.pk)
    return (
        c.kind,
        c.grade,
        c.source,
        c.owner_id,
        c.unit_id,
        c.profile,
        c.completeness,
        c.created_by_id,
        sorted(c.tags.values_list("name", flat=True)),
        sorted((k.kind, k.label, k.masked, contacts.open_value(k)) for k in c.contacts.all()),
    )


def payload(customer):
    p = json.loads(Entry.objects.get(kind="customer.created", customer_id=customer.pk).payload)
    p.pop("customer")
    for c in p["contacts"]:
        c.pop("contact")
    return p


def test_a_batch_makes_what_one_by_one_makes(company):
    extra = {
        "grade": "A",
        "source": "导入",
        "tags": ["老客户", " 高端 ", "老客户"],
        "profile": {"birthday": "1990-02-03", "preferences": {"styles": ["通勤"]}},
        "owner": company.sales_a_peer,
    }
    single = services.create_customer(actor=company.manager_a, **item("单个", "13912340001", **extra))
    [batched] = services.create_customers(
        actor=company.manager_a, items=[item("单个", "13912340002", **extra)]
    )
    a, b = state(single), state(batched)
    assert a[:-1] == b[:-1]
    assert [(k, lbl, m) for k, lbl, m, _v in a[-1]] != [] and b[-1][0][3] == "+8613912340002"
    pa, pb = payload(single), payload(batched)
    assert pa["contacts"][0]["masked"] == "139****0001" and pb["contacts"][0]["masked"] == "139****0002"
    pa.pop("contacts"), pb.pop("contacts")
    assert pa == pb


def test_one_number_in_use_and_nothing_is_created(company, make_customer):
    make_customer(company.sales_b, phone="13912340002")
    before = Entry.objects.count()
    with pytest.raises(Conflict) as exc:
        services.create_customers(
            actor=company.manager_a,
            items=[item("一", "13912340001"), item("二", "139 1234 0002"), item("三", "13912340003")],
        )
    assert exc.value.item == 1 and "徐汇店" in exc.value.message
    assert Customer.objects.count() == 1 and Entry.objects.count() == before


def test_the_same_number_twice_in_a_batch(company):
    with pytest.raises(Conflict) as exc:
        services.create_customers(
            actor=company.manager_a, items=[item("一", "13912340001"), item("二", "+8613912340001")]
        )
    assert exc.value.item == 1
    assert not CustomerContact.objects.exists()


def test_every_item_is_checked_as_create_customer_checks_it(company):
    cases = [
        ({"name": ""}, InvalidInput),
        ({"name": "x", "grade": "Z"}, InvalidInput),
        ({"name": "x", "profile": {"notes": "电话13912345678"}}, InvalidInput),
        ({"name": "x", "owner": company.sales_b}, NotFound),
        ({"name": "x", "tags": ["一个特别特别特别特别特别特别特别长的标签名字"]}, InvalidInput),
    ]
    for bad, error in cases:
        with pytest.raises(error) as exc:
            services.create_customers(actor=company.manager_a, items=[item("好", "13912340009"), bad])
        assert exc.value.item == 1
    with pytest.raises(Forbidden):
        services.create_customers(actor=company.sales_a, items=[{"name": "x", "owner": company.sales_a_peer}])
    with pytest.raises(Forbidden):
        services.create_customers(actor=company.auditor, items=[{"name": "x"}])
    assert not Customer.objects.exists()
