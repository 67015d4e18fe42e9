import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from openpyxl import Workbook

from custos.care import loyalty
from custos.care.models import LoyaltyAccount, PointsEntry
from custos.customers import contacts
from custos.customers.models import CustomerContact
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
