"""NUL characters in every customer form and filter (PostgreSQL cannot store them), and the list
rules that keep it fast at a million customers: a one-character search matches from the start, the
tag filter, the API's capped count."""

import pytest

from custos.customers import selectors
from custos.customers.models import Customer
from custos.ledger.models import Entry

BAD = "坏\x00字"


@pytest.fixture
def customer(company, make_customer):
    return make_customer(company.sales_a, name="罗美玲")


def test_every_console_form_refuses_nul_clearly(company, console, customer):
    client = console(company.manager_a)
    contact = customer.contacts.get()
    before = Entry.objects.count()
    posts = [
        ("/customers/new/", {"kind": "person", "name": BAD, "grade": "C", "phone": "13911112222"}),
        (f"/customers/{customer.pk}/edit/", {"name": BAD, "grade": "C"}),
        (f"/customers/{customer.pk}/contacts/{contact.pk}/reveal/", {"reason": BAD}),
        ("/customers/export/", {"format": "csv", "q": BAD}),
    ]
    for action, data in [
        ("follow-up", {"kind": "call", "content": BAD}),
        ("contact", {"kind": "phone", "value": "1391111\x002222"}),
        ("remove-contact", {"contact": contact.pk, "reason": BAD}),
        ("purchase", {"product": BAD, "amount": "1"}),
        ("feedback", {"rating": "3", "complaint": BAD}),
        ("transfer", {"owner": company.sales_a_peer.pk, "reason": BAD}),
        ("recycle", {"reason": BAD}),
        ("archive", {"reason": BAD}),
        ("merge", {"duplicate": customer.pk, "reason": BAD}),
    ]:
        posts.append((f"/customers/{customer.pk}/{action}/", data))
    for url, data in posts:
        response = client.post(url, data, HTTP_REFERER="/customers/", follow=True)
        assert response.status_code == 200, (url, response.status_code)
        text = response.content.decode()
        assert "空字符" in text, url  # Django's own "Null characters are not allowed." in Chinese
    assert Entry.objects.count() == before
    fresh = Customer.objects.get(pk=customer.pk)
    assert (fresh.name, fresh.status, fresh.owner_id) == ("罗美玲", "active", company.sales_a.pk)


def test_nul_in_filters_is_dropped(company, console, customer):
    client = console(company.manager_a)
    for params in ({"q": "罗\x00"}, {"tag": "\x00"}, {"grade": "A\x00"}, {"status": "\x00"}):
        response = client.get("/customers/", params)
        assert response.status_code == 200, params
    assert "罗美玲" in client.get("/customers/", {"q": "罗\x00美"}).content.decode()
    assert client.get("/customers/pool/", {"q": "\x00"}).status_code == 200


def test_one_character_matches_from_the_start_two_anywhere(company, make_customer):
    make_customer(company.sales_a, name="王丽华")
    make_customer(company.sales_a, name="李丽华")

    def names(q):
        return sorted(c.name for c in selectors.list_customers(company.admin, selectors.Filters(q=q)))

    assert names("王") == ["王丽华"] and names("王丽") == ["王丽华"]
    assert names("丽") == []  # one character: from the start of the name only
    assert names("丽华") == ["李丽华", "王丽华"]  # two or more: anywhere in the name (issue 23)
    assert names("李丽华") == ["李丽华"]
    make_customer(company.sales_a, name="上海丽华服饰有限公司", kind="company")
    assert names("丽华服") == ["上海丽华服饰有限公司"]  # three or more: anywhere in the name


def test_tag_filter(company, make_customer):
    make_customer(company.sales_a, name="甲", tags=["高端", "老客户"])
    make_customer(company.sales_a, name="乙", tags=["老客户"])
    make_customer(company.sales_b, name="丙", tags=["高端"])

    def names(viewer, tag):
        return sorted(c.name for c in selectors.list_customers(viewer, selectors.Filters(tag=tag)))

    assert names(company.admin, "高端") == ["丙", "甲"]
    assert names(company.manager_a, "高端") == ["甲"]
    assert names(company.admin, "老客户") == ["乙", "甲"]
    assert names(company.admin, "没有这个标签") == []


def test_the_api_count_stops_at_the_cap_past_the_offset(company, api, make_customer, monkeypatch):
    from custos.api import pagination

    for _ in range(6):
        make_customer(company.sales_a)
    client = api(company.manager_a)
    body = client.get("customers", limit=2).json()
    assert (body["count"], body["count_exact"], len(body["items"])) == (6, True, 2)
    monkeypatch.setattr(pagination, "COUNT_CAP", 1)  # less than a page: a page's rows still count
    body = client.get("customers", limit=2).json()
    assert (body["count"], body["count_exact"], len(body["items"])) == (2, False, 2)
    body = client.get("customers", limit=2, offset=2).json()
    assert (body["count"], body["count_exact"], len(body["items"])) == (4, False, 2)
    body = client.get("customers", limit=2, offset=4).json()
    assert (body["count"], body["count_exact"], len(body["items"])) == (6, True, 2)
    body = client.get("customers", limit=2, offset=9).json()  # past the end: the total, exact
    assert (body["count"], body["count_exact"], body["items"]) == (6, True, [])


def test_the_console_pager_counts_ahead_and_still_leads_on(company, console, make_customer, monkeypatch):
    from custos.core import paging

    for _ in range(6):
        make_customer(company.sales_a)
    monkeypatch.setattr(paging, "AHEAD", 2)
    monkeypatch.setattr("custos.customers.views.PAGE_SIZE", 2)
    client = console(company.manager_a)
    first = client.get("/customers/").content.decode()
    assert "超过 3 条" in first and "第 1 页" in first and "page=2" in first
    third = client.get("/customers/", {"page": "3"}).content.decode()
    assert "共 6 条" in third and "第 3 / 3 页" in third and "page=4" not in third


def test_a_salesperson_asking_for_the_pool_in_the_list_gets_none(company, api, make_customer):
    from custos.customers import services

    c = make_customer(company.sales_a)
    services.change_owner(actor=company.sales_a, customer=c, kind="recycle")
    assert api(company.sales_a).get("customers", status="in_pool").json()["count"] == 0
    # the pool itself is where they find it
    assert api(company.sales_a).get("customers/pool").json()["count"] == 1
