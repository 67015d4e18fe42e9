"""Check-in, check-out and track from a work phone, signed like ingest, through real HTTP handling."""

import hashlib
import random
from datetime import timedelta

from django.utils import timezone

from custos.access.models import ApiToken
from custos.alerts.models import Alert
from custos.customers import selectors as customer_selectors
from custos.customers import services as customer_services
from custos.field import agent
from custos.field.models import TrackPoint, Visit
from custos.ledger.models import Entry
from tests.field.conftest import TIANHE


def test_an_honest_day_is_visits_reports_and_a_track_and_no_alert(field, phone):
    sales = field.company.sales_a
    p = phone(sales)
    day = agent.field_day(p.send, rng=random.Random(1), sites=field.sites)
    visits = list(Visit.objects.filter(employee=sales).order_by("checked_in_at"))
    assert [v.customer_id for v in visits] == [s["customer_id"] for s in field.sites]
    assert all(v.distance_m == 0 for v in visits)  # each inside its 150 m fence
    assert all(v.checked_out_at and v.follow_up_id for v in visits)
    assert all(len(v.photo_phash) == 16 and len(v.photo_sha256) == 64 for v in visits)
    assert visits[0].watermark["employee"] == sales.name and visits[0].watermark["address"] == "天河路100号"
    assert TrackPoint.objects.filter(employee=sales).count() >= day["points"]
    assert not Alert.objects.filter(employee=sales).exists()
    kinds = set(Entry.objects.filter(actor_id=sales.pk).values_list("kind", flat=True))
    assert {"field.checked_in", "field.checked_out", "field.track", "customer.follow_up_added"} <= kinds
    # The report is the customer's visit follow-up, seen by the store's manager at once.
    seen = customer_selectors.follow_ups(field.company.manager_a, visits[0].customer_id)
    assert [(f.kind, f.content) for f in seen] == [("visit", visits[0].report)]


def _check_in(p, customer_id, lat, lon, photo, **kw):
    return agent.check_in(p.send, customer_id=customer_id, lat=lat, lon=lon, accuracy_m=10, photo=photo, **kw)


def test_a_check_in_far_from_the_site_raises_an_alert_named_in_chinese(field, phone, console):
    p = phone(field.company.sales_a)
    shop = field.shops[0]
    lat, lon = agent.offset(shop.site.lat, shop.site.lon, 2000, 0)
    visit = _check_in(p, shop.customer.pk, lat, lon, agent.photo(5))
    assert 1800 < visit["distance_m"] < 1900  # 2 km from the middle, 150 m fence
    assert [a["rule"] for a in visit["alerts"]] == ["far_check_in"]
    assert visit["alerts"][0]["label"] == "签到位置远离客户地点"
    alert = Alert.objects.get(rule="far_check_in")
    assert alert.employee_id == field.company.sales_a.pk and alert.customer_id == shop.customer.pk
    assert Visit.objects.get(pk=visit["id"]).entry_seq in alert.evidence
    page = console(field.company.manager_a).get(f"/alerts/{alert.pk}/").content.decode()
    assert "签到位置远离客户地点" in page and "虚假拜访" in page
    # Near the site: nothing.
    near = agent.offset(shop.site.lat, shop.site.lon, 100, 50)
    assert _check_in(p, field.shops[1].customer.pk, *agent.offset(field.shops[1].site.lat, field.shops[1].site.lon, 40, 0),
                     agent.photo(6))["alerts"] == []  # fmt: skip
    assert near  # a point inside the first fence stays at 0 m
    assert _check_in(p, shop.customer.pk, *near, agent.photo(7))["distance_m"] == 0


def test_the_distance_that_counts_as_far_is_a_unit_setting(field, phone):
    from custos.alerts import services as alert_services

    alert_services.set_threshold(
        actor=field.company.admin, unit=field.company.store_a, key="field_far_m", value=5000
    )
    p = phone(field.company.sales_a)
    shop = field.shops[0]
    visit = _check_in(
        p, shop.customer.pk, *agent.offset(shop.site.lat, shop.site.lon, 2000, 0), agent.photo(5)
    )
    assert visit["alerts"] == []


def test_a_photo_reused_cropped_and_reencoded_is_caught_and_a_new_one_is_not(field, phone):
    p = phone(field.company.sales_a)
    first, second, third = field.shops[:3]
    original = agent.photo(11)
    _check_in(p, first.customer.pk, first.site.lat, first.site.lon, original)
    again = agent.reuse(original)
    assert hashlib.sha256(again).digest() != hashlib.sha256(original).digest()
    visit = _check_in(p, second.customer.pk, second.site.lat, second.site.lon, again)
    assert [a["rule"] for a in visit["alerts"]] == ["photo_reused"]
    fresh = _check_in(p, third.customer.pk, third.site.lat, third.site.lon, agent.photo(12))
    assert fresh["alerts"] == []
    # Another salesperson's phone sending the very same file: caught too (distance 0).
    other = phone(field.company.sales_a_peer)
    mine = customer_services.create_customer(
        actor=field.company.manager_a, name="同事的客户", owner=field.company.sales_a_peer
    )
    assert [a["rule"] for a in _check_in(other, mine.pk, *TIANHE, original)["alerts"]] == ["photo_reused"]


def test_the_mock_location_flag_raises_an_alert(field, phone):
    p = phone(field.company.sales_a)
    shop = field.shops[0]
    visit = _check_in(p, shop.customer.pk, shop.site.lat, shop.site.lon, agent.photo(3), mock_location=True)
    assert [a["rule"] for a in visit["alerts"]] == ["mock_location"]


def test_impossible_speed_between_track_points(field, phone):
    p = phone(field.company.sales_a)
    now = timezone.now() - timedelta(hours=1)
    lat, lon = TIANHE
    far = agent.offset(lat, lon, 40_000, 0)  # 40 km in 5 minutes: 480 km/h
    points = [
        {"lat": lat, "lon": lon, "accuracy_m": 10, "at": now},
        {"lat": far[0], "lon": far[1], "accuracy_m": 10, "at": now + timedelta(minutes=5)},
    ]
    assert agent.track(p.send, points) == {"accepted": 2, "alerts": 1}
    alert = Alert.objects.get(rule="impossible_speed")
    assert "km/h" in alert.summary and alert.category == "fake_visit"
    # At car speed: nothing more.
    slow = agent.offset(*far, 5000, 0)
    assert agent.track(
        p.send, [{"lat": slow[0], "lon": slow[1], "accuracy_m": 10, "at": now + timedelta(minutes=15)}]
    ) == {
        "accepted": 1,
        "alerts": 0,
    }
    # The same points again are the same points (the phone retried): nothing new.
    assert agent.track(p.send, points)["accepted"] == 0


def test_leaving_the_assigned_area_during_a_shift(field, phone, api):
    sales = field.company.sales_a
    now = timezone.localtime() - timedelta(minutes=30)
    every_day = [{"weekday": d, "starts": "00:00:00", "ends": "23:59:59"} for d in range(7)]
    response = api(field.company.manager_a).put(
        f"field/employees/{sales.pk}/area",
        {"name": "天河片区", "lat": TIANHE[0], "lon": TIANHE[1], "radius_m": 3000, "shifts": every_day},
    )
    assert response.status_code == 200, response.content
    p = phone(sales)
    inside = agent.offset(*TIANHE, 1000, 0)
    outside = agent.offset(*TIANHE, 9000, 0)
    assert (
        agent.track(p.send, [{"lat": inside[0], "lon": inside[1], "accuracy_m": 10, "at": now}])["alerts"]
        == 0
    )
    later = now + timedelta(minutes=20)
    assert (
        agent.track(p.send, [{"lat": outside[0], "lon": outside[1], "accuracy_m": 10, "at": later}])["alerts"]
        == 1
    )
    assert Alert.objects.get(rule="left_area").summary.startswith("天河片区")


def test_outside_the_area_off_shift_is_no_alert(field, phone, api):
    sales = field.company.sales_a
    now = timezone.localtime() - timedelta(minutes=30)
    other_day = (now.weekday() + 3) % 7
    api(field.company.manager_a).put(
        f"field/employees/{sales.pk}/area",
        {"name": "天河片区", "lat": TIANHE[0], "lon": TIANHE[1], "radius_m": 3000,
         "shifts": [{"weekday": other_day, "starts": "09:00:00", "ends": "18:00:00"}]},
    )  # fmt: skip
    outside = agent.offset(*TIANHE, 9000, 0)
    assert (
        agent.track(phone(sales).send, [{"lat": outside[0], "lon": outside[1], "accuracy_m": 10, "at": now}])[
            "alerts"
        ]
        == 0
    )


def test_a_faked_day_is_caught_once(field, phone):
    for seed in (2, 3, 4, 5):
        Alert.objects.all().delete()
        Visit.objects.all().delete()
        TrackPoint.objects.all().delete()
        p = phone(field.company.sales_a)
        day = agent.field_day(p.send, rng=random.Random(seed), sites=field.sites, fake=True)
        rules = list(Alert.objects.values_list("rule", flat=True))
        expected = {"far": "far_check_in", "reused": "photo_reused"}[day["faked"]]
        assert rules == [expected], (seed, day["faked"], rules)


def test_device_authentication_is_the_ingest_one(field, phone, api):
    p = phone(field.company.sales_a)
    body = {"customer_id": field.shops[0].customer.pk, "lat": 23.1, "lon": 113.3, "accuracy_m": 5,
            "photo_sha256": "0" * 64, "at": timezone.now().isoformat()}  # fmt: skip
    path = "/api/v1/field/agent/check-ins"
    unsigned = p.client.post(
        path, body, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {p.token}"
    )
    assert unsigned.status_code == 401 and "Sign the request" in unsigned.json()["message"]
    assert p.raw("POST", path, body, secret="not-the-secret").status_code == 401
    personal = api(field.company.sales_a)
    refused = personal.post("field/agent/check-ins", body)
    assert refused.status_code == 403 and "设备令牌" in refused.json()["message"]
    # An integration token is a connector, not a phone in someone's hand.
    connector = phone(None, kind=ApiToken.Kind.INTEGRATION, unit=field.company.store_a)
    assert connector.raw("POST", path, body).status_code == 403
    # The photo must be uploaded first, and be an image.
    missing = p.raw("POST", path, body)
    assert missing.status_code == 400 and "/api/v1/ingest/blobs/" in missing.json()["message"]
    text = b"not a photo at all"
    p.send("PUT", f"/api/v1/ingest/blobs/{hashlib.sha256(text).hexdigest()}", text)
    bad = p.raw("POST", path, {**body, "photo_sha256": hashlib.sha256(text).hexdigest()})
    assert bad.status_code == 400 and "图片" in bad.json()["message"]
    # A customer outside the phone's employee's scope does not exist for it.
    theirs = customer_services.create_customer(
        actor=field.company.manager_b, name="别店客户", owner=field.company.sales_b
    )
    photo = agent.photo(1)
    p.send("PUT", f"/api/v1/ingest/blobs/{hashlib.sha256(photo).hexdigest()}", photo)
    outside = p.raw(
        "POST", path, {**body, "customer_id": theirs.pk, "photo_sha256": hashlib.sha256(photo).hexdigest()}
    )
    assert outside.status_code == 404
    future = p.raw("POST", path, {**body, "photo_sha256": hashlib.sha256(photo).hexdigest(),
                                  "at": (timezone.now() + timedelta(hours=1)).isoformat()})  # fmt: skip
    assert future.status_code == 400 and "未来" in future.json()["message"]
    assert not Visit.objects.exists()


def test_a_check_in_sent_twice_is_one_visit_and_check_out_once(field, phone):
    p = phone(field.company.sales_a)
    shop = field.shops[0]
    at = timezone.now() - timedelta(minutes=40)
    photo = agent.photo(9)
    one = _check_in(p, shop.customer.pk, shop.site.lat, shop.site.lon, photo, at=at)
    two = _check_in(p, shop.customer.pk, shop.site.lat, shop.site.lon, photo, at=at)
    assert one["id"] == two["id"] and Visit.objects.count() == 1
    assert p.responses[1].status_code == 201 and p.responses[3].status_code == 200
    out_at = at + timedelta(minutes=30)
    done = agent.check_out(p.send, visit_id=one["id"], lat=shop.site.lat, lon=shop.site.lon, accuracy_m=8,
                           report="谈了续约", at=out_at)  # fmt: skip
    assert done["minutes"] == 30 and done["follow_up_id"]
    again = p.raw("POST", agent.CHECK_OUT_PATH, {"visit_id": one["id"], "lat": 23.1, "lon": 113.3, "accuracy_m": 5,
                                                "at": (out_at + timedelta(minutes=1)).isoformat()})  # fmt: skip
    assert again.status_code == 409
    # Another phone's employee cannot check out of it.
    peer = phone(field.company.sales_a_peer)
    assert peer.raw("POST", agent.CHECK_OUT_PATH, {"visit_id": one["id"], "lat": 23.1, "lon": 113.3, "accuracy_m": 5,
                                                  "at": timezone.now().isoformat()}).status_code == 404  # fmt: skip


def test_the_phone_reads_the_sites_of_its_employees_customers(field, phone):
    mine = agent.sites(phone(field.company.sales_a).send)
    assert sorted(s["customer_id"] for s in mine) == sorted(s["customer_id"] for s in field.sites)
    assert {"lat", "lon", "radius_m", "address"} <= set(mine[0])
    assert agent.sites(phone(field.company.sales_a_peer).send) == []
    # What it reads is what field_day plays.
    day = agent.field_day(phone(field.company.sales_a).send, rng=random.Random(9), sites=mine[:2])
    assert len(day["visits"]) == 2 and not Alert.objects.exists()
