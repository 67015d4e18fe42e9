"""The customer pages of the console, through the login form and Django's test client."""

from datetime import timedelta

from django.utils import timezone

from custos.customers import activity, services
from custos.customers.models import Customer, FollowUp
from custos.customers.services import NewContact
from custos.ledger.models import Entry


def test_the_nav_links_to_customers(company, console):
    page = console(company.sales_a).get("/").content.decode()
    assert 'href="/customers/"' in page and "客户" in page


def test_the_list_is_scoped_searchable_and_htmx_aware(company, console, make_customer):
    make_customer(company.sales_a, name="林小姐", grade="A", tags=["老客户"])
    make_customer(company.sales_a_peer, name="黄先生", grade="D")
    make_customer(company.sales_b, name="上海的赵总")
    client = console(company.manager_a)
    page = client.get("/customers/").content.decode()
    assert "林小姐" in page and "黄先生" in page and "上海的赵总" not in page
    assert "138****" in page  # masked phones only
    rows = client.get("/customers/?grade=A", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in rows and "林小姐" in rows and "黄先生" not in rows
    assert "林小姐" in client.get("/customers/?q=林").content.decode()
    assert "黄先生" not in client.get("/customers/?tag=老客户").content.decode()
    assert client.get(f"/customers/?unit={company.store_b.pk}").status_code == 404
    own = console(company.sales_a).get("/customers/").content.decode()
    assert "林小姐" in own and "黄先生" not in own


def test_due_filter_and_pagination_keep_the_filters(company, console, make_customer):
    for n in range(27):
        c = make_customer(company.sales_a, name=f"客户{n:02d}")
        services.update_customer(actor=company.sales_a, customer=c, next_follow_up_on=timezone.localdate())
    make_customer(company.sales_a, name="不急的客户")
    client = console(company.sales_a)
    page = client.get("/customers/?due=1").content.decode()
    assert "不急的客户" not in page and "27" in page and "due=1&page=2" in page


def test_creating_a_customer_from_the_console(company, console):
    client = console(company.sales_a)
    form = client.get("/customers/new/").content.decode()
    assert 'name="phone"' in form and 'name="owner"' not in form  # a salesperson creates for themself
    response = client.post(
        "/customers/new/",
        {
            "kind": "person",
            "name": "郑女士",
            "grade": "B",
            "source": "进店",
            "tags": "新客，高端",
            "phone": "139 8888 7777",
            "wechat": "",
            "address": "",
        },
    )
    assert response.status_code == 302
    customer = Customer.objects.get(name="郑女士")
    assert customer.owner == company.sales_a and sorted(customer.tags.values_list("name", flat=True)) == [
        "新客",
        "高端",
    ]
    duplicate = client.post(
        "/customers/new/", {"kind": "person", "name": "又一个", "grade": "C", "phone": "13988887777"}
    )
    assert duplicate.status_code == 200 and "天河店" in duplicate.content.decode()
    bad = client.post(
        "/customers/new/", {"kind": "person", "name": "x", "grade": "C", "phone": "123"}
    ).content.decode()
    assert "123" in bad and Customer.objects.count() == 1


def test_a_manager_creates_for_a_salesperson(company, console):
    client = console(company.manager_a)
    assert company.sales_b.name not in client.get("/customers/new/").content.decode()
    client.post(
        "/customers/new/",
        {"kind": "company", "name": "天河贸易公司", "grade": "A", "owner": company.sales_a_peer.pk},
    )
    assert Customer.objects.get(name="天河贸易公司").owner == company.sales_a_peer


def test_the_customer_page_shows_the_file_masked_contacts_and_timeline(company, console, make_customer):
    customer = make_customer(
        company.sales_a,
        name="许丽",
        contacts_in=[
            NewContact("phone", "13912345678", "本人"),
            NewContact("address", "广州市天河区天河北路233号"),
        ],
        profile={
            "birthday": "1988-09-09",
            "preferences": {"sizes": "M", "styles": ["通勤"]},
            "family": {
                "children": [{"name": "乐乐", "school": "体育东路小学"}],
                "elders": [{"relation": "婆婆", "likes": "听粤剧"}],
            },
        },
    )
    activity.add_follow_up(
        actor=company.sales_a, customer=customer, kind="visit", content="试穿了三件", outcome="买了一件"
    )
    page = console(company.sales_a).get(f"/customers/{customer.pk}/").content.decode()
    assert "许丽" in page and "139****5678" in page and "广州市天河区****" in page
    assert "13912345678" not in page and "天河北路233号" not in page
    assert "体育东路小学" in page and "听粤剧" in page and "试穿了三件" in page
    assert "查看" in page or "Reveal" in page  # the owner may reveal
    assert 'name="reason"' in page


def test_revealing_from_the_console_needs_a_reason_and_is_recorded(company, console, make_customer):
    customer = make_customer(company.sales_a, phone="13912345678")
    contact = customer.contacts.get()
    client = console(company.manager_a)
    url = f"/customers/{customer.pk}/contacts/{contact.pk}/reveal/"
    detail = f"/customers/{customer.pk}/"
    refused = client.post(url, {"reason": " "}, HTTP_REFERER=detail, follow=True)
    assert (
        refused.redirect_chain[-1][0] == detail and not Entry.objects.filter(kind="access.revealed").exists()
    )
    shown = client.post(url, {"reason": "客户来电核实"})
    assert shown.status_code == 200 and "+8613912345678" in shown.content.decode()
    assert "no-cache" in shown["Cache-Control"] or "no-store" in shown["Cache-Control"]
    fragment = client.post(url, {"reason": "再看一次"}, HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in fragment and "+8613912345678" in fragment
    assert Entry.objects.filter(kind="access.revealed", actor_id=company.manager_a.pk).count() == 2
    assert client.get(url).status_code == 405  # never by GET: it must not land in a history or a log


def test_another_stores_manager_gets_404_everywhere(company, console, make_customer):
    customer = make_customer(company.sales_a)
    contact = customer.contacts.get()
    client = console(company.manager_b)
    assert client.get(f"/customers/{customer.pk}/").status_code == 404
    assert client.get(f"/customers/{customer.pk}/edit/").status_code == 404
    assert (
        client.post(f"/customers/{customer.pk}/contacts/{contact.pk}/reveal/", {"reason": "x"}).status_code
        == 404
    )
    for action, data in [
        ("archive", {"reason": "x"}),
        ("follow-up", {"kind": "call", "content": "x"}),
        ("transfer", {"owner": company.sales_b.pk}),
    ]:
        assert client.post(f"/customers/{customer.pk}/{action}/", data).status_code == 404
    assert Customer.objects.get(pk=customer.pk).status == "active"
    assert not Entry.objects.filter(kind="access.revealed").exists()


def test_follow_up_purchase_feedback_and_contact_forms(company, console, make_customer):
    customer = make_customer(company.sales_a)
    client = console(company.sales_a)
    base = f"/customers/{customer.pk}"
    due = (timezone.localdate() + timedelta(days=7)).isoformat()
    r = client.post(
        f"{base}/follow-up/",
        {"kind": "call", "content": "电话回访，满意", "outcome": "下周到店", "next_follow_up_on": due},
        follow=True,
    )
    assert "电话回访，满意" in r.content.decode()
    customer.refresh_from_db()
    assert customer.next_follow_up_on.isoformat() == due and FollowUp.objects.count() == 1
    client.post(f"{base}/purchase/", {"product": "羊毛衫", "amount": "399"})
    client.post(f"{base}/feedback/", {"rating": "5", "complaint": "很满意"})
    client.post(f"{base}/contact/", {"kind": "wechat", "value": "xu_li_88", "label": "微信"})
    page = client.get(f"{base}/").content.decode()
    assert "羊毛衫" in page and "很满意" in page and "xu****88" in page
    bad = client.post(
        f"{base}/follow-up/", {"kind": "call", "content": ""}, HTTP_REFERER=f"{base}/", follow=True
    )
    assert bad.redirect_chain[-1][0] == f"{base}/" and FollowUp.objects.count() == 1


def test_editing_the_file_keeps_what_the_form_does_not_show(company, console, make_customer):
    customer = make_customer(
        company.sales_a,
        profile={
            "preferences": {"brands": ["例外"], "sizes": "S"},
            "family": {"spouse": {"name": "老周", "birthday": "1985-01-01"}},
        },
    )
    client = console(company.sales_a)
    form = client.get(f"/customers/{customer.pk}/edit/").content.decode()
    assert "老周" in form
    response = client.post(
        f"/customers/{customer.pk}/edit/",
        {
            "name": "许丽",
            "grade": "A",
            "tags": "",
            "birthday": "1988-09-09",
            "sizes": "M",
            "styles": "通勤, 简约",
            "spouse": "老周，医生",
            "children": "乐乐，2016，体育东路小学\n小米，2019",
            "elders": "婆婆，70，听粤剧",
            "notes": "喜欢周末来",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    customer.refresh_from_db()
    p = customer.profile
    assert p["preferences"] == {"brands": ["例外"], "sizes": "M", "styles": ["通勤", "简约"]}
    assert p["family"]["spouse"] == {"name": "老周", "birthday": "1985-01-01", "occupation": "医生"}
    assert p["family"]["children"][1] == {"name": "小米", "birth_year": 2019}
    assert p["family"]["elders"] == [{"relation": "婆婆", "age": 70, "likes": "听粤剧"}]
    assert customer.name == "许丽" and customer.grade == "A"


def test_editing_a_company_file(company, console, make_customer):
    customer = make_customer(company.sales_a, name="美家建材", kind="company")
    response = console(company.sales_a).post(
        f"/customers/{customer.pk}/edit/",
        {
            "name": "美家建材",
            "grade": "B",
            "industry": "建材批发",
            "boss_name": "陈总",
            "boss_hobbies": "钓鱼",
            "terms": "月结",
            "payment_days": "60",
            "key_staff": "刘会计，财务\n小周，采购，管订货",
        },
    )
    assert response.status_code == 302
    customer.refresh_from_db()
    assert customer.profile["boss"] == {"name": "陈总", "hobbies": "钓鱼"}
    assert customer.profile["key_staff"][1] == {"name": "小周", "title": "采购", "notes": "管订货"}
    page = console(company.manager_a).get(f"/customers/{customer.pk}/").content.decode()
    assert "陈总" in page and "建材批发" in page and "刘会计" in page


def test_managers_transfer_archive_and_merge_from_the_page(company, console, make_customer):
    customer = make_customer(company.sales_a, name="甲")
    duplicate = make_customer(company.sales_a, name="甲（重复）")
    client = console(company.manager_a)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert company.sales_a_peer.name in page and company.sales_b.name not in page
    client.post(f"/customers/{customer.pk}/transfer/", {"owner": company.sales_a_peer.pk, "reason": "分担"})
    assert Customer.objects.get(pk=customer.pk).owner == company.sales_a_peer
    client.post(f"/customers/{customer.pk}/merge/", {"duplicate": duplicate.pk, "reason": "同一人"})
    assert Customer.objects.get(pk=duplicate.pk).merged_into_id == customer.pk
    client.post(f"/customers/{customer.pk}/archive/", {"reason": "停止合作"})
    assert Customer.objects.get(pk=customer.pk).status == "archived"
    timeline = client.get(f"/customers/{customer.pk}/").content.decode()
    assert "停止合作" in timeline and company.sales_a_peer.name in timeline


def test_a_salesperson_cannot_manage_but_can_recycle_and_claim(company, console, make_customer):
    customer = make_customer(company.sales_a)
    client = console(company.sales_a)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert "/archive/" not in page and "/merge/" not in page and "/transfer/" not in page
    client.post(
        f"/customers/{customer.pk}/archive/", {"reason": "x"}, HTTP_REFERER=f"/customers/{customer.pk}/"
    )
    assert Customer.objects.get(pk=customer.pk).status == "active"
    response = client.post(f"/customers/{customer.pk}/recycle/", {"reason": "没空跟进"})
    assert response.status_code == 302 and response["Location"] == "/customers/"
    peer = console(company.sales_a_peer)
    assert customer.name in peer.get("/customers/pool/").content.decode()
    peer.post(f"/customers/{customer.pk}/claim/")
    assert Customer.objects.get(pk=customer.pk).owner == company.sales_a_peer


def test_auditor_reads_but_changes_nothing(company, console, make_customer):
    customer = make_customer(company.sales_b)
    client = console(company.auditor)
    page = client.get(f"/customers/{customer.pk}/").content.decode()
    assert customer.name in page and "/follow-up/" not in page and 'name="reason"' not in page
    assert "/customers/new/" not in client.get("/customers/").content.decode()
    client.post(f"/customers/{customer.pk}/follow-up/", {"kind": "call", "content": "x"})
    assert not FollowUp.objects.exists()


def test_completeness_page(company, console, make_customer):
    make_customer(company.sales_a, profile={"birthday": "1990-01-01"})
    make_customer(company.sales_b)
    page = console(company.manager_a).get("/customers/completeness/").content.decode()
    assert company.sales_a.name in page and company.sales_b.name not in page and "25%" in page


def test_pages_fit_a_phone(company, console, make_customer):
    """The layout rules that make the pages usable 390px wide are in place (a browser test checks them live)."""
    from pathlib import Path

    import custos

    css = (Path(custos.__file__).parent / "console/static/console/custos.css").read_text()
    assert any(".customer-grid { grid-template-columns: 1fr; }" in block for block in css.split("@media (max-width: 640px)")[1:])
    customer = make_customer(company.sales_a)
    page = console(company.sales_a).get(f"/customers/{customer.pk}/").content.decode()
    assert (
        'name="viewport" content="width=device-width' in page
        and "data-label=" in console(company.sales_a).get("/customers/").content.decode()
    )


def test_exporting_the_filtered_list_from_the_console(company, console, make_customer):
    make_customer(company.sales_a, name="甲", grade="A")
    make_customer(company.sales_a, name="乙", grade="D")
    client = console(company.manager_a)
    page = client.get("/customers/?grade=A").content.decode()
    assert 'action="/customers/export/"' in page and 'name="grade" value="A"' in page
    response = client.post("/customers/export/", {"grade": "A", "format": "csv"})
    body = response.content.decode("utf-8-sig")
    assert response.status_code == 200 and "甲" in body and "乙" not in body
    sales = console(company.sales_a)
    assert 'action="/customers/export/"' not in sales.get("/customers/").content.decode()
    refused = sales.post("/customers/export/", {"format": "csv"}, HTTP_REFERER="/customers/", follow=True)
    assert refused.redirect_chain[-1][0] == "/customers/"
    from custos.ledger.models import Entry

    assert Entry.objects.filter(kind="customer.exported").count() == 1


def test_a_refused_reveal_in_place_keeps_the_page(company, console, make_customer, settings):
    settings.CUSTOS_REVEAL_LIMIT_PER_HOUR = 0
    customer = make_customer(company.sales_a, phone="13912345678")
    contact = customer.contacts.get()
    fragment = console(company.sales_a).post(
        f"/customers/{customer.pk}/contacts/{contact.pk}/reveal/",
        {"reason": "打电话"},
        HTTP_HX_REQUEST="true",
    )
    text = fragment.content.decode()
    assert (
        fragment.status_code == 200
        and "<html" not in text
        and "139****5678" in text
        and 'role="alert"' in text
    )
    assert "13912345678" not in text
