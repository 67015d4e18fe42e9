from django.test import Client

from custos.org.models import Employee


def test_console_speaks_chinese_first_even_to_an_english_browser(company):
    page = Client(HTTP_ACCEPT_LANGUAGE="en-US,en;q=0.9").get("/login/")
    assert "登录" in page.content.decode() and page["Content-Language"] == "zh-hans"


def test_english_is_one_switch_away(company, console):
    client = console(company.manager_a)
    response = client.post("/i18n/setlang/", {"language": "en", "next": "/staff/"})
    assert response.status_code == 302
    page = client.get("/staff/").content.decode()
    assert "Staff" in page and "Add staff" in page


def test_home_shows_counts_in_scope(company, console):
    page = console(company.manager_a).get("/").content.decode()
    assert "天河店" in page and "徐汇店" not in page
    page = console(company.executive).get("/").content.decode()
    assert "徐汇店" in page and "你可以查看全公司" in page


def test_staff_list_is_scoped_and_filterable(company, console):
    client = console(company.region_manager)
    page = client.get("/staff/").content.decode()
    assert company.sales_a.name in page and company.sales_a2.name in page and company.sales_b.name not in page
    only_a2 = client.get(f"/staff/?unit={company.store_a2.pk}").content.decode()
    assert company.sales_a2.name in only_a2 and company.sales_a.name not in only_a2
    rows = client.get("/staff/?role=manager", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in rows and company.manager_a.name in rows and company.sales_a.name not in rows
    assert client.get(f"/staff/?unit={company.store_b.pk}").status_code == 404


def test_staff_outside_scope_is_not_found(company, console):
    client = console(company.manager_a)
    assert client.get(f"/staff/{company.sales_b.pk}/").status_code == 404
    assert client.post(f"/staff/{company.sales_b.pk}/freeze/", {"reason": "x"}).status_code == 404
    assert Employee.objects.get(pk=company.sales_b.pk).frozen_at is None


def test_manager_freezes_and_moves_staff_from_the_console(company, console):
    client = console(company.region_manager)
    page = client.get(f"/staff/{company.sales_a.pk}/").content.decode()
    assert "立即冻结" in page
    response = client.post(f"/staff/{company.sales_a.pk}/freeze/", {"reason": "涉嫌私单"}, follow=True)
    assert "已冻结" in response.content.decode()
    client.post(f"/staff/{company.sales_a_peer.pk}/move/", {"unit": company.store_a2.pk, "reason": "支援"})
    assert Employee.objects.get(pk=company.sales_a_peer.pk).unit_id == company.store_a2.pk
    page = client.get(f"/staff/{company.sales_a_peer.pk}/").content.decode()
    assert "支援" in page and "祖庙店" in page


def test_console_errors_are_messages_not_crashes(company, console):
    client = console(company.manager_a)
    detail = f"/staff/{company.sales_a.pk}/"
    response = client.post(f"{detail}status/", {"status": "resigning", "last_day": "not-a-date"}, HTTP_REFERER=detail, follow=True)
    assert response.redirect_chain[-1][0] == detail
    assert "有效的日期" in response.content.decode()
    response = client.post(f"{detail}role/", {"role": "admin"}, HTTP_REFERER=detail, follow=True)
    assert "只能授予低于自己级别的角色" in response.content.decode()
    assert Employee.objects.get(pk=company.sales_a.pk).role == "sales"


def test_auditor_sees_everything_and_can_change_nothing(company, console):
    client = console(company.auditor)
    page = client.get(f"/staff/{company.sales_b.pk}/").content.decode()
    assert company.sales_b.name in page and "立即冻结" not in page
    response = client.post(f"/staff/{company.sales_b.pk}/freeze/", {"reason": "x"}, HTTP_REFERER="https://evil.example/", follow=True)
    assert response.redirect_chain[-1][0] == "/"
    assert "审计员只有只读权限" in response.content.decode()
    assert Employee.objects.get(pk=company.sales_b.pk).frozen_at is None
    assert "添加员工" not in client.get("/staff/").content.decode()


def test_creating_staff_from_the_console(company, console):
    client = console(company.manager_a)
    form = client.get("/staff/new/").content.decode()
    assert 'value="manager"' not in form  # cannot grant own rank
    response = client.post(
        "/staff/new/",
        {"name": "周晓", "username": "zhouxiao", "password": "a-long-password", "unit": company.store_a.pk, "role": "sales"},
    )
    assert response.status_code == 302
    assert Employee.objects.get(user__username="zhouxiao").unit == company.store_a


def test_personal_token_is_shown_once(company, console):
    client = console(company.sales_a)
    client.post("/security/tokens/", {"name": "我的脚本", "days": 30})
    first = client.get("/security/").content.decode()
    assert 'id="new-token"' in first
    assert 'id="new-token"' not in client.get("/security/").content.decode()


def test_home_leads_a_manager_to_alerts_and_departures_in_scope(company, console):
    import re
    from datetime import date, timedelta

    from custos.handover import services as handover
    from custos.ledger.services import append_batch
    from tests.alerts.conftest import message_event

    append_batch([message_event(company.sales_b, "我们私下交易，别走公司")])  # another store's salesperson
    handover.open_case(actor=company.manager_a, employee=company.sales_a, last_day=date.today() + timedelta(days=7), reason="个人原因")

    def card(page, id_):
        return int(re.search(rf'id="{id_}"><b>(\d+)</b>', page).group(1))

    mine = console(company.manager_a).get("/").content.decode()
    assert card(mine, "home-alerts") == 0 and card(mine, "home-departures") == 1
    theirs = console(company.manager_b).get("/").content.decode()
    assert card(theirs, "home-alerts") == 1 and card(theirs, "home-departures") == 0
    assert 'id="home-alerts"' not in console(company.sales_a).get("/").content.decode()
