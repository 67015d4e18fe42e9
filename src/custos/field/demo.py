"""The demo's field work: 广州天河店's customers have shop sites around 天河, sales1 works an area
with shifts, and today two salespeople did their rounds from their work phones.

sales1's day has one faked visit: the check-in was made kilometres from the customer's shop, and
the fake-visit rules caught it (an open alert). A colleague's day is honest. The phones' traffic
goes through the real API (custos.field.agent, signed with a device credential as the phone
signs it), in-process with Django's request handling, so the demo is what a phone would leave.
"""

import json
import random
from datetime import datetime, time, timedelta

from django.conf import settings
from django.test import Client
from django.utils import timezone

from custos.access.models import ApiToken
from custos.archive import credentials, signing
from custos.customers.models import Customer
from custos.field import agent, services
from custos.field.models import Site
from custos.ledger.services import Event, append_batch
from custos.org.models import Employee, Role

TIANHE = (23.1291, 113.3612)  # 天河体育中心
STREETS = [
    "天河路",
    "体育西路",
    "天河北路",
    "林和西路",
    "黄埔大道西",
    "中山大道西",
    "珠江新城华夏路",
    "龙口西路",
]
VISITS = 6


def _host() -> str:
    for host in settings.ALLOWED_HOSTS:
        if host and "*" not in host:
            return host.lstrip(".")
    return "localhost"


def phone_sender(token: str, secret: str):
    """A `send` for custos.field.agent that signs like a phone and goes through Django's request
    handling in this process (no server needed)."""
    client = Client(HTTP_HOST=_host())

    def send(method: str, path: str, body) -> dict:
        data = body if isinstance(body, bytes) else json.dumps(body, default=str).encode()
        headers = signing.signed_headers(token, secret, method, path, data)
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        kind = "application/octet-stream" if isinstance(body, bytes) else "application/json"
        response = getattr(client, method.lower())(path, data, content_type=kind, **extra)
        if response.status_code >= 300:
            raise RuntimeError(f"{method} {path}: {response.status_code} {response.content[:200]!r}")
        return response.json() if response.content else {}

    return send


def _sites(store_manager: Employee, rng: random.Random) -> list[Site]:
    """A shop for every active customer of the store, within ~6 km of 天河, in one insert."""
    customers = list(Customer.objects.filter(unit=store_manager.unit, status="active").order_by("pk"))
    sites = []
    for c in customers:
        lat, lon = agent.offset(*TIANHE, rng.uniform(-5000, 5000), rng.uniform(-6000, 6000))
        street = rng.choice(STREETS)
        sites.append(
            Site(
                customer=c, unit_id=c.unit_id, name=f"{c.name}·门店", address=f"广州市天河区{street}{rng.randint(1, 600)}号",
                lat=round(lat, 6), lon=round(lon, 6), radius_m=rng.choice((100, 150, 200)), created_by=store_manager,
            )
        )  # fmt: skip
    Site.objects.bulk_create(sites)
    append_batch(
        [
            Event(
                kind="field.site_set",
                payload={
                    "site": s.pk,
                    "name": s.name,
                    "lat": s.lat,
                    "lon": s.lon,
                    "radius_m": s.radius_m,
                    "polygon": [],
                },
                actor_id=store_manager.pk,
                unit_id=s.unit_id,
                customer_id=s.customer_id,
                source="demo",
                source_id=f"demo-site:{s.pk}",
            )
            for s in sites
        ]
    )
    return sites


def _round(sites: list[Site], owner: Employee, rng: random.Random) -> list[dict]:
    """A plausible round: the owner's customers' shops, nearest next from a start point."""
    mine = [s for s in sites if s.customer.owner_id == owner.pk]
    chosen = rng.sample(mine, min(VISITS, len(mine)))
    ordered, here = [], TIANHE
    while chosen:
        nxt = min(chosen, key=lambda s: (s.lat - here[0]) ** 2 + (s.lon - here[1]) ** 2)
        chosen.remove(nxt)
        ordered.append(
            {"customer_id": nxt.customer_id, "lat": nxt.lat, "lon": nxt.lon, "address": nxt.address}
        )
        here = (nxt.lat, nxt.lon)
    return ordered


def build(seed: int) -> dict:
    rng = random.Random(seed + 19)
    store1 = Employee.objects.filter(user__username="store1").select_related("unit").first()
    sales1 = Employee.objects.filter(user__username="sales1").select_related("unit").first()
    if store1 is None or sales1 is None:
        return {}
    sites = _sites(store1, rng)
    if not sites:
        return {}
    week = [(day, time(9, 0), time(18, 30)) for day in range(7)]
    services.set_area(actor=store1, employee_id=sales1.pk, name="天河片区", lat=TIANHE[0], lon=TIANHE[1],
                      radius_m=8000, shifts=week)  # fmt: skip
    colleague = (
        Employee.objects.filter(unit=store1.unit, role=Role.SALES, status="active")
        .exclude(pk=sales1.pk)
        .order_by("pk")
        .first()
    )
    # The day ends at 17:30 today (or now, when the demo is loaded earlier than that).
    now = timezone.now()
    end = min(
        now - timedelta(minutes=1),
        timezone.make_aware(datetime.combine(timezone.localdate(now), time(17, 30))),
    )
    days = {}
    for who, fake in ((sales1, True), (colleague, False)):
        if who is None:
            continue
        _row, token, secret = credentials.issue(
            actor=store1, kind=ApiToken.Kind.DEVICE, name=f"{who.name}的外勤手机", employee=who, source="demo"
        )
        route = _round(sites, who, rng)
        if len(route) < 2:
            continue
        days[who.user.username] = agent.field_day(
            phone_sender(token, secret),
            rng=rng,
            sites=route,
            fake=fake,
            fake_how="far" if fake else None,
            end=end,
        )
    return {"sites": len(sites), "days": {k: v["faked"] for k, v in days.items()}}
