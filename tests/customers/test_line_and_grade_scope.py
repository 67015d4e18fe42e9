"""Scope by product line and customer grade (issue 20 item 5), endpoint by endpoint.

In one store: a 童装 customer (grade A), a 女装 customer (grade B) and one of no line (grade A).
The store manager is limited to 童装, the region's manager to grade A. Each sees only their
customers: in every list of the API, and as 404 on every customer route, as a customer of
another store would be.
"""

import pytest

from custos.access.scope import scope_of
from custos.api.root import api as ninja_api
from custos.customers import selectors
from custos.customers.models import Customer
from custos.customers.services import NewContact
from custos.ledger.models import Entry
from custos.ledger.selectors import entries_visible
from custos.org import product_lines
from custos.org.models import ProductLine
from custos.pool.selectors import pool_customers

from .test_authorization_matrix import body_for, call, customer_routes, fill, snapshot

LIMITED = ["manager_a", "region_manager"]


@pytest.fixture
def lines(company, make_customer):
    kids = ProductLine.objects.create(name="童装", code="kids")
    women = ProductLine.objects.create(name="女装", code="women")
    kid = make_customer(
        company.sales_a, name="童装的客户", grade="A", contacts_in=[NewContact("phone", "13800001111")]
    )
    kid.product_lines.add(kids)
    woman = make_customer(
        company.sales_a,
        name="女装的客户",
        grade="B",
        contacts_in=[NewContact("phone", "13900002222"), NewContact("wechat", "nvzhuang_kh")],
    )
    woman.product_lines.add(women)
    bare = make_customer(
        company.sales_a, name="无线的客户", grade="A", contacts_in=[NewContact("phone", "13700003333")]
    )
    product_lines.set_limits(actor=company.admin, employee=company.manager_a, lines=["kids"], grades=[])
    product_lines.set_limits(actor=company.admin, employee=company.region_manager, lines=[], grades=["A"])
    for who in ("manager_a", "region_manager"):
        setattr(company, who, type(getattr(company, who)).objects.get(pk=getattr(company, who).pk))
    return kid, woman, bare


def names(qs):
    return set(qs.values_list("name", flat=True))


def test_scope_carries_the_limits(company, lines):
    kids = ProductLine.objects.get(code="kids")
    assert (
        scope_of(company.manager_a).lines == frozenset({kids.pk})
        and scope_of(company.manager_a).grades is None
    )
    assert (
        scope_of(company.region_manager).grades == frozenset({"A"})
        and scope_of(company.region_manager).lines is None
    )
    assert not scope_of(company.sales_a).limited


def test_each_sees_only_their_lines_and_grades(company, lines):
    assert names(selectors.customers_visible(company.manager_a)) == {"童装的客户"}
    assert names(selectors.customers_visible(company.region_manager)) == {"童装的客户", "无线的客户"}
    assert names(selectors.customers_visible(company.sales_a)) == {"童装的客户", "女装的客户", "无线的客户"}
    assert names(selectors.customers_visible(company.executive)) == {"童装的客户", "女装的客户", "无线的客户"}


def test_a_customer_of_two_lines_is_one_row(company, lines):
    kid, _woman, _bare = lines
    kid.product_lines.add(ProductLine.objects.get(code="women"))
    product_lines.set_limits(
        actor=company.admin, employee=company.manager_a, lines=["kids", "women"], grades=[]
    )
    manager = type(company.manager_a).objects.get(pk=company.manager_a.pk)
    rows = list(selectors.customers_visible(manager).values_list("name", flat=True))
    assert sorted(rows) == ["女装的客户", "童装的客户"]


def test_the_pool_and_the_ledger_follow_the_limits(company, lines):
    from custos.customers import services

    kid, woman, _bare = lines
    services.change_owner(actor=company.sales_a, customer=woman, kind="recycle")
    services.change_owner(actor=company.sales_a, customer=kid, kind="recycle")
    assert names(pool_customers(company.manager_a)) == {"童装的客户"}
    seen = set(
        entries_visible(company.manager_a).exclude(customer_id=None).values_list("customer_id", flat=True)
    )
    assert seen == {kid.pk}
    assert Entry.objects.filter(customer_id=woman.pk).exists()


@pytest.mark.parametrize("method,path", [r for r in customer_routes() if "{customer_id}" in r[1]])
@pytest.mark.parametrize("viewer", LIMITED)
def test_outside_the_limits_a_customer_does_not_exist(company, api, lines, method, path, viewer):
    _kid, woman, _bare = lines
    who = getattr(company, viewer)
    client = api(who)
    before = snapshot(woman)
    body = body_for(path, own_customer_id=lines[0].pk, own_employee_id=company.sales_a.pk)
    response = call(client, method, fill(path, woman), body)
    assert response.status_code == 404, (method, path, response.content)
    text = response.content.decode()
    assert "女装的客户" not in text and "13900002222" not in text and "nvzhuang_kh" not in text
    assert snapshot(woman) == before


def list_routes():
    for path, methods in ninja_api.get_openapi_schema()["paths"].items():
        if "{" not in path and "get" in methods:
            yield path.removeprefix("/api/v1/")


@pytest.mark.parametrize("path", list(list_routes()))
def test_no_list_of_the_api_shows_a_customer_outside_the_limits(company, api, lines, path):
    kid, woman, _bare = lines
    for viewer in LIMITED:
        response = api(getattr(company, viewer)).get(path)
        text = response.content.decode()
        assert response.status_code < 500, (path, response.content)
        assert "女装的客户" not in text and "13900002222" not in text, (viewer, path)


def test_inside_the_limits_the_customer_is_served(company, api, lines):
    kid, _woman, _bare = lines
    client = api(company.manager_a)
    assert client.get(f"customers/{kid.pk}").json()["product_lines"] == ["kids"]
    assert [r["name"] for r in client.get("customers").json()["items"]] == ["童装的客户"]
    assert client.get(f"customers/{kid.pk}/timeline").status_code == 200


def test_new_customers_stay_within_the_creators_limits(company, api, lines):
    r = api(company.manager_a).post(
        "customers", {"name": "新童装客户", "contacts": [{"kind": "phone", "value": "13711112222"}]}
    )
    assert r.status_code == 201, r.content
    assert r.json()["product_lines"] == ["kids"]
    r = api(company.region_manager).post("customers", {"name": "C级客户", "grade": "C"})
    assert r.status_code == 400 and not Customer.objects.filter(name="C级客户").exists()
    kid = lines[0]
    assert api(company.region_manager).patch(f"customers/{kid.pk}", {"grade": "C"}).status_code == 400
    assert Customer.objects.get(pk=kid.pk).grade == "A"


def test_an_administrator_sets_the_limits_and_the_ledger_keeps_it(company, api, lines):
    admin = api(company.admin)
    r = admin.put(f"employees/{company.sales_a.pk}/limits", {"lines": ["women"], "grades": ["b"]})
    assert r.status_code == 200, r.content
    assert r.json() == {"employee_id": company.sales_a.pk, "lines": ["women"], "grades": ["B"]}
    assert Entry.objects.filter(kind="org.scope_limited").count() == 3
    assert [c["name"] for c in api(company.sales_a).get("customers").json()["items"]] == ["女装的客户"]
    assert admin.put(f"employees/{company.sales_a.pk}/limits", {"lines": ["nope"]}).status_code == 400
    assert admin.put(f"employees/{company.sales_a.pk}/limits", {"grades": ["Z"]}).status_code == 400
    # A manager may not widen or narrow anyone's limits, their own least of all.
    r = api(company.manager_a).put(f"employees/{company.manager_a.pk}/limits", {"lines": []})
    assert r.status_code == 403
    assert api(company.manager_a).get(f"employees/{company.manager_a.pk}/limits").json()["lines"] == ["kids"]
    assert {p["code"] for p in api(company.sales_a).get("product-lines").json()} == {"kids", "women"}
    assert admin.post("product-lines", {"name": "男装", "code": "men"}).status_code == 201
    assert admin.post("product-lines", {"name": "男装", "code": "men"}).status_code == 400


def test_a_customers_lines_are_set_by_who_may_edit_them(company, api, lines):
    kid, woman, bare = lines
    r = api(company.sales_a).put(f"customers/{bare.pk}/product-lines", {"lines": ["kids", "women"]})
    assert r.status_code == 200 and r.json()["product_lines"] == ["kids", "women"]
    assert Entry.objects.filter(kind="customer.lines_changed", customer_id=bare.pk).exists()
    # The 童装 manager cannot move a customer out of their own reach.
    r = api(company.manager_a).put(f"customers/{kid.pk}/product-lines", {"lines": ["women"]})
    assert r.status_code == 400
    assert list(Customer.objects.get(pk=kid.pk).product_lines.values_list("code", flat=True)) == ["kids"]


@pytest.mark.django_db
def test_the_demo_has_a_buyer_who_sees_only_their_line():
    from custos.customers import demo, demo_lines
    from custos.org import demo as org_demo
    from custos.org.models import Employee

    org_demo.build(2026)
    demo.build(2026, total=120)
    demo_lines.build(2026)
    buyer = Employee.objects.get(user__username="buyer1")
    region = type(buyer.unit).objects.get(pk=buyer.unit_id)
    seen = selectors.customers_visible(buyer)
    in_region = Customer.objects.filter(unit__path__startswith=region.path)
    assert 0 < seen.count() < in_region.count()
    assert not seen.exclude(product_lines__code="kids").exists()
    assert seen.count() == in_region.filter(product_lines__code="kids").count()
    assert not Customer.objects.filter(product_lines=None).exists()


def test_an_administrator_sets_the_limits_on_the_staff_page(company, console, lines):
    admin = console(company.admin)
    page = admin.get(f"/staff/{company.sales_a.pk}/").content.decode()
    assert 'name="lines" value="kids"' in page and 'name="grades" value="A"' in page
    r = admin.post(f"/staff/{company.sales_a.pk}/limits/", {"lines": ["kids"], "grades": ["A"]})
    assert r.status_code == 302
    assert scope_of(type(company.sales_a).objects.get(pk=company.sales_a.pk)).grades == frozenset({"A"})
    assert names(selectors.customers_visible(type(company.sales_a).objects.get(pk=company.sales_a.pk))) == {
        "童装的客户"
    }
    # A manager sees the staff page but no form to change the limits, and a forged post is refused.
    manager = console(company.manager_a)
    assert 'name="lines"' not in manager.get(f"/staff/{company.sales_a.pk}/").content.decode()
    manager.post(f"/staff/{company.sales_a.pk}/limits/", {"lines": []})
    assert type(company.sales_a).objects.get(pk=company.sales_a.pk).limit_grades == "A"


def test_a_customers_lines_are_set_on_its_page(company, console, lines):
    _kid, _woman, bare = lines
    client = console(company.sales_a)
    page = client.get(f"/customers/{bare.pk}/").content.decode()
    assert 'name="lines" value="kids"' in page
    r = client.post(f"/customers/{bare.pk}/product-lines/", {"lines": ["women"]})
    assert r.status_code == 302
    assert list(Customer.objects.get(pk=bare.pk).product_lines.values_list("code", flat=True)) == ["women"]
    # Out of the 童装 manager's reach now: the page is not found.
    assert console(company.manager_a).get(f"/customers/{bare.pk}/").status_code == 404


def test_the_chain_look_up_does_not_find_a_customer_outside_the_limits(company, api, console, lines):
    """Another store's customers by phone or member card: outside the limits, not found (as an
    unknown number), and their card stays closed; within the limits, found."""
    from custos.customers import chain

    kids, women = ProductLine.objects.get(code="kids"), ProductLine.objects.get(code="women")
    far_kid = customer_services_create(company.sales_b, "徐汇童装客户", "13600004444", kids)
    far_woman = customer_services_create(company.sales_b, "徐汇女装客户", "13600005555", women)
    chain.set_member_no(actor=company.sales_b, customer=far_woman, member_no="NV000001")
    client = api(company.manager_a)
    for body in ({"phone": "13600005555"}, {"member_no": "NV000001"}):
        r = client.post("chain/look-up", body)
        assert r.status_code == 404, (body, r.content)
        assert "徐汇女装客户" not in r.content.decode()
    assert client.get(f"chain/{far_woman.pk}").status_code == 404
    found = client.post("chain/look-up", {"phone": "13600004444"})
    assert found.status_code == 200 and found.json()["customer_id"] == far_kid.pk
    page = console(company.manager_a).post("/customers/chain/", {"phone": "13600005555"}, follow=True)
    assert "徐汇女装客户" not in page.content.decode()
    # The region's manager (grade A only): the grade B customer is not found either.
    assert api(company.region_manager).post("chain/look-up", {"phone": "13600005555"}).status_code == 404
    assert api(company.sales_b).post("chain/look-up", {"phone": "13600005555"}).status_code == 200


def customer_services_create(owner, name, phone, line, grade="B"):
    from custos.customers import services as customer_services

    customer = customer_services.create_customer(
        actor=owner, name=name, owner=owner, grade=grade, contacts_in=[NewContact("phone", phone)]
    )
    customer.product_lines.add(line)
    return customer


def _sheet(rows):
    import csv
    import io

    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    return buffer.getvalue().encode("utf-8-sig")


def test_customers_imported_by_a_line_limited_manager_get_their_lines(company, lines, tmp_path):
    """The command line: a sheet naming no lines gives the importer's own (as a single create does)."""
    import io

    from django.core.management import call_command

    path = tmp_path / "a.csv"
    path.write_bytes(_sheet([["客户姓名", "手机"], ["导入的客户", "13500001111"], ["导入的客户二", "13500002222"]]))
    call_command("customers", "import", str(path), "--as", company.manager_a.user.username, stdout=io.StringIO())
    for name in ("导入的客户", "导入的客户二"):
        assert list(Customer.objects.get(name=name).product_lines.values_list("code", flat=True)) == ["kids"]
    assert names(selectors.customers_visible(company.manager_a)) >= {"导入的客户", "导入的客户二"}
    # An importer with no line limit gives none.
    path.write_bytes(_sheet([["客户姓名", "手机"], ["无限的客户", "13500003333"]]))
    call_command("customers", "import", str(path), "--as", company.executive.user.username, stdout=io.StringIO())
    assert not Customer.objects.get(name="无限的客户").product_lines.exists()


def test_an_import_names_lines_per_row_within_the_importers_limits(company, api, lines):
    from custos.customers import imports

    header = ["客户姓名", "手机", "产品线"]
    bad = [header, ["童装女装", "13500004444", "童装、women"], ["只有女装", "13500005555", "女装"], ["乱写", "13500006666", "家电"]]
    job = imports.upload(company.manager_a, "lines.csv", _sheet(bad))
    job = imports.check(company.manager_a, job.pk, {})
    errors = {e["row"]: e["message"] for e in job.report["errors"]}
    assert set(errors) == {3, 4}, job.report
    assert "童装" in errors[3] and "家电" in errors[4]
    assert not Customer.objects.filter(name__in=["童装女装", "只有女装", "乱写"]).exists()
    # Over the API: a clean sheet imports, each row with the lines it names.
    client = api(company.manager_a)
    from django.core.files.uploadedfile import SimpleUploadedFile

    good = _sheet([header, ["童装女装", "13500004444", "童装、women"], ["默认的", "13500007777", ""]])
    up = client.client.post("/api/v1/customers/imports", {"file": SimpleUploadedFile("good.csv", good)})
    assert up.status_code in (200, 201, 202), up.content
    job_id = up.json()["id"]
    assert client.post(f"customers/imports/{job_id}/check", {"mapping": {}}).status_code in (200, 202)
    run = client.post(f"customers/imports/{job_id}/run")
    assert run.status_code in (200, 202), run.content
    assert sorted(Customer.objects.get(name="童装女装").product_lines.values_list("code", flat=True)) == ["kids", "women"]
    assert list(Customer.objects.get(name="默认的").product_lines.values_list("code", flat=True)) == ["kids"]
