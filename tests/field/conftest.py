import json
import types
from datetime import datetime, time, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from custos.access.models import ApiToken
from custos.archive import credentials, signing
from custos.customers import services as customer_services
from custos.field import services
from custos.org.models import Employee, Role

# 天河 (Guangzhou): the customers' shops are a few kilometres apart.
TIANHE = (23.1291, 113.3612)


def day_end() -> datetime:
    """When a test's field day ends: now, unless the day would then start before midnight (a run
    in the small hours), in which case yesterday at 18:00, so that the whole day is one date."""
    now = timezone.localtime()
    if now.hour >= 8:
        return now
    return timezone.make_aware(datetime.combine(now.date() - timedelta(days=1), time(18, 0)))


class Phone:
    """A work phone's field agent: a device credential, and `send` signing each call as the
    simulator does, through Django's test client (real HTTP handling, real database)."""

    def __init__(self, employee, kind=ApiToken.Kind.DEVICE, unit=None):
        self.employee = employee
        self.token_row, self.token, self.secret = credentials.issue(
            actor=Employee.objects.filter(role=Role.ADMIN).earliest("pk"),
            kind=kind,
            name="外勤手机",
            employee=employee if kind == ApiToken.Kind.DEVICE else None,
            unit=unit,
        )
        self.client = Client()
        self.responses = []

    def raw(self, method, path, body=None, *, token=None, secret=None):
        data = body if isinstance(body, bytes) else (b"" if body is None else json.dumps(body).encode())
        headers = signing.signed_headers(token or self.token, secret or self.secret, method, path, data)
        extra = {f"HTTP_{k.upper().replace('-', '_')}": v for k, v in headers.items()}
        kind = "application/octet-stream" if isinstance(body, bytes) else "application/json"
        return getattr(self.client, method.lower())(path, data, content_type=kind, **extra)

    def send(self, method, path, body):
        response = self.raw(method, path, body)
        self.responses.append(response)
        assert response.status_code < 300, (method, path, response.status_code, response.content[:300])
        return response.json() if response.content else {}


@pytest.fixture
def phone():
    return Phone


@pytest.fixture
def field(company):
    """sales_a's customers with their shops in 天河, fenced by 150 m circles."""
    from custos.field import agent

    made = []
    for i, (north, east) in enumerate([(0, 0), (1500, 800), (2600, -1200), (-900, 2100)]):
        customer = customer_services.create_customer(
            actor=company.manager_a, name=f"门店客户{i + 1}", owner=company.sales_a
        )
        lat, lon = agent.offset(*TIANHE, north, east)
        site = services.set_site(
            actor=company.manager_a, customer_id=customer.pk, name=f"{customer.name}门店",
            address=f"天河路{100 + i}号", lat=lat, lon=lon, radius_m=150,
        )  # fmt: skip
        made.append(types.SimpleNamespace(customer=customer, site=site))
    return types.SimpleNamespace(
        company=company,
        shops=made,
        sites=[
            {"customer_id": m.customer.pk, "lat": m.site.lat, "lon": m.site.lon, "address": m.site.address}
            for m in made
        ],
    )
