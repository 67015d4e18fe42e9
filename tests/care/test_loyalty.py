from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from custos.care import loyalty
from custos.care.models import LoyaltyAccount, PointsEntry
from custos.customers.models import Purchase
from custos.ledger.models import Entry


def _levels(company):
    loyalty.set_level(
        actor=company.executive,
        code="silver",
        name="银卡",
        rank=1,
        min_spend=1000,
        min_purchases=2,
        benefits="9.5折",
    )
    loyalty.set_level(
        actor=company.executive,
        code="gold",
        name="金卡",
        rank=2,
        min_spend=5000,
        min_purchases=4,
        benefits="9折，生日礼",
    )


def _buy(c, amount, days_ago=1):
    return Purchase.objects.create(
        customer=c,
        product="大衣",
        amount=Decimal(amount),
        purchased_on=timezone.localdate() - timedelta(days=days_ago),
    )


def test_levels_need_spend_and_frequency_and_points_are_earned_once(company, make_customer):
    _levels(company)
    big_once = make_customer(company.sales_a, name="一次大单")
    regular = make_customer(company.sales_a, name="常客")
    _buy(big_once, 9000)
    for _ in range(4):
        _buy(regular, 1300)
    assert loyalty.earn_for_purchases() == 5
    assert loyalty.earn_for_purchases() == 0
    big, reg = LoyaltyAccount.objects.get(customer=big_once), LoyaltyAccount.objects.get(customer=regular)
    assert (big.balance, big.level) == (9000, None)  # spend alone is not a level: one purchase
    assert (reg.balance, reg.level.code) == (5200, "gold")
    assert Entry.objects.filter(kind="loyalty.points_earned").count() == 5
    assert Entry.objects.filter(kind="loyalty.level_changed", customer_id=regular.pk).count() == 1


def test_spending_takes_the_oldest_points_and_the_rest_expire(company, make_customer, api):
    loyalty.set_program(
        actor=company.executive, points_per_yuan=Decimal("0.5"), expiry_days=30, window_days=365
    )
    c = make_customer(company.sales_a)
    _buy(c, 200, days_ago=40)  # 100 points, expired 10 days ago
    _buy(c, 600, days_ago=20)  # 300 points, good for 10 more days
    loyalty.earn_for_purchases()
    assert LoyaltyAccount.objects.get(customer=c).balance == 400
    spent = api(company.service_a).post(
        f"care/customers/{c.pk}/points/redeem", {"points": 150, "reward": "保养券"}
    )
    assert spent.status_code == 201, spent.content
    lots = PointsEntry.objects.filter(customer=c, kind="earned").order_by("expires_on")
    assert [lot.remaining for lot in lots] == [0, 250]
    assert loyalty.expire() == 0  # the old lot was used up first
    assert (
        api(company.sales_a)
        .post(f"care/customers/{c.pk}/points/redeem", {"points": 999, "reward": "x"})
        .status_code
        == 409
    )
    assert (
        api(company.sales_b)
        .post(f"care/customers/{c.pk}/points/redeem", {"points": 1, "reward": "x"})
        .status_code
        == 404
    )
    assert loyalty.expire(today=timezone.localdate() + timedelta(days=11)) == 1
    assert LoyaltyAccount.objects.get(customer=c).balance == 0
    shown = api(company.sales_a).get(f"care/customers/{c.pk}/loyalty").json()
    assert [h["kind"] for h in shown["history"]][:2] == ["expired", "spent"] and shown["balance"] == 0


def test_only_executives_set_the_programme(company, api):
    body = {"name": "银卡", "rank": 1, "min_spend": "1000", "min_purchases": 2}
    assert api(company.manager_a).put("care/loyalty/levels/silver", body).status_code == 403
    assert api(company.executive).put("care/loyalty/levels/silver", body).status_code == 200
    assert api(company.executive).put("care/loyalty/levels/other", body).status_code == 409
    assert [lv["code"] for lv in api(company.sales_a).get("care/loyalty/levels").json()] == ["silver"]


def test_the_customer_page_shows_level_points_and_lines(company, make_customer, console):
    _levels(company)
    c = make_customer(company.sales_a, name="会员客户")
    for _ in range(2):
        _buy(c, 800)
    loyalty.earn_for_purchases()
    html = console(company.sales_a).get(f"/customers/{c.pk}/").content.decode()
    panel = html.split('id="care-panel"')[1].split("</section>")[0]
    assert "银卡" in panel and "1600" in panel and company.sales_a.name in panel
    console(company.sales_a).post(f"/care/customers/{c.pk}/redeem/", {"points": "100", "reward": "围巾"})
    assert LoyaltyAccount.objects.get(customer=c).balance == 1500


def test_the_levels_page_and_an_upload_with_a_dry_run(company, make_customer, console):
    from django.core.files.uploadedfile import SimpleUploadedFile

    _levels(company)
    c = make_customer(company.sales_a, name="导入会员")
    manager = console(company.manager_a)
    sheet = f"客户编号,积分,会员等级\n{c.pk},777,银卡\n".encode()
    # The upload is the dry run (the worker checks every row); importing is the job page's button.
    page = manager.post("/care/loyalty/", {"file": SimpleUploadedFile("pos.csv", sheet)}, follow=True)
    assert page.status_code == 200 and not LoyaltyAccount.objects.exists()
    assert 'data-count="would_create">1<' in page.content.decode()
    manager.post(page.redirect_chain[-1][0])
    html = manager.get("/care/loyalty/").content.decode()
    assert "导入会员" in html.split('id="members"')[1] and "777" in html
    assert 'id="import"' not in console(company.sales_a).get("/care/loyalty/").content.decode()
