"""The console's field pages: visits with photos, the route on a plain map, a visit's watermark and
alerts, sites; everything scoped (404 outside) and the photo audited."""

import csv
import io
import json
import random
import re

from django.utils import timezone
from PIL import Image

from custos.field import agent
from custos.field.models import Site, Visit
from custos.ledger.models import Entry
from tests.field.conftest import day_end


def _day(field, phone, fake=False, seed=1):
    return agent.field_day(
        phone(field.company.sales_a).send,
        rng=random.Random(seed),
        sites=field.sites,
        fake=fake,
        end=day_end(),
    )


def test_the_manager_sees_the_days_visits_with_photos_and_alerts(field, phone, console):
    _day(field, phone, fake=True, seed=2)
    client = console(field.company.manager_a)
    day = day_end().date().isoformat()
    page = client.get("/field/", {"day": day}).content.decode()
    assert page.count('class="thumb"') == len(field.sites)
    assert "虚假拜访" not in page  # labels are the rules' own
    assert re.search(r"签到位置远离客户地点|签到照片重复使用", page)
    assert "外勤" in page  # the Chinese title
    flagged = client.get("/field/", {"flagged": "1", "day": day}).content.decode()
    assert flagged.count('class="thumb"') == 1
    rows = list(
        csv.reader(
            io.StringIO(client.get("/field/", {"format": "csv", "day": day}).content.decode("utf-8-sig"))
        )
    )
    assert len(rows) == 1 + len(field.sites) and rows[0][0] == "签到时间"


def test_the_photo_is_served_scoped_and_each_look_is_recorded(field, phone, console):
    _day(field, phone)
    visit = Visit.objects.first()
    client = console(field.company.manager_a)
    response = client.get(f"/field/visits/{visit.pk}/photo/")
    assert response.status_code == 200 and response["Content-Type"] == "image/jpeg"
    body = b"".join(response.streaming_content)
    assert Image.open(io.BytesIO(body)).size == (480, 360)
    assert response["Cache-Control"] == "private, no-store"
    seen = Entry.objects.filter(kind="access.field_photo_viewed", actor_id=field.company.manager_a.pk)
    assert seen.count() == 1 and json.loads(seen.get().payload)["visit"] == visit.pk
    client.get(f"/field/visits/{visit.pk}/photo/")
    assert seen.count() == 1  # once per viewer, visit and day
    # Another store's manager and a colleague: not found, nothing recorded.
    for outsider in (field.company.manager_b, field.company.sales_a_peer):
        assert console(outsider).get(f"/field/visits/{visit.pk}/photo/").status_code == 404
        assert console(outsider).get(f"/field/visits/{visit.pk}/").status_code == 404
    assert Entry.objects.filter(kind="access.field_photo_viewed").count() == 1
    # The salesperson sees their own.
    assert console(field.company.sales_a).get(f"/field/visits/{visit.pk}/photo/").status_code == 200


def test_the_visit_page_shows_the_watermark_and_the_alert(field, phone, console):
    p = phone(field.company.sales_a)
    shop = field.shops[0]
    lat, lon = agent.offset(shop.site.lat, shop.site.lon, 3000, 0)
    v = agent.check_in(p.send, customer_id=shop.customer.pk, lat=lat, lon=lon, accuracy_m=12, photo=agent.photo(4),
                       address="天河路100号")  # fmt: skip
    agent.check_out(p.send, visit_id=v["id"], lat=lat, lon=lon, accuracy_m=10, report="客户不在，留了资料")
    page = console(field.company.manager_a).get(f"/field/visits/{v['id']}/").content.decode()
    assert "签到位置远离客户地点" in page and "天河路100号" in page
    assert field.company.sales_a.name in page and f"{lat:.6f}" in page
    assert "客户不在，留了资料" in page and "水印" in page


def test_the_route_page_draws_the_day_on_a_plain_map(field, phone, console):
    _day(field, phone)
    sales = field.company.sales_a
    day = timezone.localdate(Visit.objects.first().checked_in_at).isoformat()
    client = console(field.company.manager_a)
    page = client.get(f"/field/route/{sales.pk}/", {"day": day}).content.decode()
    assert "vendor/echarts.min.js" in page and "field/route.js" in page
    data = json.loads(
        re.search(r'<script id="route-data" type="application/json">(.*?)</script>', page, re.S).group(1)
    )
    assert len(data["visits"]) == len(field.sites) and len(data["track"]) > 20
    # Each site labelled with its customer's name (once: "门店客户1门店", not "门店客户1 · 门店客户1门店").
    names = {s.customer.name for s in field.shops}
    assert {next(n for n in names if n in s["name"]) for s in data["sites"]} == names
    assert all(s["name"].count(s["name"][:5]) == 1 for s in data["sites"])
    assert all(113 < p[0] < 114 and 23 < p[1] < 24 for p in data["track"])  # lon, lat
    assert console(field.company.manager_b).get(f"/field/route/{sales.pk}/").status_code == 404


def test_sites_are_added_by_managers_not_by_auditors(field, console):
    customer = field.shops[0].customer
    manager = console(field.company.manager_a)
    response = manager.post(
        "/field/sites/add/",
        {
            "customer": customer.pk,
            "name": "仓库",
            "address": "黄埔",
            "lat": "23.10",
            "lon": "113.45",
            "radius_m": "300",
        },
    )
    assert response.status_code == 302
    assert Site.objects.filter(name="仓库", radius_m=300).exists()
    before = Site.objects.count()
    auditor = console(field.company.auditor)
    auditor.post("/field/sites/add/", {"customer": customer.pk, "name": "审计", "lat": "23", "lon": "113"})
    assert Site.objects.count() == before
    bad = manager.post("/field/sites/add/", {"customer": customer.pk, "name": "x", "lat": "北", "lon": "113"})
    assert bad.status_code == 302 and Site.objects.count() == before
    page = manager.get("/field/sites/").content.decode()
    assert "仓库" in page and "300" in page


def test_the_ledger_names_field_entries_in_chinese(field, phone, console):
    _day(field, phone)
    visit = Visit.objects.first()
    page = console(field.company.auditor).get(f"/ledger/{visit.entry_seq}/").content.decode()
    assert "在客户处签到" in page and "水印" in page and "超出客户地点（米）" in page


def test_a_day_out_of_range_is_a_message_not_an_error(field, console, api):
    client = console(field.company.manager_a)
    assert client.get("/field/", {"day": "9999-12-31"}).status_code == 302
    assert client.get(f"/field/route/{field.company.sales_a.pk}/", {"day": "0001-01-01"}).status_code == 302
    answer = api(field.company.manager_a).get("field/visits", day="9999-12-31")
    assert answer.status_code == 400 and answer.json()["message"] == "日期 9999-12-31 超出范围。"
