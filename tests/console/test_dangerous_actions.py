"""Issue 23, item 5: removing a phone number is a manager's act with a reason; a duplicate number
names the customer who holds it when the person may see them, else only the unit."""

import pytest

from custos.core.errors import Conflict, Forbidden, InvalidInput
from custos.customers import services
from custos.customers.services import NewContact


def test_a_salesperson_cannot_remove_a_phone(company, console, make_customer):
    customer = make_customer(company.sales_a, name="陈宏达", phone="13912345678")
    contact = customer.contacts.get()
    with pytest.raises(Forbidden):
        services.remove_contact(actor=company.sales_a, customer=customer, contact=contact, reason="换号")
    page = console(company.sales_a).get(f"/customers/{customer.pk}/").content.decode()
    assert "remove-contact" not in page  # no button they cannot use
    response = console(company.sales_a).post(
        f"/customers/{customer.pk}/remove-contact/", {"contact": contact.pk, "reason": "换号"}
    )
    assert response.status_code == 302
    contact.refresh_from_db()
    assert not contact.removed


def test_a_manager_removes_with_a_reason_and_a_confirmation(company, console, make_customer):
    customer = make_customer(company.sales_a, name="陈宏达", phone="13912345678")
    contact = customer.contacts.get()
    with pytest.raises(InvalidInput):
        services.remove_contact(actor=company.manager_a, customer=customer, contact=contact, reason="  ")
    client = console(company.manager_a)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert 'onsubmit="return confirm(this.dataset.confirm)"' in page and 'name="reason" required' in page
    client.post(f"/customers/{customer.pk}/remove-contact/", {"contact": contact.pk, "reason": "空号"})
    contact.refresh_from_db()
    assert contact.removed


def test_a_salesperson_still_removes_a_wrong_wechat_id_with_a_reason(company, make_customer):
    customer = make_customer(company.sales_a, contacts_in=[NewContact("wechat", "wrong_id_1")])
    contact = customer.contacts.get()
    services.remove_contact(actor=company.sales_a, customer=customer, contact=contact, reason="填错了")
    contact.refresh_from_db()
    assert contact.removed


def test_duplicate_phone_names_the_customer_in_scope_else_the_unit(company, make_customer):
    make_customer(company.sales_a, name="陈宏达", phone="13912345678")
    with pytest.raises(Conflict) as seen:
        make_customer(company.sales_a_peer, actor=company.manager_a, name="另一个", phone="139 1234 5678")
    assert "陈宏达" in seen.value.message and "天河店" in seen.value.message
    with pytest.raises(Conflict) as unseen:
        make_customer(company.sales_b, name="徐汇客户", phone="13912345678")
    assert "陈宏达" not in unseen.value.message and "天河店" in unseen.value.message
