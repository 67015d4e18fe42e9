"""A store manager checks a salesperson's day on a phone-sized screen, in a real browser."""

import random

import pytest
from django.utils import timezone

from custos.field import agent
from custos.field.models import Visit
from tests.browser.test_console_e2e import sign_in
from tests.field.conftest import day_end

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PHONE = {"width": 390, "height": 844}


def _no_sideways_scrolling(page):
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]


def test_the_days_route_visits_and_a_photo_on_a_phone(page, field, phone, tmp_path):
    agent.field_day(
        phone(field.company.sales_a).send,
        rng=random.Random(2),
        sites=field.sites,
        fake=True,
        fake_how="far",
        end=day_end(),
    )
    flagged = next(v for v in Visit.objects.order_by("checked_in_at") if v.distance_m)
    day = timezone.localdate(flagged.checked_in_at).isoformat()
    page.set_viewport_size(PHONE)
    sign_in(page, "manager_a")
    page.wait_for_url(page.base + "/")

    page.goto(f"{page.base}/field/?day={day}")
    # The first thumbnail is on screen (the others load lazily as the list scrolls).
    page.wait_for_function("document.querySelector('img.thumb').naturalWidth === 480")
    assert page.locator("#visits tbody tr").count() == len(field.sites)
    assert "签到位置远离客户地点" in page.locator(f"[data-visit='{flagged.pk}']").inner_text()
    _no_sideways_scrolling(page)

    page.goto(f"{page.base}/field/route/{field.company.sales_a.pk}/?day={day}")
    page.wait_for_selector("#route-map canvas")
    box = page.locator("#route-map").bounding_box()
    assert 300 < box["width"] <= PHONE["width"] and box["height"] >= 300
    _no_sideways_scrolling(page)
    page.screenshot(path=str(tmp_path / "route-phone.png"), full_page=True)

    page.goto(f"{page.base}/field/visits/{flagged.pk}/")
    page.wait_for_function("document.querySelector('.visit-photo img').naturalWidth === 480")
    assert "天河路" in page.locator("#watermark").inner_text()
    assert "签到位置远离客户地点" in page.locator("#visit-alerts").inner_text()
    _no_sideways_scrolling(page)
