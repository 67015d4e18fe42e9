"""Importing from the console and the API: upload, column mapping, dry run, background import
with progress, batches all or nothing, encodings, size limit, NUL characters."""

import csv
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from openpyxl import Workbook

from custos.core import keyring
from custos.core.errors import InvalidInput, NotFound
from custos.customers import importer, imports
from custos.customers.models import Customer, ImportJob

HEADER = ["客户", "电话号码", "级别", "负责人"]  # "电话号码" is no header the importer knows


def sheet(rows, encoding="utf-8-sig") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer).writerows([HEADER, *rows])
    return buffer.getvalue().encode(encoding)


def rows(n, start=0):
    return [[f"客户{i}", f"1390000{i:04d}", "B", "sales_a"] for i in range(start, start + n)]


def upload(client, data, name="客户.csv"):
    return client.post("/customers/import/", {"file": SimpleUploadedFile(name, data)})


def _job(response) -> ImportJob:
    assert response.status_code == 302, response.content[:300]
    return ImportJob.objects.get(pk=int(response["Location"].rstrip("/").split("/")[-1]))


MAPPING = {"map_name": "客户", "map_phone": "电话号码", "map_grade": "级别", "map_owner": "负责人"}


def test_console_upload_map_check_and_import_with_progress(company, console):
    client = console(company.manager_a)
    assert b'id="import-link"' in client.get("/customers/").content
    job = _job(upload(client, sheet([*rows(3), ["", "13900009999", "B", ""], ["重复", "13900000001", "", ""]])))
    page = client.get(f"/customers/import/{job.pk}/").content.decode()
    assert 'name="map_phone"' in page and "电话号码" in page
    # Without the mapping the phone column is not recognised; the mapping says where it is.
    response = client.post(f"/customers/import/{job.pk}/", {"action": "check", **MAPPING})
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == "checked" and job.mapping["phone"] == "电话号码"
    assert job.report["would_create"] == 3 and job.report["error_count"] == 1
    assert job.report["errors"][0]["row"] == 5
    assert job.report["duplicates"][0]["row"] == 6
    page = client.get(f"/customers/import/{job.pk}/").content.decode()
    assert 'data-row="5"' in page and 'data-row="6"' in page and 'id="import-run"' not in page
    assert Customer.objects.count() == 0  # a dry run changes nothing

    # Fixed sheet: only good rows (and a duplicate, which is skipped).
    job = _job(upload(client, sheet([*rows(3), ["重复", "13900000001", "", ""]])))
    client.post(f"/customers/import/{job.pk}/", {"action": "check", **MAPPING})
    page = client.get(f"/customers/import/{job.pk}/").content.decode()
    assert 'id="import-run"' in page
    response = client.post(f"/customers/import/{job.pk}/", {"action": "run"})
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.total, job.done, job.percent) == ("done", 3, 3, 100)
    assert job.sheet_encrypted == ""  # the upload is not kept once imported
    assert Customer.objects.filter(owner=company.sales_a).count() == 3
    progress = client.get(f"/customers/import/{job.pk}/progress/").content.decode()
    assert 'data-status="done"' in progress and "hx-trigger" not in progress


def test_progress_polls_while_the_worker_runs(company, console):
    client = console(company.manager_a)
    job = imports.upload(company.manager_a, "a.csv", sheet(rows(2)))
    job.status, job.total, job.done = ImportJob.Status.RUNNING, 1000, 500
    job.save()
    html = client.get(f"/customers/import/{job.pk}/progress/").content.decode()
    assert 'hx-trigger="every 1s"' in html and 'value="50"' in html and 'data-count="done">500<' in html


def test_each_batch_is_all_or_nothing_and_a_rerun_finishes(company, monkeypatch):
    monkeypatch.setattr(importer, "BATCH", 2)
    job = imports.upload(company.manager_a, "a.csv", sheet(rows(5)))
    imports.check(company.manager_a, job.pk, {"name": "客户", "phone": "电话号码", "owner": "负责人"})
    # Someone adds row 5's number between the dry run and the import (the third batch).
    from custos.customers import services
    from custos.customers.services import NewContact

    services.create_customer(
        actor=company.sales_a, name="抢先", contacts_in=[NewContact("phone", "13900000004")]
    )
    job = imports.queue(company.manager_a, job.pk)
    # The worker plans again and skips it as a duplicate: nothing fails.
    assert (job.status, job.done, job.total) == ("done", 4, 4)

    # A failure inside a batch: that batch goes back, the ones before stay.
    job = imports.upload(company.manager_a, "b.csv", sheet(rows(5, start=100)))
    imports.check(company.manager_a, job.pk, {"name": "客户", "phone": "电话号码", "owner": "负责人"})
    calls = {"n": 0}
    real = services.create_customers

    def flaky(**kwargs):
        calls["n"] += 1
        made = real(**kwargs)
        if calls["n"] == 2:
            raise InvalidInput("the disk is full")
        return made

    monkeypatch.setattr(services, "create_customers", flaky)
    job = imports.queue(company.manager_a, job.pk)
    assert job.status == "failed" and "the disk is full" in job.error and job.done == 2
    names = set(Customer.objects.filter(name__startswith="客户10").values_list("name", flat=True))
    assert names == {"客户100", "客户101"}  # batch 1 in; batch 2 rolled back; batch 3 never ran

    monkeypatch.setattr(services, "create_customers", real)
    job = imports.upload(company.manager_a, "b.csv", sheet(rows(5, start=100)))
    job = imports.check(company.manager_a, job.pk, {"name": "客户", "phone": "电话号码", "owner": "负责人"})
    assert job.report["would_create"] == 3 and job.report["duplicate_count"] == 2
    assert imports.queue(company.manager_a, job.pk).status == "done"


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-8", "gb18030", "gbk", "utf-16"])
def test_encodings_excel_writes(company, encoding):
    job = imports.upload(company.manager_a, "a.csv", sheet([["罗美玲", "13900001111", "A", ""]], encoding))
    job = imports.check(company.manager_a, job.pk, {"name": "客户", "phone": "电话号码"})
    assert job.report["would_create"] == 1 and job.header == HEADER


def test_bad_files_are_clear_errors(company, console, settings):
    client = console(company.manager_a)
    with pytest.raises(InvalidInput, match="GB18030"):
        imports.upload(company.manager_a, "a.csv", b"\x80\x81\xff\xfe\x00garbage\xff")
    with pytest.raises(InvalidInput, match=r"\.csv 或 \.xlsx"):
        imports.upload(company.manager_a, "a.pdf", b"%PDF-1.4")
    with pytest.raises(InvalidInput, match="不是 Excel 工作簿"):
        imports.upload(company.manager_a, "a.xlsx", b"not a zip")
    settings.CUSTOS_IMPORT_MAX_BYTES = 1000
    response = upload(client, b"x" * 2000)
    assert response.status_code == 302 and response["Location"] == "/customers/import/"
    messages = [m.message for m in response.wsgi_request._messages]
    assert any("最多导入" in m for m in messages)  # the console speaks Chinese
    assert ImportJob.objects.count() == 0


def test_nul_in_a_cell_is_a_row_error_not_a_crash(company):
    data = sheet([["好人", "13900002222", "B", ""], ["坏\x00人", "13900003333", "B", ""]])
    job = imports.upload(company.manager_a, "a.csv", data)
    job = imports.check(company.manager_a, job.pk, {"name": "客户", "phone": "电话号码"})
    assert job.report["would_create"] == 1
    assert job.report["errors"][0]["row"] == 3 and "空字符" in job.report["errors"][0]["message"]
    # The CLI's reader says the same.
    header, lines = importer.read_csv(data)
    report = importer.plan(company.manager_a, header, lines, {"name": "客户", "phone": "电话号码"})
    assert [n for n, _m in report.errors] == [3]


def test_xlsx_upload_through_the_api(company, api):
    book = Workbook()
    for r in [HEADER, *rows(2)]:
        book.active.append(r)
    buffer = io.BytesIO()
    book.save(buffer)
    client = api(company.manager_a)
    response = client.client.post(
        "/api/v1/customers/imports", {"file": SimpleUploadedFile("客户.xlsx", buffer.getvalue())}
    )
    assert response.status_code == 201, response.content
    job = response.json()
    assert job["columns"] == HEADER and job["mapping"]["name"] == "客户" and job["status"] == "uploaded"
    checked = client.post(
        f"customers/imports/{job['id']}/check", {"mapping": {"name": "客户", "phone": "电话号码"}}
    )
    assert checked.status_code == 200 and checked.json()["report"]["would_create"] == 2
    run = client.post(f"customers/imports/{job['id']}/run")
    assert run.status_code == 202 and run.json()["status"] == "done"
    got = client.get(f"customers/imports/{job['id']}").json()
    assert (got["done"], got["total"], got["percent"]) == (2, 2, 100)


def test_api_import_errors_are_4xx(company, api, settings):
    client = api(company.manager_a)
    post = client.client.post
    assert post("/api/v1/customers/imports", {"file": SimpleUploadedFile("a.csv", b"")}).status_code == 400
    settings.CUSTOS_IMPORT_MAX_BYTES = 10
    response = post("/api/v1/customers/imports", {"file": SimpleUploadedFile("a.csv", b"x" * 20)})
    assert response.status_code == 400 and "最多导入" in response.json()["message"]
    settings.CUSTOS_IMPORT_MAX_BYTES = 10**6
    job = post("/api/v1/customers/imports", {"file": SimpleUploadedFile("a.csv", sheet(rows(1)))}).json()
    assert client.post(f"customers/imports/{job['id']}/run").status_code == 400  # no dry run yet
    bad = client.post(f"customers/imports/{job['id']}/check", {"mapping": {"name": "客\x00户"}})
    assert bad.status_code == 422
    bad = client.post(f"customers/imports/{job['id']}/check", {"mapping": {"nope": "客户"}})
    assert bad.status_code == 400
    assert client.get("customers/imports/99999999").status_code == 404


def test_an_import_is_only_its_uploaders(company, api, console):
    job = imports.upload(company.manager_a, "a.csv", sheet(rows(1)))
    assert api(company.manager_b).get(f"customers/imports/{job.pk}").status_code == 404
    assert api(company.admin).post(f"customers/imports/{job.pk}/check", {}).status_code == 404
    assert console(company.manager_b).get(f"/customers/import/{job.pk}/").status_code == 404
    assert console(company.manager_b).get(f"/customers/import/{job.pk}/progress/").status_code == 404
    with pytest.raises(NotFound):
        imports.queue(company.sales_a, job.pk)
    assert api(company.auditor).client.post(
        "/api/v1/customers/imports", {"file": SimpleUploadedFile("a.csv", sheet(rows(1)))}
    ).status_code == 403


def test_a_salesperson_cannot_import_for_others(company):
    job = imports.upload(company.sales_a, "a.csv", sheet(rows(1)))
    job = imports.check(company.sales_a, job.pk, {"name": "客户", "owner": "负责人"})
    assert job.report["error_count"] == 0  # owner is themself
    job = imports.upload(company.sales_a, "a.csv", sheet([["x", "13900007777", "B", "sales_a_peer"]]))
    job = imports.check(company.sales_a, job.pk, {"name": "客户", "owner": "负责人"})
    assert job.report["error_count"] == 1


def test_the_kept_sheet_and_the_report_are_encrypted(company):
    job = imports.upload(company.manager_a, "a.csv", sheet([["罗美玲", "13900004444", "A", ""], ["x", "1391234", "", ""]]))
    job = imports.check(company.manager_a, job.pk, {"name": "客户", "phone": "电话号码"})
    assert "1391234" in job.report["errors"][0]["message"]  # the error quotes the wrong value...
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM customers_importjob")
        raw = " ".join(str(v) for v in cursor.fetchone())
    # ...and a raw dump shows neither it nor the sheet (the mapping names columns, in clear)
    assert "1391234" not in raw and "13900004444" not in raw and "罗美玲" not in raw
    assert "customers.import" in [f.name for f in keyring.registered()]


def test_stale_uploads_are_forgotten(company):
    job = imports.upload(company.manager_a, "a.csv", sheet(rows(1)))
    ImportJob.objects.filter(pk=job.pk).update(created_at=job.created_at.replace(year=2020))
    assert imports.forget_stale_uploads() == 1
    job.refresh_from_db()
    assert job.sheet_encrypted == "" and job.status == "failed"


def test_the_dry_run_runs_in_the_worker_with_progress(company, console, monkeypatch):
    from custos.customers import tasks

    queued = []
    monkeypatch.setattr(tasks, "check_import", queued.append)  # a worker that has not started yet
    client = console(company.manager_a)
    job = imports.upload(company.manager_a, "a.csv", sheet(rows(3)))
    client.post(f"/customers/import/{job.pk}/", {"action": "check", **MAPPING})
    job.refresh_from_db()
    assert job.status == "checking" and queued == [job.pk]
    page = client.get(f"/customers/import/{job.pk}/").content.decode()
    assert 'data-status="checking"' in page and 'hx-trigger="every 1s"' in page
    imports.execute_check(job.pk)  # the worker
    job.refresh_from_db()
    assert (job.status, job.done, job.total, job.report["would_create"]) == ("checked", 3, 3, 3)
    polled = client.get(f"/customers/import/{job.pk}/progress/", HTTP_HX_REQUEST="true")
    assert polled["HX-Refresh"] == "true"


def test_a_wrong_mapping_is_said_at_once(company):
    job = imports.upload(company.manager_a, "a.csv", sheet(rows(1)))
    with pytest.raises(InvalidInput, match="没有这列"):
        imports.check(company.manager_a, job.pk, {"name": "没有这列"})
    job.refresh_from_db()
    assert job.status == "uploaded"
