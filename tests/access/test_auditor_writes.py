"""What an auditor may write, exactly (README, "Roles"): evidence packages, legal holds, and their
own sign-in (personal API tokens, their second factor). Nothing else, through any face.

The API's write routes are read from its schema and the console's from the URL configuration,
as the authorization matrices do, so a write added later is covered without editing this file.
"""

import hashlib
import pathlib
import re

import pyotp
import pytest
from django.apps import apps
from django.test import Client

from custos.access import tokens
from custos.access.models import ApiToken
from custos.core import crypto
from custos.evidence.models import LegalHold
from custos.ledger.models import Entry
from custos.org.models import CompanySettings
from tests.access.test_authorization_matrix import BODIES, DEVICE_ONLY, WRITE, fill, routes
from tests.conftest import PASSWORD
from tests.console.test_hostile_lists import console_routes

# The API routes an auditor writes through; every other write route refuses them.
AUDITOR_API_WRITES = {
    ("post", "tokens"),
    ("delete", "tokens/{token_id}"),
    ("post", "evidence/packages"),
    ("post", "evidence/holds"),
    ("post", "evidence/holds/{hold_id}/release"),
}
# What those writes leave in the ledger, and the reads an auditor's browsing records.
AUDITOR_KINDS = {
    "auth.token_issued",
    "auth.token_revoked",
    "auth.totp_enrolled",
    "auth.totp_disabled",
    "evidence.package_created",
    "evidence.package_downloaded",
    "legal_hold.placed",
    "legal_hold.released",
    "access.conversation_viewed",
    "access.attachment_viewed",
}
# Tables those writes change (and the ledger's own, checked by kind above).
AUDITOR_TABLES = {"access.apitoken", "access.loginthrottle", "evidence.evidencepackage", "evidence.legalhold"}


def snapshot(auditor) -> dict[str, str]:
    """A digest of every row of every Custos table an auditor may not change."""
    digests = {}
    for model in apps.get_models():
        label = model._meta.label_lower
        if not model.__module__.startswith("custos.") or label in AUDITOR_TABLES or label.startswith("ledger."):
            continue
        rows = model.objects.order_by("pk")
        if label == "org.employee":
            rows = rows.exclude(pk=auditor.pk)  # their own second factor is theirs to set
        digests[label] = hashlib.sha256(repr(list(rows.values_list())).encode()).hexdigest()
    return digests


@pytest.fixture
def scene(company):
    """A customer, a hold the admin placed, and the manager's own token: things to try to change."""
    from custos.customers import services
    from custos.evidence import services as evidence

    customer = services.create_customer(
        actor=company.sales_a, name="审计对象", owner=company.sales_a,
        contacts_in=[services.NewContact("phone", "13812345678")],
    )  # fmt: skip
    hold = evidence.place_hold(company.admin, evidence.HoldInput(reason="诉讼", customer_id=customer.pk))
    manager_token, _clear = tokens.issue(actor=company.manager_a, kind="personal", name="经理的脚本")
    CompanySettings.get()  # the settings row is made on first read: not the auditor's doing
    return customer, hold, manager_token


def test_the_api_writes_an_auditor_makes(company, api, scene):
    customer, hold, _manager_token = scene
    client = api(company.auditor)
    before = Entry.objects.count()
    issued = client.post("tokens", {"name": "审计脚本", "days": 30})
    assert issued.status_code == 201 and issued.json()["kind"] == "personal"
    assert client.delete(f"tokens/{issued.json()['id']}").status_code == 200
    package = client.post("evidence/packages", {"customer_id": customer.pk})
    assert package.status_code in (200, 201, 202), package.content
    placed = client.post("evidence/holds", {"reason": "审计取证", "customer_id": customer.pk})
    assert placed.status_code == 201, placed.content
    assert client.post(f"evidence/holds/{hold.pk}/release", {"reason": "结案"}).status_code == 200
    mine = Entry.objects.filter(seq__gte=before, actor_id=company.auditor.pk).values_list("kind", flat=True)
    assert {
        "auth.token_issued", "auth.token_revoked", "evidence.package_created", "legal_hold.placed", "legal_hold.released"
    } <= set(mine)  # fmt: skip
    assert LegalHold.objects.get(pk=hold.pk).released_at is not None


def test_no_other_api_write_is_open_to_an_auditor(company, api, scene):
    customer, hold, manager_token = scene
    client = api(company.auditor)
    before, tables = Entry.objects.count(), snapshot(company.auditor)
    opened = []
    for method, path in routes():
        if method not in WRITE or path.startswith(DEVICE_ONLY):
            continue
        url = fill(path, employee_id=company.sales_a.pk, unit_id=company.store_a.pk, token_id=manager_token.pk)
        url = url.replace("customers/1", f"customers/{customer.pk}")
        body = dict(BODIES.get(path, {}))
        if path in ("tokens", "ingest/credentials"):
            body = {"name": "审计的手机", "kind": "device", "employee_id": company.sales_a.pk}
        response = client.delete(url) if method == "delete" else getattr(client, method)(url, body)
        if response.status_code < 400:
            opened.append((method, path, response.status_code))
    assert not opened, opened
    assert not Entry.objects.filter(seq__gte=before).exists()
    assert snapshot(company.auditor) == tables
    assert ApiToken.objects.get(pk=manager_token.pk).revoked_at is None
    assert not ApiToken.objects.filter(created_by=company.auditor).exclude(kind="personal").exists()
    assert {("post", "tokens"), ("post", "evidence/holds")} <= {(m, p) for m, p in routes()}  # still routes


def _console_actions() -> list[str]:
    """Every `action == "..."` a console view tells apart: the <str:> part of their routes."""
    src = pathlib.Path(__file__).resolve().parents[2] / "src" / "custos"
    found = set()
    for path in [*src.glob("*/views.py"), *src.glob("*/views/*.py")]:
        found |= set(re.findall(r'(?:action|name) == "([a-z_-]+)"', path.read_text(encoding="utf-8")))
        for group in re.findall(r"(?:action|name) in \(([^)]*)\)", path.read_text(encoding="utf-8")):
            found |= set(re.findall(r'"([a-z_-]+)"', group))
    return sorted(found)


def _public(route: str) -> bool:
    url = "/" + re.sub(r"<(?:(\w+):)?(\w+)>", lambda m: "x" if m.group(1) == "str" else "1", route)
    response = Client().post(url, {})
    return not (response.status_code == 302 and response["Location"].startswith("/login/"))


def test_every_console_write_as_an_auditor_changes_only_what_an_auditor_may(company, scene):
    customer, hold, manager_token = scene
    client = Client()
    assert client.post("/login/", {"username": "auditor", "password": PASSWORD}).status_code == 302
    own_token, _clear = tokens.issue(actor=company.auditor, kind="personal", name="审计自己的")
    ids = {
        "customer_id": customer.pk, "contact_id": customer.contacts.first().pk, "employee_id": company.sales_a.pk,
        "token_id": manager_token.pk, "hold_id": hold.pk, "unit_id": company.store_a.pk,
    }  # fmt: skip
    body = {
        "name": "审计改的", "reason": "审计", "unit": company.hq.pk, "parent": company.hq.pk, "kind": "store",
        "role": "admin", "status": "departed", "last_day": "2030-01-01", "owner": company.manager_a.pk,
        "customer": customer.pk, "customer_id": customer.pk, "employee": company.sales_a.pk,
        "duplicate": customer.pk, "contact": customer.contacts.first().pk, "username": "made_by_auditor",
        "password": "long-enough-pass-1", "password2": "long-enough-pass-1", "value": "13700001111", "grade": "A",
        "content": "审计", "product": "外套", "amount": "1", "rating": "1", "complaint": "x", "days": "30",
        "kind_prefix": "message.", "text": "私下交易", "category": "custom", "severity": "high",
        "url": "https://hooks.example.com/x", "id": "1", "require_admin_totp": "on", "format": "csv",
        "receivers": company.sales_a_peer.pk, "from": company.sales_a.pk, "customers": customer.pk,
        "units": company.store_a.pk, "months": "3", "item": "1", "note": "x", "key": "deletions_count",
    }  # fmt: skip
    # Receivers for outside callers (WeCom's callback) write for no one's sign-in: not walked.
    signed_in_only = [route for route in console_routes() if not _public(route)]
    before, tables = Entry.objects.count(), snapshot(company.auditor)
    walked = 0
    for route in signed_in_only:
        urls = []
        for action in _console_actions() if "<str:" in route else [None]:
            url = "/" + re.sub(r"<(?:(\w+):)?(\w+)>", lambda m, a=action: a if m.group(1) == "str" else str(ids.get(m.group(2), 1)), route)  # noqa: E501
            urls.append(url)
        for url in urls:
            response = client.post(url, body)
            assert response.status_code < 500, (url, response.status_code)
            walked += 1
        client.post(f"/security/tokens/{own_token.pk}/revoke/")
    assert walked > 100
    kinds = set(Entry.objects.filter(seq__gte=before).values_list("kind", flat=True))
    assert kinds <= AUDITOR_KINDS, kinds - AUDITOR_KINDS
    assert snapshot(company.auditor) == tables
    assert ApiToken.objects.get(pk=manager_token.pk).revoked_at is None
    assert ApiToken.objects.get(pk=own_token.pk).revoked_at is not None  # their own: theirs to revoke
    assert not ApiToken.objects.filter(created_by=company.auditor).exclude(kind="personal").exists()


def test_the_console_writes_an_auditor_makes(company, scene):
    customer, hold, _manager_token = scene
    client = Client()
    client.post("/login/", {"username": "auditor", "password": PASSWORD})
    before = Entry.objects.count()
    assert client.post("/security/tokens/", {"name": "审计脚本", "days": "30"}).status_code == 302
    token = ApiToken.objects.get(created_by=company.auditor)
    assert client.post(f"/security/tokens/{token.pk}/revoke/").status_code == 302
    client.get("/security/totp/")
    company.auditor.refresh_from_db()
    secret = crypto.decrypt(company.auditor.totp_secret, aad=b"totp")
    assert client.post("/security/totp/", {"code": pyotp.TOTP(secret).now()}).status_code == 302
    assert client.post("/evidence/", {"customer": customer.pk}).status_code == 302
    assert client.post("/evidence/retention/holds/", {"reason": "审计取证", "customer": customer.pk}).status_code == 302
    assert client.post(f"/evidence/retention/holds/{hold.pk}/release/", {"reason": "结案"}).status_code == 302
    kinds = list(Entry.objects.filter(seq__gte=before, actor_id=company.auditor.pk).values_list("kind", flat=True))
    assert {
        "auth.token_issued", "auth.token_revoked", "auth.totp_enrolled", "evidence.package_created",
        "legal_hold.placed", "legal_hold.released",
    } <= set(kinds)  # fmt: skip
