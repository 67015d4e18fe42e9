import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from custos.care import loyalty
from custos.care.models import LoyaltyAccount, PointsEntry
from custos.customers import contacts
from custos.customers.models import CustomerContact, ImportJob
from custos.ledger.models import Entry


def _phone(customer) -> str:
    contact = CustomerContact.objects.get(customer=customer, kind="phone")
    return contacts.open_value(contact)


@pytest.fixture
def members(company, make_customer):
    loyalty.set_level(
        actor=company.executive, code="gold", name="金卡", rank=2, min_spend=5000, min_purchases=4
    )
    return (
        make_customer(company.sales_a, name="甲"),
        make_customer(company.sales_a_peer, name="乙"),
        make_customer(company.sales_b, name="外店"),
    )


def _csv(tmp_path, text, name="pos.csv", encoding="utf-8-sig"):
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def test_dry_run_then_import_then_again_changes_nothing(company, members, tmp_path):
    a, b, _far = members
    path = _csv(
        tmp_path,
        f"客户编号,会员手机,积分,会员等级\n{a.pk},,1200,金卡\n,{_phone(b)},300,\n",
        encoding="gb18030",
    )
    out = io.StringIO()
    call_command("care", "import-points", str(path), "--as", "manager_a", "--dry-run", stdout=out)
    assert "would import: 2" in out.getvalue() and not PointsEntry.objects.exists()
    out = io.StringIO()
    call_command("care", "import-points", str(path), "--as", "manager_a", stdout=out)
    assert "imported: 2" in out.getvalue()
    acc = LoyaltyAccount.objects.get(customer=a)
    assert (acc.balance, acc.level.code) == (1200, "gold")
    assert LoyaltyAccount.objects.get(customer=b).balance == 300
    assert Entry.objects.filter(kind="loyalty.points_imported").count() == 2
    out = io.StringIO()
    call_command("care", "import-points", str(path), "--as", "manager_a", stdout=out)
    assert "imported: 0   unchanged: 2" in out.getvalue()
    assert LoyaltyAccount.objects.get(customer=a).balance == 1200


def test_a_wrong_row_imports_nothing_and_other_stores_do_not_exist(company, members, tmp_path):
    a, _b, far = members
    path = _csv(tmp_path, f"客户编号,积分\n{a.pk},100\n{far.pk},50\n{a.pk},abc\n")
    out = io.StringIO()
    with pytest.raises(CommandError, match="2 rows are wrong"):
        call_command("care", "import-points", str(path), "--as", "manager_a", stdout=out)
    assert f"row 3: error: 你的客户中没有编号为 {far.pk} 的客户。" in out.getvalue()
    assert "row 4: error: “abc”不是整数积分。" in out.getvalue()
    assert not PointsEntry.objects.exists()
    with pytest.raises(CommandError, match="只有经理和高管可以导入积分"):
        call_command("care", "import-points", str(path), "--as", "sales_a", stdout=io.StringIO())


def test_xlsx_through_the_api(company, members, api):
    a, b, _far = members
    book = Workbook()
    sheet = book.active
    sheet.append(["customer_id", "points", "expires_on"])
    sheet.append([a.pk, 800, "2030-01-31"])
    sheet.append([b.pk, 40, None])
    data = io.BytesIO()
    book.save(data)
    client = api(company.manager_a).client
    upload = SimpleUploadedFile("pos.xlsx", data.getvalue())
    dry = client.post("/api/v1/care/loyalty/import?dry_run=true", {"file": upload})
    assert dry.status_code == 200, dry.content
    assert dry.json()["would_import"] == 2 and dry.json()["imported"] == 0
    done = client.post(
        "/api/v1/care/loyalty/import", {"file": SimpleUploadedFile("pos.xlsx", data.getvalue())}
    )
    assert done.json()["imported"] == 2
    lot = PointsEntry.objects.get(customer=a, kind="imported")
    assert (lot.points, lot.remaining, lot.expires_on.isoformat()) == (800, 800, "2030-01-31")
    bad = client.post("/api/v1/care/loyalty/import", {"file": SimpleUploadedFile("pos.pdf", b"%PDF")})
    assert bad.status_code == 400 and bad.json()["error"] == "invalid"


def _sheet(text: str, name: str = "pos.csv") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, text.encode("utf-8-sig"))


def test_console_checks_then_imports_through_the_worker_with_progress(company, members, console):
    a, b, _far = members
    client = console(company.manager_a)
    sheet = f"客户编号,积分,会员等级\n{a.pk},1500,金卡\n{b.pk},20,\n"
    response = client.post("/care/loyalty/", {"file": _sheet(sheet)})
    assert response.status_code == 302
    job = ImportJob.objects.get(kind="points")
    assert response["Location"] == f"/care/loyalty/import/{job.pk}/"
    # The worker's dry run (immediate in the tests) counted every row and changed nothing.
    assert (job.status, job.total, job.done) == ("checked", 2, 2)
    assert job.report["would_create"] == 2 and job.report["error_count"] == 0
    assert not PointsEntry.objects.exists()
    page = client.get(f"/care/loyalty/import/{job.pk}/").content.decode()
    assert 'data-count="would_create">2<' in page and 'id="import-run"' in page
    assert client.post(f"/care/loyalty/import/{job.pk}/").status_code == 302
    job.refresh_from_db()
    assert (job.status, job.done, job.total, job.percent) == ("done", 2, 2, 100)
    assert job.sheet_encrypted == ""  # the sheet is not kept once imported
    acc = LoyaltyAccount.objects.get(customer=a)
    assert (acc.balance, acc.level.code) == (1500, "gold")
    progress = client.get(f"/care/loyalty/import/{job.pk}/progress/").content.decode()
    assert 'data-status="done"' in progress and 'data-count="done">2<' in progress
    assert "hx-get" not in progress  # nothing left to poll
    # The same file again: same digest, same keys, nothing changes.
    client.post("/care/loyalty/", {"file": _sheet(sheet)})
    again = ImportJob.objects.filter(kind="points").order_by("-pk").first()
    client.post(f"/care/loyalty/import/{again.pk}/")
    assert LoyaltyAccount.objects.get(customer=a).balance == 1500
    assert Entry.objects.filter(kind="loyalty.points_imported").count() == 2
    # The job is its uploader's, and it is not a customers' import.
    assert console(company.manager_b).get(f"/care/loyalty/import/{job.pk}/").status_code == 404
    assert client.get(f"/customers/import/{job.pk}/").status_code == 404
    assert f"/care/loyalty/import/{job.pk}/" not in client.get("/customers/import/").content.decode()


def test_console_wrong_rows_offer_no_import_and_download_the_reasons(company, members, console):
    a, _b, far = members
    client = console(company.manager_a)
    client.post("/care/loyalty/", {"file": _sheet(f"客户编号,积分\n{a.pk},100\n{far.pk},=1+1\n")})
    job = ImportJob.objects.get(kind="points")
    assert job.report["error_count"] == 1
    page = client.get(f"/care/loyalty/import/{job.pk}/").content.decode()
    assert 'id="import-run"' not in page and 'data-row="3"' in page
    assert client.post(f"/care/loyalty/import/{job.pk}/").status_code in (302, 400)
    job.refresh_from_db()
    assert job.status == "checked" and not PointsEntry.objects.exists()
    failed = client.get(f"/care/loyalty/import/{job.pk}/failed.csv").content.decode("utf-8-sig")
    assert failed.splitlines()[1].startswith("3,") and "'=1+1" in failed
    console(company.sales_a).post("/care/loyalty/", {"file": _sheet("客户编号,积分\n")})
    assert ImportJob.objects.filter(kind="points").count() == 1  # a salesperson imports nothing


def test_api_jobs_and_the_small_sheet_limit(company, members, api):
    a, b, _far = members
    client = api(company.manager_a).client
    made = client.post(
        "/api/v1/care/loyalty/imports", {"file": _sheet(f"customer_id,points\n{a.pk},70\n{b.pk},30\n")}
    )
    assert made.status_code == 201, made.content
    job = made.json()
    assert (job["status"], job["report"]["would_create"], job["total"]) == ("checked", 2, 2)
    ran = client.post(f"/api/v1/care/loyalty/imports/{job['id']}/run")
    assert ran.status_code == 202 and ran.json()["status"] == "done" and ran.json()["percent"] == 100
    assert client.get(f"/api/v1/care/loyalty/imports/{job['id']}").json()["done"] == 2
    assert LoyaltyAccount.objects.get(customer=b).balance == 30
    other = api(company.manager_b).client.get(f"/api/v1/care/loyalty/imports/{job['id']}")
    assert other.status_code == 404
    again = client.post(f"/api/v1/care/loyalty/imports/{job['id']}/run")
    assert again.status_code == 400
    big = "customer_id,points\n" + "".join(f"{a.pk},{n}\n" for n in range(2001))
    refused = client.post("/api/v1/care/loyalty/import?dry_run=true", {"file": _sheet(big)})
    assert refused.status_code == 400 and "/api/v1/care/loyalty/imports" in refused.json()["message"]
