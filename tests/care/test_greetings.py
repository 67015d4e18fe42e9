from datetime import date, timedelta

from django.utils import timezone

from custos.care import greetings
from custos.customers.models import Customer


def _born(today, days_ahead, year=1985):
    d = today + timedelta(days=days_ahead)
    return date(year, d.month, d.day if not (d.month == 2 and d.day == 29) else 28).isoformat()


def test_birthdays_spouses_anniversaries_and_holidays_of_the_week(company, make_customer, api):
    today = timezone.localdate()
    today_born = make_customer(company.sales_a, name="今天生日", profile={"birthday": _born(today, 0)})
    make_customer(company.sales_a, name="下周外", profile={"birthday": _born(today, 10)})
    spouse = make_customer(
        company.sales_a, name="配偶生日", profile={"family": {"spouse": {"birthday": _born(today, 3, 1990)}}}
    )
    old = make_customer(company.sales_a, name="老客户")
    Customer.objects.filter(pk=old.pk).update(
        created_at=timezone.now().replace(year=today.year - 3) + timedelta(days=2)
    )
    make_customer(company.sales_b, name="别人的", profile={"birthday": _born(today, 1)})
    greetings.add_holiday(actor=company.executive, name="元旦", day=today + timedelta(days=4))
    greetings.add_template(
        actor=company.manager_a, occasion="birthday", title="生日", text="{name}，生日快乐！"
    )
    greetings.add_template(
        actor=company.manager_a, occasion="anniversary", title="周年", text="感谢{name}{years}年来的支持"
    )

    rows = api(company.sales_a).get("care/greetings").json()
    by_name = {r["customer_name"]: r for r in rows}
    assert set(by_name) == {"今天生日", "配偶生日", "老客户", None}
    assert (
        by_name["今天生日"]["day"] == today.isoformat()
        and by_name["今天生日"]["text"] == "今天生日，生日快乐！"
    )
    assert by_name["配偶生日"]["kind"] == "spouse_birthday"
    assert by_name["老客户"]["years"] == 3 and by_name["老客户"]["text"] == "感谢老客户3年来的支持"
    assert by_name[None]["label"] == "元旦"
    assert (
        today_born.pk == by_name["今天生日"]["customer_id"]
        and spouse.pk == by_name["配偶生日"]["customer_id"]
    )


def test_templates_are_for_managers_and_the_page_lists_today(company, make_customer, api, console):
    today = timezone.localdate()
    make_customer(company.sales_a, name="寿星", profile={"birthday": _born(today, 0)})
    assert (
        api(company.sales_a)
        .post("care/greeting-templates", {"occasion": "birthday", "title": "x", "text": "y"})
        .status_code
        == 403
    )
    assert (
        api(company.manager_a).post("care/holidays", {"name": "春节", "day": "2027-02-06"}).status_code == 403
    )
    html = console(company.sales_a).get("/care/greetings/").content.decode()
    assert "寿星" in html.split('id="today-greetings"')[1].split("</table>")[0]
