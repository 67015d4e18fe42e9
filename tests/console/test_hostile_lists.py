"""Every console page, walked with hostile paging and filter values: never a 5xx.

The pages are read from the URL configuration, as tests/access/test_authorization_matrix.py reads
the API's routes, so a list added later is walked without editing this file. The query keys each
page reads are learnt from a first, clean request (every `request.GET` look-up is recorded), then
each is sent the values an attacker would try: numbers past 64 bits, negatives, non-numbers,
dates that do not exist, very long strings. Path ids get the same treatment.
"""

import re
import uuid

import pytest
from django.http import QueryDict
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils.datastructures import MultiValueDict

from custos.alerts.models import Alert
from custos.ledger.models import Entry

HUGE = "9223372036854775807"  # the largest 64-bit integer: one more row past it overflows
HOSTILE = [
    HUGE,
    "9223372036854775808",
    "99999999999999999999999999999999",
    "9" * 5000,  # past Python's int-from-str digit limit
    "-1",
    "-9223372036854775809",
    "0",
    "1e9",
    "0x10",
    " 2 ",
    "²",  # str.isdigit() says yes, int() says no
    "١٢",  # Arabic-Indic digits: int() reads them
    "abc",
    "",
    "2024-02-30",
    "9999-12-31",
    "0000-00-00",
    "%00",
    "'; DROP TABLE ledger_entry; --",
    "<script>alert(1)</script>",
    "超长" * 3000,
    "a" * 20000,
]
HOSTILE_SHORT = [HUGE, "9" * 5000, "-1", "²", "abc", "2024-02-30", "0000-00-00", "超长" * 3000]
# The page alone (every other key left out, so the list is at its longest).
PAGE_ONLY = [HUGE, "9223372036854775808", "9" * 30, "9" * 5000, "-1", "0", "²", "abc", "1", "2", "3", "999",
             "1000000", "100000000000"]  # fmt: skip
SKIP = ("api/", "i18n/", "login/", "logout/")
# Ids in the path, past 64 bits too: Django's <int:> takes any run of digits.
HOSTILE_IDS = ["0", HUGE, "9223372036854775808", "99999999999999999999999999"]


def _routes(patterns=None, prefix=""):
    for p in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(p.pattern)
        if isinstance(p, URLResolver):
            yield from _routes(p.url_patterns, route)
        elif isinstance(p, URLPattern):
            yield route


def console_routes():
    return sorted(r for r in _routes() if not r.startswith(SKIP) and not r.startswith("^"))


def test_the_walk_finds_the_lists_of_the_issue():
    routes = set(console_routes())
    assert {"customers/", "customers/pool/", "ledger/", "conversations/", "conversations/search/"} <= routes
    assert {"alerts/", "staff/", "evidence/", "handover/", "conversations/c/<int:conversation_id>/"} <= routes


@pytest.fixture
def world(company, django_capture_on_commit_callbacks):
    """A few rows behind every list, and one object for every kind of id a page takes."""
    from custos.archive import credentials
    from custos.archive.models import Conversation
    from custos.customers import services
    from tests.archive.conftest import Device, msg

    customers = [
        services.create_customer(actor=company.sales_a, name=f"客户{i}", owner=company.sales_a,
                                 contacts_in=[services.NewContact("phone", f"1380013800{i}")])
        for i in range(3)
    ]  # fmt: skip
    phone = Device(company.sales_a, actor=company.manager_a)
    with django_capture_on_commit_callbacks(execute=True):
        phone.send(*(msg(f"h{i}", "这单咱们私下交易，加我私人微信", contact="wm_h") for i in range(3)))
    credentials.issue(actor=company.admin, kind="device", name="手机", employee=company.sales_a2)
    return {
        "customer_id": customers[0].pk,
        "contact_id": customers[0].contacts.first().pk,
        "employee_id": company.sales_a.pk,
        "conversation_id": Conversation.objects.first().pk,
        "alert_id": Alert.objects.first().pk,
        "seq": Entry.objects.order_by("seq").first().seq,
    }


def fill(route: str, ids: dict, hostile: str | None = None) -> str:
    def one(m):
        converter, name = m.group(1), m.group(2)
        if converter == "uuid":
            return str(uuid.uuid4())
        if converter == "str":
            return "detail"
        return hostile if hostile is not None else str(ids.get(name, 1))

    return "/" + re.sub(r"<(?:(\w+):)?(\w+)>", one, route)


class Recorder:
    """Records the keys a view reads from request.GET."""

    def __init__(self, monkeypatch):
        self.keys: set[str] = set()
        recorder = self
        for name in ("get", "getlist", "__getitem__", "__contains__"):
            original = getattr(MultiValueDict, name)

            def spy(self, key, *args, _original=original, **kwargs):
                if isinstance(self, QueryDict) and isinstance(key, str):
                    recorder.keys.add(key)
                return _original(self, key, *args, **kwargs)

            monkeypatch.setattr(QueryDict, name, spy)


def _get(client, url, params=None, failed=None):
    try:
        response = client.get(url, params or {})
        status = response.status_code
    except Exception as exc:  # noqa: BLE001 - the test client re-raises what would be a 500
        response, status = None, f"500 {type(exc).__name__}: {str(exc)[:80]}"
    if response is None or status >= 500:
        shown = (url, {k: v[:24] for k, v in (params or {}).items()}, status)
        if failed is None:
            raise AssertionError(shown)
        failed.append(shown)
    return response


@pytest.mark.parametrize("who", ["admin", "manager_a"])
def test_no_console_page_answers_hostile_paging_or_filters_with_a_5xx(company, console, world, monkeypatch, who):
    client = console(getattr(company, who))
    walked, failed = 0, []
    for route in console_routes():
        url = fill(route, world)
        recorder = Recorder(monkeypatch)
        _get(client, url, failed=failed)
        monkeypatch.undo()
        keys = (recorder.keys | {"page"}) - {"next"}
        # The store manager's lists are the admin's narrowed by scope: the values that broke
        # something once are enough there (the whole walk is ~2,000 requests per viewer).
        for value in HOSTILE if who == "admin" else HOSTILE_SHORT:
            _get(client, url, {key: value for key in keys}, failed)
        for value in PAGE_ONLY if who == "admin" else PAGE_ONLY[:8]:
            _get(client, url, {"page": value}, failed)
        walked += 1
    assert not failed, "\n".join(map(str, failed))
    assert walked >= 30


@pytest.mark.parametrize("who", ["admin", "manager_a"])
def test_no_console_page_answers_a_hostile_path_id_with_a_5xx(company, console, world, who):
    client = console(getattr(company, who))
    failed = []
    for route in console_routes():
        if "<int:" not in route:
            continue
        for value in HOSTILE_IDS:
            _get(client, fill(route, world, value), failed=failed)
    assert not failed, "\n".join(map(str, failed))
    # Past any id there is: not found, as every id outside the viewer's scope is.
    for url in (f"/customers/{HUGE}/", f"/conversations/c/{HUGE}/", f"/ledger/{HUGE}/", f"/alerts/{HUGE}/",
                f"/staff/{HUGE}/", "/customers/99999999999999999999999999/"):  # fmt: skip
        assert client.get(url).status_code == 404, url


LISTS = ["/customers/", "/customers/pool/", "/ledger/", "/conversations/", "/conversations/search/?q=a",
         "/alerts/", "/staff/"]  # fmt: skip


@pytest.mark.parametrize("url", LISTS)
def test_a_page_past_the_end_shows_the_last_page(company, console, world, url):
    client = console(company.admin)
    joiner = "&" if "?" in url else "?"
    first = client.get(url)
    for page in (HUGE, "99999999999999999999999", "1000000"):
        response = client.get(f"{url}{joiner}page={page}")
        assert response.status_code == 200, (url, page)
        shown = response.context["page"]
        assert shown.number == shown.paginator.num_pages, (url, page)
    assert first.context["page"].number == 1
    for junk in ("-3", "abc", "0", "²"):
        assert client.get(f"{url}{joiner}page={junk}").context["page"].number == 1, (url, junk)
