"""The monitoring policy: published in versions, acknowledged by every employee before they work
on in the console, each step a ledger entry; managers see who in their scope has not."""

import json

import pytest

from custos.access import transparency
from custos.core.errors import Forbidden, InvalidInput
from custos.ledger.models import Entry

TEXT = "本公司对工作手机与企业微信中与客户的会话进行存档，用于客户资产保护与合规审计；仅经授权的管理人员可查阅；保存三年。"


def test_publishing_is_for_admins_and_executives_and_each_text_is_a_version(company):
    with pytest.raises(Forbidden):
        transparency.publish(actor=company.manager_a, body=TEXT)
    with pytest.raises(InvalidInput):
        transparency.publish(actor=company.admin, body="太短")
    v1 = transparency.publish(actor=company.admin, body=TEXT)
    with pytest.raises(InvalidInput):
        transparency.publish(actor=company.executive, body=TEXT + "\r\n")  # the same words again
    v2 = transparency.publish(actor=company.executive, body=TEXT + "\n新增：通话录音保存一年。")
    assert (v1.version, v2.version) == (1, 2) and transparency.current() == v2
    entries = [json.loads(e.payload) for e in Entry.objects.filter(kind="policy.published").order_by("seq")]
    assert [p["version"] for p in entries] == [1, 2]
    assert entries[0]["sha256"] == transparency.digest(TEXT) and entries[0]["text"] == TEXT


def test_the_console_waits_for_the_acknowledgement_and_a_new_version_asks_again(company, console):
    page = console(company.sales_a)
    assert page.get("/customers/").status_code == 200  # no policy yet: nothing to acknowledge
    v1 = transparency.publish(actor=company.admin, body=TEXT)
    r = page.get("/customers/?q=王")
    assert r.status_code == 302 and r["Location"].startswith("/policy/?next=")
    shown = page.get(r["Location"]).content.decode()
    assert TEXT in shown and 'name="version" value="1"' in shown
    # a write is held back as well, and the API (scripts, phones) is not a page to read
    assert page.post("/customers/new/", {"name": "x"})["Location"] == "/policy/"
    assert page.get("/api/v1/customers").status_code == 200
    # acknowledging an outdated version is refused; the current one returns to where they were
    transparency.publish(actor=company.admin, body=TEXT + "\n第二版。")
    r = page.post("/policy/acknowledge/", {"version": v1.version, "next": "/customers/?q=王"})
    assert r.status_code == 302 and not Entry.objects.filter(kind="policy.acknowledged").exists()
    r = page.post("/policy/acknowledge/", {"version": 2, "next": "/customers/?q=王"})
    assert r["Location"] == "/customers/?q=%E7%8E%8B"
    assert page.get("/customers/").status_code == 200
    page.post("/policy/acknowledge/", {"version": 2})  # twice is once
    acks = Entry.objects.filter(kind="policy.acknowledged")
    assert acks.count() == 1 and acks.get().actor_id == company.sales_a.pk
    assert json.loads(acks.get().payload)["version"] == 2
    # a foreign next is not followed
    transparency.publish(actor=company.admin, body=TEXT + "\n第三版。")
    r = page.post("/policy/acknowledge/", {"version": 3, "next": "https://evil.example/"})
    assert r["Location"] == "/"


def test_managers_see_who_in_their_scope_has_not_acknowledged(company, console):
    transparency.publish(actor=company.admin, body=TEXT)
    for e in (company.manager_a, company.sales_a):
        transparency.acknowledge(employee=e, version=1)
    missing = {e.pk for e in transparency.not_acknowledged(company.manager_a)}
    assert missing == {company.sales_a_peer.pk, company.service_a.pk}
    assert transparency.acknowledged_count(company.manager_a) == (2, 4)
    assert company.sales_b.pk in {e.pk for e in transparency.not_acknowledged(company.admin)}
    assert not transparency.not_acknowledged(company.sales_a).exists()  # a salesperson sees only themself
    page = console(company.manager_a).get("/policy/").content.decode()
    assert company.sales_a_peer.name in page and company.sales_b.name not in page
    assert 'action="/policy/publish/"' not in page
    admin = console(company.admin)
    admin.post("/policy/acknowledge/", {"version": 1})
    assert 'action="/policy/publish/"' in admin.get("/policy/").content.decode()
    r = admin.post("/policy/publish/", {"body": TEXT + "\n更新。"})
    assert r.status_code == 302 and transparency.current().version == 2
    r = console(company.manager_a).post("/policy/publish/", {"body": TEXT + "\n经理改的。"})
    assert transparency.current().version == 2  # refused, with the reason shown


def test_every_employee_finds_the_policy_in_the_menu(company, console):
    transparency.publish(actor=company.admin, body=TEXT)
    for person in (company.sales_a, company.manager_a, company.auditor):
        page = console(person)
        page.post("/policy/acknowledge/", {"version": 1})
        html = page.get("/customers/").content.decode()
        assert 'href="/policy/"' in html, person
        assert TEXT in page.get("/policy/").content.decode()
