"""The dashboards, API, CSV, PDF and weekly push: the viewer's scope only, in Chinese."""

import pytest

from custos.alerts import services as alert_services
from custos.alerts.models import Delivery
from custos.insights import charts, report, rollup, selectors
from custos.insights.models import CustomerScore
from custos.ledger.models import Entry

from . import pdfread

pytestmark = pytest.mark.django_db


def test_before_any_rollup_the_page_says_so(company, console):
    page = console(company.executive).get("/insights/company/")
    assert page.status_code == 200
    assert 'id="no-rollup"' in page.content.decode()


def test_each_role_lands_on_its_dashboard(shop, console):
    rollup.build()
    assert console(shop.executive).get("/insights/")["Location"].endswith("/insights/company/")
    assert console(shop.manager_a).get("/insights/")["Location"].endswith("/insights/team/")
    assert console(shop.sales_a).get("/insights/")["Location"].endswith("/insights/mine/")


def test_api_risk_list_is_scoped(shop, api):
    rollup.build()
    rows = api(shop.sales_a).get("insights/risk", limit=500).json()["rows"]
    assert rows and {r["owner_id"] for r in rows} == {shop.sales_a.pk}
    assert all(r["reasons"] and r["score"] == min(100, sum(x["points"] for x in r["reasons"])) for r in rows)
    rows_b = api(shop.manager_b).get("insights/risk", limit=500).json()["rows"]
    assert {r["unit_id"] for r in rows_b} == {shop.store_b.pk}
    everyone = api(shop.executive).get("insights/risk", limit=500).json()
    assert len(everyone["rows"]) == CustomerScore.objects.filter(score__gt=0).count()
    assert everyone["weights"]["deleted_staff"] == 30


def test_company_dashboard_compares_stores_in_scope(shop, api):
    rollup.build()
    body = api(shop.executive).get("insights/company").json()
    names = {u["name"] for u in body["units"]}
    assert {"天河店", "祖庙店", "徐汇店"} <= names
    store_a = next(u for u in body["units"] if u["name"] == "天河店")
    assert store_a["customers"] == sum(p["customers"] for p in store_a["people"])
    assert abs(sum(p["customers_share"] for p in store_a["people"]) - 100) < 0.5
    south = api(shop.region_manager).get("insights/company").json()
    assert {u["name"] for u in south["units"]} == {"天河店", "祖庙店"}
    mine = api(shop.sales_b).get("insights/company").json()
    assert [p["employee_id"] for u in mine["units"] for p in u["people"]] == [shop.sales_b.pk]


def test_unit_concentration_outside_scope_is_404(shop, api):
    rollup.build()
    assert api(shop.manager_a).get(f"insights/units/{shop.store_b.pk}/concentration").status_code == 404
    ok = api(shop.manager_a).get(f"insights/units/{shop.store_a.pk}/concentration")
    assert ok.status_code == 200 and [u["name"] for u in ok.json()["units"]] == ["天河店"]


def test_pages_tables_and_csv_in_chinese(shop, console):
    rollup.build()
    client = console(shop.manager_a)
    page = client.get("/insights/team/").content.decode()
    assert "客户流失风险" in page and "关键人数" in page
    assert "data-label=" in page and "echarts.min.js" in page
    csv = client.get("/insights/team/risk.csv")
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/csv")
    text = csv.content.decode("utf-8-sig")
    assert shop.customers[0].name.split("-")[0] in text
    assert shop.sales_b.name not in text  # store B is not this manager's
    assert Entry.objects.filter(kind="insights.csv_downloaded", actor_id=shop.manager_a.pk).count() == 1
    assert client.get("/insights/team/nothing.csv").status_code == 404
    assert client.get("/insights/nothing/").status_code == 404


def _drawn(panel):
    rows = panel.rows[: charts.MAX_CATEGORIES]
    return [[charts.number(r[i]) for r in rows] for i in panel.series]


@pytest.mark.parametrize("who", ["executive", "manager_a"])
def test_weekly_pdf_carries_each_chart_and_its_table(shop, console, who):
    rollup.build()
    viewer = getattr(shop, who)
    response = console(viewer).get("/insights/report.pdf")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    pdf = response.content
    panels = selectors.dashboard_for(viewer, selectors.default_dashboard(viewer))["panels"]
    drawn = [p for p in panels if p.chart != "none" and p.rows]
    assert {p.chart for p in drawn} == {"bar", "line", "stacked"}
    # Every non-zero figure of a bar chart is one bar (a zero draws none); each line one polyline.
    bars = sum(1 for p in drawn if p.chart != "line" for s in _drawn(p) for v in s if v)
    assert bars > 0 and len(pdfread.bars(pdf)) == bars
    lines = [len(p.rows[: charts.MAX_CATEGORIES]) for p in drawn if p.chart == "line" for _s in p.series]
    points = pdfread.polylines(pdf)
    assert all(points.count(n) >= lines.count(n) for n in set(lines) if n > 2)
    text = "\n".join(pdfread.texts(pdf))
    for p in panels:
        assert p.title in text
        for row in p.rows[: report.PDF_ROWS]:
            assert str(row[0]) in text  # the table's rows (and the charts' axes)
    for p in drawn:
        for s in p.series:
            assert str(p.columns[s]) in text  # each series named in its chart's legend
    assert "客户" in text  # Chinese, in the CID font


def test_pdf_bars_stand_in_proportion_to_the_figures():
    from reportlab.graphics import renderPDF
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont

    from custos.insights.selectors import Panel

    if report.CJK_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(report.CJK_FONT))
    panel = Panel(id="p", title="t", columns=["员工", "中位数", "九十分位"], series=[1, 2],
                  rows=[["张三", 30, "—"], ["李四", 60, 15], ["王五", 0, 45]])  # fmt: skip
    pdf = renderPDF.drawToString(charts.drawing(panel, 500, report.CJK_FONT))
    heights = [h for _x, _y, _w, h in pdfread.bars(pdf)]
    assert len(heights) == 4  # "—" and 0 draw nothing
    assert sorted(round(h / min(heights), 3) for h in heights) == [1, 2, 3, 4]
    assert {"张三", "李四", "王五", "中位数", "九十分位"} <= set(pdfread.texts(pdf))
    assert (
        charts.drawing(Panel(id="n", title="t", columns=["a"], rows=[["x"]], chart="none"), 500, "x") is None
    )


def test_weekly_summary_goes_once_to_each_units_own_webhooks(shop):
    rollup.build()
    hq_hook = alert_services.create_webhook(actor=shop.admin, unit=shop.hq, name="总部群", kind="wecom",
                                            url="https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=abc")  # fmt: skip
    store_hook = alert_services.create_webhook(actor=shop.admin, unit=shop.store_a, name="天河群", kind="dingtalk",
                                               url="https://oapi.dingtalk.com/robot/send?access_token=x")  # fmt: skip
    sent = report.push_weekly()
    assert sorted(sent) == sorted([shop.hq.pk, shop.store_a.pk])
    hq = Delivery.objects.get(webhook=hq_hook)
    store = Delivery.objects.get(webhook=store_hook)
    assert "天河店" in store.notice_title and "/insights/" in store.notice_text
    assert shop.customers[0].name not in hq.notice_text + store.notice_text  # no customer leaves the building
    assert report.push_weekly() == []  # once a week
    assert Delivery.objects.count() == 2
