"""Issue 23, item 7: flows that fit the work: bulk waiving, plain strategy words, the auditor's
departures, the import's template, preview and failed rows."""

import csv
import io
from datetime import timedelta

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from custos.customers.models import ImportJob
from custos.handover import services as handover
from custos.handover.models import ChecklistItem
from custos.ledger.models import Entry


def _case_with_items(company, make_customer, n=3):
    for i in range(n):
        make_customer(company.sales_a_peer, name=f"交接客户{i}")
    case = handover.open_case(
        actor=company.manager_a,
        employee=company.sales_a_peer,
        last_day=timezone.localdate() + timedelta(days=3),
    )
    from custos.handover import checklist

    checklist.refresh(case)
    return case


def test_bulk_waive_with_one_reason(company, console, make_customer):
    case = _case_with_items(company, make_customer)
    open_items = list(ChecklistItem.objects.filter(case=case, done_at__isnull=True)[:2])
    assert len(open_items) == 2
    client = console(company.manager_a)
    page = client.get(f"/handover/cases/{case.pk}/").content.decode()
    assert 'id="bulk-waive"' in page and 'form="bulk-waive"' in page
    client.post(
        f"/handover/cases/{case.pk}/waive-many/",
        {"items": [i.pk for i in open_items], "reason": "店长已电话确认"},
    )
    for item in open_items:
        item.refresh_from_db()
        assert item.waived_at and item.waived_reason == "店长已电话确认"
    assert Entry.objects.filter(kind="handover.item_waived").count() == 2
    # Without a reason nothing is waived.
    rest = ChecklistItem.objects.filter(case=case, done_at__isnull=True, waived_at__isnull=True).first()
    client.post(f"/handover/cases/{case.pk}/waive-many/", {"items": [rest.pk], "reason": " "})
    rest.refresh_from_db()
    assert rest.waived_at is None


def test_auditor_opens_the_departures_read_only(company, console, make_customer):
    case = _case_with_items(company, make_customer, n=1)
    page = console(company.auditor).get("/handover/")
    assert page.status_code == 200
    body = page.content.decode()
    assert f"/handover/cases/{case.pk}/" in body and 'id="open-case"' not in body


def test_strategies_in_plain_words(company, console, make_customer):
    case = _case_with_items(company, make_customer, n=1)
    page = console(company.manager_a).get(f"/handover/cases/{case.pk}/").content.decode()
    assert "给手上客户最少的人" in page and "轮流分配：按顺序每人一个" in page


def test_import_template_preview_and_failed_rows(company, console):
    client = console(company.manager_a)
    template = client.get("/customers/import/template.csv")
    assert template.status_code == 200 and "attachment" in template["Content-Disposition"]
    header = next(csv.reader(io.StringIO(template.content.decode("utf-8-sig"))))
    assert header[:2] == ["姓名", "类型"] and "手机" in header

    buffer = io.StringIO()
    csv.writer(buffer).writerows(
        [["姓名", "手机"], ["好客户", "13900001111"], ["", "13900002222"], ["坏号码", "123"]]
    )
    response = client.post(
        "/customers/import/", {"file": SimpleUploadedFile("c.csv", buffer.getvalue().encode())}
    )
    job = ImportJob.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))
    page = client.get(f"/customers/import/{job.pk}/").content.decode()
    preview = page[page.index('id="import-preview"') :]
    assert "好客户" in preview and "13900002222" in preview  # the first rows, before any dry run

    client.post(f"/customers/import/{job.pk}/", {"action": "check", "map_name": "姓名", "map_phone": "手机"})
    page = client.get(f"/customers/import/{job.pk}/").content.decode()
    assert 'id="import-failed"' in page
    failed = list(
        csv.reader(
            io.StringIO(client.get(f"/customers/import/{job.pk}/failed.csv").content.decode("utf-8-sig"))
        )
    )
    assert [row[0] for row in failed[1:]] == ["3", "4"] and failed[1][1] and failed[2][1]
    assert failed[2][2:] == ["坏号码", "123"]


def test_one_customers_chats_with_one_employee_are_one_conversation(company, console):
    from custos.archive.models import Conversation
    from custos.ledger.services import append_batch
    from tests.alerts.conftest import message_event

    from_archive = message_event(company.sales_a, "您好，新款到了", contact="wm_one")  # single:<id>:wm_one
    from_phone = message_event(
        company.sales_a, "好的我看看", role="customer", contact="wm_one", source="device"
    )
    from_phone.payload["conversation"] = "wm_one"  # the work phone names the chat by the contact
    group = message_event(company.sales_a, "群里说一句", contact="wm_one")
    group.payload.update({"conversation": "wr_grp", "group": "wr_grp"})
    append_batch([from_archive, from_phone, group])
    chats = Conversation.objects.filter(employee=company.sales_a)
    assert sorted(c.messages for c in chats) == [1, 2] and chats.filter(key="wm_one", messages=2).exists()
