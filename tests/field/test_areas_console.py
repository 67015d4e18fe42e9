"""Managing a salesperson's assigned area and shifts, and a site's polygon, from the console (not only
through the API): saved as the API saves them, with their ledger entries, and checked by the rules."""

import json
from datetime import time, timedelta

from django.utils import timezone

from custos.alerts.models import Alert
from custos.field import agent
from custos.field.models import Area, Site
from custos.ledger.models import Entry
from tests.field.conftest import TIANHE

# A square of about 2 km around 天河, as a manager would type it (lon, lat a line).
SQUARE = "113.3512, 23.1201\n113.3712, 23.1201\n113.3712，23.1381\n113.3512 23.1381"


def _week(days=range(7), starts="00:00", ends="23:59"):
    form = {}
    for d in days:
        form.update({f"day{d}": "on", f"starts{d}": starts, f"ends{d}": ends})
    return form


def test_a_manager_sets_a_polygon_area_and_shifts_and_the_track_is_checked(field, phone, console):
    sales = field.company.sales_a
    client = console(field.company.manager_a)
    listing = client.get("/field/areas/").content.decode()
    assert f'data-employee="{sales.pk}"' in listing

    page = client.get(f"/field/areas/{sales.pk}/").content.decode()
    assert 'id="area-form"' in page and 'id="no-area"' in page
    saved = client.post(
        f"/field/areas/{sales.pk}/",
        {"name": "天河体育中心片区", "polygon": SQUARE, **_week(range(5), "09:00", "18:30")},
    )
    assert saved.status_code == 302
    area = Area.objects.get(employee=sales, removed_at__isnull=True)
    assert area.polygon[2] == [113.3712, 23.1381] and area.radius_m is None
    assert [(s.weekday, s.starts, s.ends) for s in area.shifts.all()] == [
        (d, time(9, 0), time(18, 30)) for d in range(5)
    ]
    [entry] = Entry.objects.filter(kind="field.area_set")
    assert (
        entry.actor_id == field.company.manager_a.pk and json.loads(entry.payload)["polygon"] == area.polygon
    )
    # The page shows it again, ready to edit; the list shows its shape and shifts.
    again = client.get(f"/field/areas/{sales.pk}/").content.decode()
    assert "113.3712, 23.1381" in again and "天河体育中心片区" in again
    chart = json.loads(again.split('id="route-data" type="application/json">')[1].split("</script>")[0])
    assert chart["fit_area"] and len(chart["area"]["polygon"]) == 4 and chart["sites"]
    assert "天河体育中心片区" in client.get("/field/areas/").content.decode()

    # A circle replaces it; the track 6 km out during the (all-week) shift raises left_area.
    client.post(
        f"/field/areas/{sales.pk}/",
        {"name": "天河 2 公里", "lat": str(TIANHE[0]), "lon": str(TIANHE[1]), "radius_m": "2000", **_week()},
    )
    area = Area.objects.get(employee=sales, removed_at__isnull=True)
    assert area.radius_m == 2000 and area.polygon == [] and area.shifts.count() == 7
    p = phone(sales)
    far = agent.offset(*TIANHE, 6000, 0)
    now = timezone.now() - timedelta(minutes=5)
    agent.track(p.send, [{"lat": far[0], "lon": far[1], "accuracy_m": 15, "at": now}])
    assert Alert.objects.filter(rule="left_area", employee=sales).exists()


def test_bad_area_input_is_a_message_and_others_only_read(field, console):
    sales = field.company.sales_a
    client = console(field.company.manager_a)
    for form in (
        {"name": "x", "polygon": "113.35, 23.12\nnot a point"},
        {"name": "x", "polygon": "113.35, 23.12\n113.36, 23.12"},  # two points
        {"name": "x", "lat": "23.1", "lon": "113.3", "radius_m": "0"},
        {"name": "x", "lat": "23.1", "lon": "113.3", "radius_m": "500", **_week([1], "18:00", "09:00")},
        {"name": "", "lat": "23.1", "lon": "113.3", "radius_m": "500"},
    ):
        response = client.post(f"/field/areas/{sales.pk}/", form, follow=True)
        assert response.status_code in (200, 400), form
    assert not Area.objects.exists()
    # A salesperson sees their own area page without the form; another store's manager: 404.
    mine = console(sales).get(f"/field/areas/{sales.pk}/")
    assert mine.status_code == 200 and 'id="area-form"' not in mine.content.decode()
    console(sales).post(
        f"/field/areas/{sales.pk}/", {"name": "自己的", "lat": "23", "lon": "113", "radius_m": "900"}
    )
    assert not Area.objects.exists()
    assert console(field.company.manager_b).get(f"/field/areas/{sales.pk}/").status_code == 404


def test_a_site_can_be_a_polygon_from_the_console(field, console):
    client = console(field.company.manager_a)
    customer = field.shops[1].customer
    response = client.post(
        "/field/sites/add/",
        {"customer": str(customer.pk), "name": "仓库", "address": "天河北路", "polygon": SQUARE},
    )
    assert response.status_code == 302
    site = Site.objects.get(name="仓库")
    assert len(site.polygon) == 4 and round(site.lat, 4) == 23.1291 and round(site.lon, 4) == 113.3612
    assert "4 个点的多边形" in client.get("/field/sites/").content.decode()
    # A circle still needs its centre.
    client.post("/field/sites/add/", {"customer": str(customer.pk), "name": "无位置", "radius_m": "200"})
    assert not Site.objects.filter(name="无位置").exists()


def test_a_site_is_added_for_a_customer_named_rather_than_numbered(field, console):
    client = console(field.company.manager_a)
    shop = field.shops[2]
    client.post(
        "/field/sites/add/",
        {"customer": f" {shop.customer.name} ", "name": "二号仓", "lat": "23.13", "lon": "113.36"},
    )
    assert Site.objects.get(name="二号仓").customer_id == shop.customer.pk
    # Unknown, or a name out of the manager's scope: a message, nothing saved.
    client.post(
        "/field/sites/add/", {"customer": "没有这个客户", "name": "三号仓", "lat": "23.13", "lon": "113.36"}
    )
    other = console(field.company.manager_b)
    other.post(
        "/field/sites/add/",
        {"customer": shop.customer.name, "name": "四号仓", "lat": "23.13", "lon": "113.36"},
    )
    assert not Site.objects.filter(name__in=["三号仓", "四号仓"]).exists()
