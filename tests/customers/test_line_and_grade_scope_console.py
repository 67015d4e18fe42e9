"""Scope by product line and grade on the console's pages (issue 20 item 5), like the API matrix.

The pages are read from the URL configuration, so a new page is walked too: every page without
an id in its address, the dashboards, and every page of a customer's id for the customer
outside the limits. The two limited managers of test_line_and_grade_scope must not meet the
女装 customer's name or number on any of them; the customer has follow-ups due, purchases and a
chat, so the lists of tasks, chats and figures have something to leak.
"""

from datetime import timedelta

import pytest
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from custos.customers import activity
from custos.insights import rollup
from custos.ledger.services import Event, append_batch

from .test_line_and_grade_scope import LIMITED, lines  # noqa: F401 - the fixture

OUT = ("女装的客户", "13900002222", "nvzhuang_kh")
# Not pages to read: they sign out, take a callback, download a file made for a POST, or switch language.
SKIP = ("login/", "logout/", "i18n/", "wecom/callback/", "customers/import/template.csv")


def _walk(patterns, prefix=""):
    for p in patterns:
        if isinstance(p, URLResolver):
            yield from _walk(p.url_patterns, prefix + str(p.pattern))
        elif isinstance(p, URLPattern):
            yield prefix + str(p.pattern)


def console_pages():
    """Pages without an id in their address (and each dashboard)."""
    for path in _walk(get_resolver().url_patterns):
        if path.startswith(("api/", "^")) or path.startswith(SKIP):
            continue
        if "<str:name>" in path and path.count("<") == 1:
            for name in ("company", "team", "mine"):
                yield "/" + path.replace("<str:name>", name)
        elif "<" not in path:
            yield "/" + path


def customer_pages():
    """Pages of one customer, by their id (GET)."""
    for path in _walk(get_resolver().url_patterns):
        if path.startswith("api/") or "<int:customer_id>" not in path:
            continue
        if path.count("<") == 1:
            yield "/" + path
        elif "<str:action>" in path and path.count("<") == 2:
            for action in ("timeline", "activity", "follow-ups"):
                yield "/" + path.replace("<str:action>", action)


@pytest.fixture
def busy(company, lines):  # noqa: F811 - the fixture imported above
    """The 女装 customer has a follow-up due, a purchase and a chat; the figures are built."""
    kid, woman, _bare = lines
    today = timezone.localdate()
    for c in (kid, woman):
        activity.add_follow_up(
            actor=company.sales_a, customer=c, kind="call", content="回访", next_follow_up_on=today,
            occurred_at=timezone.now() - timedelta(days=3),
        )
        activity.add_purchase(actor=company.sales_a, customer=c, product="大衣", amount="999", purchased_on=today)
    at = timezone.now() - timedelta(days=2)
    append_batch([
        Event(
            kind="message.received",
            payload={"msgtype": "text", "conversation": f"c-{c.pk}", "contact": f"wx-{c.pk}", "group": None,
                     "text": "在吗", "attachment": None, "amount": None, "sender_role": "customer", "raw": {}},
            actor_id=company.sales_a.pk, unit_id=company.sales_a.unit_id, customer_id=c.pk,
            source="test-archive", source_id=f"m-{c.pk}", occurred_at=at,
        )
        for c in (kid, woman)
    ])  # fmt: skip
    rollup.build()
    return lines


@pytest.mark.parametrize("viewer", LIMITED)
def test_no_console_page_shows_a_customer_outside_the_limits(company, console, busy, viewer):
    client = console(getattr(company, viewer))
    pages = list(console_pages())
    assert "/customers/" in pages and "/conversations/" in pages and "/insights/team/" in pages
    seen_in = []
    for url in pages:
        response = client.get(url)
        assert response.status_code < 500, (url, response.status_code)
        text = response.content.decode("utf-8", "replace") if not getattr(response, "streaming", False) else ""
        seen_in += [(url, s) for s in OUT if s in text]
    assert not seen_in
    assert "童装的客户" in client.get("/customers/").content.decode()


@pytest.mark.parametrize("viewer", LIMITED)
def test_a_customer_outside_the_limits_has_no_page(company, console, busy, viewer):
    _kid, woman, _bare = busy
    client = console(getattr(company, viewer))
    pages = list(customer_pages())
    assert "/customers/<int:customer_id>/" in pages
    for path in pages:
        url = path.replace("<int:customer_id>", str(woman.pk))
        response = client.get(url)
        assert response.status_code in (404, 405) or response.status_code == 302 and "女装" not in response.get(
            "Location", ""
        ), (url, response.status_code)
        assert not any(s in response.content.decode("utf-8", "replace") for s in OUT), url


def test_without_limits_the_pages_do_show_the_customer(company, console, busy):
    """The walk can fail: the same pages show the 女装 customer to the unlimited region manager."""
    from custos.org import product_lines

    product_lines.set_limits(actor=company.admin, employee=company.region_manager, lines=[], grades=[])
    client = console(type(company.region_manager).objects.get(pk=company.region_manager.pk))
    shown = {url for url in console_pages() if "女装的客户" in client.get(url).content.decode("utf-8", "replace")}
    assert {"/customers/", "/conversations/", "/ledger/", "/insights/team/"} <= shown
