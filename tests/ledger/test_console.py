"""The audit ledger in the console: scoped like the API, with the proof of an entry."""

import re

from custos.ledger import heads
from custos.ledger.models import Entry
from custos.org import services


def _seqs(page: str) -> set[int]:
    return {int(n) for n in re.findall(r'href="/ledger/(\d+)/"', page)}


def test_a_store_manager_sees_the_entries_of_the_store_and_nothing_else(company, console):
    services.freeze(actor=company.manager_b, employee=company.sales_b, reason="外店的事")
    services.freeze(actor=company.manager_a, employee=company.sales_a, reason="离职前删客户")
    page = console(company.manager_a).get("/ledger/?kind=org.").content.decode()
    seen = _seqs(page)
    theirs = Entry.objects.get(kind="org.employee_frozen", actor_id=company.manager_b.pk)
    ours = Entry.objects.get(kind="org.employee_frozen", actor_id=company.manager_a.pk)
    assert ours.seq in seen and theirs.seq not in seen
    assert "离职前删客户" in page and "外店的事" not in page
    assert console(company.manager_a).get(f"/ledger/{theirs.seq}/").status_code == 404


def test_an_auditor_reads_an_entry_with_its_inclusion_proof(company, console):
    services.freeze(actor=company.manager_a, employee=company.sales_a, reason="审计抽查")
    entry = Entry.objects.get(kind="org.employee_frozen")
    client = console(company.auditor)
    assert 'id="proof"' not in client.get(f"/ledger/{entry.seq}/").content.decode()  # no head yet
    head = heads.sign_head()
    page = client.get(f"/ledger/{entry.seq}/").content.decode()
    assert bytes(head.root_hash).hex() in page and bytes(entry.leaf_hash).hex() in page
    assert 'id="proof"' in page


def test_filters_and_bad_filters(company, console):
    client = console(company.executive)
    services.freeze(actor=company.manager_a, employee=company.sales_a, reason="x1")
    frozen = Entry.objects.get(kind="org.employee_frozen")
    by_actor = _seqs(client.get(f"/ledger/?actor={company.manager_a.pk}").content.decode())
    assert frozen.seq in by_actor
    assert _seqs(client.get(f"/ledger/?actor={company.manager_b.pk}&kind=org.").content.decode()) & by_actor == set()
    # nonsense in the filters is ignored, not a crash
    for query in ("actor=abc", "since=2026-13-45", "customer=99999999999999999999999", "page=-1"):
        assert client.get(f"/ledger/?{query}").status_code == 200


def test_sales_staff_have_no_ledger_link_but_see_only_their_own_entries(company, console):
    client = console(company.sales_a)
    assert 'href="/ledger/"' not in client.get("/").content.decode()
    services.freeze(actor=company.manager_a, employee=company.sales_a_peer, reason="x")
    assert _seqs(client.get("/ledger/").content.decode()) <= set(
        Entry.objects.filter(actor_id=company.sales_a.pk).values_list("seq", flat=True)
    )
