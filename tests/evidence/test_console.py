"""The console pages: build a package from the form, watch it, download it; retention and holds."""

import io
import json

from custos.evidence import offline
from custos.evidence.models import EvidencePackage, LegalHold, RetentionRule
from custos.ledger.models import Entry


def test_build_watch_and_download(chats, console):
    c = chats.company
    client = console(c.manager_a)
    page = client.get("/evidence/")
    assert page.status_code == 200
    html = page.content.decode()
    assert f'value="{chats.zhang.pk}"' in html and f'value="{chats.wang.pk}"' not in html  # scoped choices
    response = client.post("/evidence/", {"customer": str(chats.zhang.pk), "employee": "", "since": "", "until": ""})
    assert response.status_code == 302
    package = EvidencePackage.objects.get()
    assert response["Location"] == f"/evidence/{package.public_id}/"
    detail = client.get(response["Location"])
    assert 'data-status="done"' in detail.content.decode()
    fragment = client.get(response["Location"], HTTP_HX_REQUEST="true")
    assert fragment.content.decode().lstrip().startswith("<div id=\"package-status\"")
    download = client.get(f"/evidence/{package.public_id}/download/")
    assert download.status_code == 200
    report = offline.verify_package(io.BytesIO(b"".join(download.streaming_content)))
    assert report.ok, report.problems
    assert Entry.objects.filter(kind="evidence.package_downloaded", actor_id=c.manager_a.pk).count() == 1
    # Not the requester: not found, and no download recorded.
    other = console(c.region_manager)
    assert other.get(f"/evidence/{package.public_id}/").status_code == 404
    assert other.get(f"/evidence/{package.public_id}/download/").status_code == 404
    listing = client.get("/evidence/").content.decode()
    assert f'data-package="{package.public_id}" data-status="done"' in listing


def test_out_of_scope_customer_is_404_and_running_package_polls(chats, console):
    c = chats.company
    client = console(c.manager_a)
    assert client.post("/evidence/", {"customer": str(chats.wang.pk)}).status_code == 404
    package = EvidencePackage.objects.create(requested_by=c.manager_a, customer_id=chats.zhang.pk, total=10, done=4)
    html = client.get(f"/evidence/{package.public_id}/").content.decode()
    assert 'hx-trigger="every 2s"' in html and 'value="40"' in html


def test_bad_input_is_a_message_not_a_traceback(chats, console):
    client = console(chats.company.auditor)
    response = client.post("/evidence/", {"customer": "abc"}, HTTP_REFERER="/evidence/")
    assert response.status_code == 302
    response = client.post("/evidence/", {"since": "not a date"}, HTTP_REFERER="/evidence/")
    assert response.status_code == 302
    assert not EvidencePackage.objects.exists()


def test_sales_are_turned_away(chats, console):
    response = console(chats.company.sales_a).get("/evidence/")
    assert response.status_code == 302


def test_retention_page_rules_and_holds(chats, console):
    c = chats.company
    admin = console(c.admin)
    assert admin.get("/evidence/retention/").status_code == 200
    admin.post("/evidence/retention/rules/", {"kind_prefix": "message.", "days": "1095"})
    assert RetentionRule.objects.get().days == 1095
    page = admin.get("/evidence/retention/?preview=1").content.decode()
    assert 'data-kind="message."' in page and 'id="retention-preview"' in page

    auditor = console(c.auditor)
    auditor.post("/evidence/retention/holds/", {"customer": str(chats.zhang.pk), "reason": "诉讼保全"})
    hold = LegalHold.objects.get()
    assert hold.placed_by == c.auditor and hold.active
    auditor.post(f"/evidence/retention/holds/{hold.pk}/release/", {"reason": "结案"})
    hold.refresh_from_db()
    assert not hold.active and hold.released_by == c.auditor
    assert [json.loads(e.payload)["hold"] for e in Entry.objects.filter(kind__startswith="legal_hold.")] == [hold.pk] * 2
    # The auditor cannot change periods; a manager cannot see the page at all.
    auditor.post("/evidence/retention/rules/", {"kind_prefix": "call.", "days": "30"}, HTTP_REFERER="/evidence/retention/")
    assert not RetentionRule.objects.filter(kind_prefix="call.").exists()
    assert console(c.manager_a).get("/evidence/retention/").status_code == 302
