"""Issue 23, item 1: the customers' search box finds a phone however it is written, the last four
digits (尾号) through a keyed index, and names by a part, their pinyin or initials; a phone
search stays inside the viewer's scope and is a ledger entry."""

import json

from django.core.management import call_command

from custos.customers import names, search, selectors
from custos.customers.models import Customer, CustomerContact
from custos.ledger.models import Entry


def _listed(client, q):
    body = client.get("/customers/", {"q": q}).content.decode()
    return body


def test_full_number_with_spaces_dashes_and_country_code(company, console, make_customer):
    make_customer(company.sales_a, name="陈宏达", phone="13912345678")
    client = console(company.manager_a)
    for q in ("13912345678", "139 1234 5678", "139-1234-5678", "+86 139 1234 5678", "+86-13912345678"):
        assert "陈宏达" in _listed(client, q), q
    assert "陈宏达" not in _listed(client, "13912345679")


def test_last_four_digits_scoped_and_audited(company, console, make_customer):
    make_customer(company.sales_a, name="陈宏达", phone="13912345678")
    make_customer(company.sales_b, name="徐汇的客户", phone="13700005678")
    contact = CustomerContact.objects.get(customer__name="陈宏达")
    assert contact.tail_index and "5678" not in contact.tail_index  # a keyed hash, not the digits

    manager_a = console(company.manager_a)
    body = _listed(manager_a, "5678")
    assert "陈宏达" in body and "徐汇的客户" not in body  # another store's customer stays unseen
    assert "陈宏达" not in _listed(console(company.sales_a_peer), "5678")  # not theirs
    assert "徐汇的客户" in _listed(console(company.executive), "5678")

    entries = Entry.objects.filter(kind=search.SEARCHED, actor_id=company.manager_a.pk)
    assert entries.count() == 1
    payload = json.loads(entries.get().payload)
    assert payload == {"by": "tail", "searched": "****5678", "found": 1}
    _listed(manager_a, "5678")  # the same search again within the minute: no second entry
    assert entries.count() == 1
    _listed(manager_a, "139 1234 5678")
    full = json.loads(Entry.objects.filter(kind=search.SEARCHED).latest("seq").payload)
    assert full["by"] == "phone" and full["searched"] == "139****5678"


def test_removed_number_is_not_found_by_its_tail(company, make_customer):
    customer = make_customer(company.sales_a, name="陈宏达", phone="13912345678")
    contact = customer.contacts.get()
    from custos.customers import services

    services.remove_contact(actor=company.manager_a, customer=customer, contact=contact, reason="号码停用")
    assert not selectors.list_customers(company.manager_a, selectors.Filters(phone_tail="5678")).exists()


def test_name_inside_pinyin_and_initials(company, console, make_customer):
    make_customer(company.sales_a, name="佛山宏达建材有限公司", kind="company")
    make_customer(company.sales_a, name="王丽华")
    client = console(company.manager_a)
    for q in ("宏达", "hongda", "HongDa", "hdjc", "fshd", "宏达建材"):
        assert "佛山宏达建材有限公司" in _listed(client, q), q
    for q in ("丽华", "lihua", "wlh", "王"):
        assert "王丽华" in _listed(client, q), q
    assert "王丽华" not in _listed(client, "丽")  # one character: from the start of a name only
    assert "佛山宏达建材有限公司" not in _listed(client, "宏发")
    assert not Entry.objects.filter(kind=search.SEARCHED).exists()  # a name search is no sensitive read


def test_keys_follow_renames_and_the_migration_fills_old_rows(company, make_customer):
    customer = make_customer(company.sales_a, name="王丽华")
    from custos.customers import services

    services.update_customer(actor=company.sales_a, customer=customer, name="赵宏达")
    customer.refresh_from_db()
    assert customer.search_key == names.search_key("赵宏达") == "赵宏达|zhaohongda|zhd"

    # Rows written before the keys existed: blanked, then filled by the migration's step.
    Customer.objects.filter(pk=customer.pk).update(search_key="")
    CustomerContact.objects.filter(customer=customer).update(tail_index=None)
    call_command("customers", "reindex-search")
    customer.refresh_from_db()
    assert customer.search_key.startswith("赵宏达|")
    assert CustomerContact.objects.get(customer=customer).tail_index is not None
