import itertools
import os
import shutil
import threading
import types

import pytest
from django.conf import settings
from django.test import Client

from custos.access import tokens
from custos.access.models import ApiToken
from custos.org import services
from custos.org.models import Role, Unit

PASSWORD = "correct-horse-battery"
_names = itertools.count(1)


def pytest_report_header(config):
    db = settings.DATABASES["default"]
    reason = getattr(settings, "POSTGRES_UNAVAILABLE", None)
    return f"custos tests on {db['ENGINE'].rsplit('.', 1)[-1]}" + (f" -- {reason}" if reason else "")


def pytest_collection_modifyitems(config, items):
    reason = getattr(settings, "POSTGRES_UNAVAILABLE", None)
    if reason:
        skip = pytest.mark.skip(reason=f"{reason}: PostgreSQL half skipped (set CUSTOS_TEST_DATABASE_URL)")
        for item in items:
            item.add_marker(skip)
    elif settings.DATABASES["default"]["ENGINE"] != "django.db.backends.postgresql":
        skip = pytest.mark.skip(reason="needs PostgreSQL: runs in the PostgreSQL half of make test")
        for item in items:
            if "postgres_only" in item.keywords:
                item.add_marker(skip)


def hire(unit: Unit, role: str, username: str | None = None, name: str | None = None):
    n = next(_names)
    return services.create_employee(
        actor=None, name=name or f"员工{n}", username=username or f"user{n}", password=PASSWORD, unit=unit, role=role
    )


@pytest.fixture
def company(db):
    """HQ → 华南区 (天河店, 祖庙店), 华东区 (徐汇店); staff of every role in known places."""
    hq = services.create_unit(actor=None, name="总部", kind=Unit.Kind.HQ, parent=None)
    south = services.create_unit(actor=None, name="华南区", kind=Unit.Kind.REGION, parent=hq)
    east = services.create_unit(actor=None, name="华东区", kind=Unit.Kind.REGION, parent=hq)
    store_a = services.create_unit(actor=None, name="天河店", kind=Unit.Kind.STORE, parent=south)
    store_a2 = services.create_unit(actor=None, name="祖庙店", kind=Unit.Kind.STORE, parent=south)
    store_b = services.create_unit(actor=None, name="徐汇店", kind=Unit.Kind.STORE, parent=east)
    c = types.SimpleNamespace(hq=hq, south=south, east=east, store_a=store_a, store_a2=store_a2, store_b=store_b)
    c.admin = hire(hq, Role.ADMIN, "admin")
    c.executive = hire(hq, Role.EXECUTIVE, "boss")
    c.auditor = hire(hq, Role.AUDITOR, "auditor")
    c.region_manager = hire(south, Role.MANAGER, "region_south")
    c.manager_a = hire(store_a, Role.MANAGER, "manager_a")
    c.manager_b = hire(store_b, Role.MANAGER, "manager_b")
    c.sales_a = hire(store_a, Role.SALES, "sales_a")
    c.sales_a_peer = hire(store_a, Role.SALES, "sales_a_peer")
    c.service_a = hire(store_a, Role.SERVICE, "service_a")
    c.sales_a2 = hire(store_a2, Role.SALES, "sales_a2")
    c.sales_b = hire(store_b, Role.SALES, "sales_b")
    return c


class ApiClient:
    """A JSON client that authenticates with a personal token, as a script or integration would."""

    def __init__(self, employee):
        _token, self.token = tokens.issue(actor=employee, kind=ApiToken.Kind.PERSONAL, name="test")
        self.client = Client(HTTP_AUTHORIZATION=f"Bearer {self.token}")

    def _call(self, method, path, body=None, **params):
        url = path if path.startswith("/") else f"/api/v1/{path}"
        fn = getattr(self.client, method)
        if method in ("get", "delete") and body is None:
            return fn(url, params or None)
        return fn(url, body or {}, content_type="application/json")

    def get(self, path, **params):
        return self._call("get", path, **params)

    def post(self, path, body=None):
        return self._call("post", path, body)

    def patch(self, path, body=None):
        return self._call("patch", path, body)

    def put(self, path, body=None):
        return self._call("put", path, body)

    def delete(self, path, body=None):
        return self._call("delete", path, body)


@pytest.fixture
def api():
    return ApiClient


@pytest.fixture
def console():
    """A browser-like client signed in as the employee through the login form."""

    def make(employee, password=PASSWORD):
        client = Client()
        response = client.post("/login/", {"username": employee.user.username, "password": password})
        assert response.status_code == 302, response.content[:500]
        return client

    return make


@pytest.fixture
def own_keys(tmp_path, monkeypatch):
    """A data directory of this test's own, so the keys file it rotates (and the attachments it
    re-encrypts) are scratch ones."""
    from custos.core import crypto

    monkeypatch.delenv("CUSTOS_FIELD_KEYS", raising=False)
    monkeypatch.setenv("CUSTOS_DATA_DIR", str(tmp_path))
    crypto.reset_cache()
    yield tmp_path / crypto.KEYS_FILE
    monkeypatch.undo()
    crypto.reset_cache()


# --- the browser: one Chromium for the whole session, whichever folder's tests ask for it ---

CHROMIUM = os.environ.get("CUSTOS_CHROMIUM", "/usr/bin/chromium")


@pytest.fixture(scope="session")
def browser():
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and no Chromium at {CHROMIUM}: the browser tests must run in CI")
        pytest.skip(f"no Chromium at {CHROMIUM}: install Debian's chromium package to run the browser tests")
    # Playwright's sync API runs an event loop in this thread; Django's ORM calls in the test
    # body are still synchronous, so tell Django not to refuse them.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    try:
        yield from _launch(sync_playwright)
    finally:
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)


def _launch(sync_playwright):
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
            ],
        )  # fmt: skip
        yield chromium
        chromium.close()


class _OneRequestAtATime:
    """A WSGI app that lets one request in at a time.

    On SQLite the test database lives in memory with a shared cache, and each of the live server's
    threads opens its own connection to it. Shared-cache SQLite locks whole tables and answers
    "database table is locked" at once instead of waiting, so two requests at once (a page loading
    three photos, two sign-ins) fail each other with a 500.
    """

    def __init__(self, app):
        self.app, self.lock = app, threading.Lock()

    def __call__(self, environ, start_response):
        with self.lock:
            return self.app(environ, start_response)


@pytest.fixture(scope="session")
def live_server(request):
    """pytest-django's live server, one request at a time on SQLite."""
    from django.db import connections
    from django.test.testcases import ThreadedWSGIServer
    from pytest_django.live_server_helper import LiveServer

    class SerialisedServer(ThreadedWSGIServer):
        def set_app(self, application):
            super().set_app(_OneRequestAtATime(application))

    addr = request.config.getvalue("liveserver") or os.getenv("DJANGO_LIVE_TEST_SERVER_ADDRESS") or "localhost"
    server = LiveServer(addr, start=False)
    if connections["default"].vendor == "sqlite":
        server.thread.server_class = SerialisedServer
    server.start()
    yield server
    server.stop()


@pytest.fixture
def page(browser, live_server):
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="zh-CN")
    page = context.new_page()
    page.set_default_timeout(10_000)
    page.base = live_server.url
    yield page
    context.close()
