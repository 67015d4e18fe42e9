"""Import (CSV and XLSX, mapping, dry run, all or nothing), export (roles, watermark, ledger)."""

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command
from openpyxl import Workbook, load_workbook

from custos.core.errors import Forbidden, InvalidInput
from custos.customers import contacts, export, importer
from custos.customers.models import Customer
from custos.ledger.models import Entry

SHEET = [
    ["客户姓名", "手机", "微信号", "等级", "标签", "负责人", "生日", "性别", "备注"],
    ["罗美玲", "13912340001", "luomeiling", "a", "老客户、高端", "sales_a", "1985-04-02", "女", "喜欢真丝"],
    ["钱先生", "139 1234 0002", "", "B", "", "", "", "男", ""],
    ["同号的人", "+86 139-1234-0001", "", "C", "", "", "", "", ""],
]


def write_csv(tmp_path, rows, name="customers.csv", encoding="utf-8-sig"):
    path = tmp_path / name
    buffer = io.StringIO()
    csv.writer(buffer).writerows(rows)
    path.write_bytes(buffer.getvalue().encode(encoding))
    return path


def write_xlsx(tmp_path, rows, name="customers.xlsx"):
    book = Workbook()
    for row in rows:
        book.active.append(row)
    path = tmp_path / name
    book.save(path)
    return path


def plan_file(actor, path, mapping=None):
    header, rows = importer.read_rows(path)
    return importer.plan(actor, header, rows, mapping)


def test_a_dry_run_reports_creates_duplicates_and_errors_by_row(company, tmp_path, make_customer):
    make_customer(company.sales_b, phone="13912340002")  # 钱先生's number is already a 徐汇店 customer
    rows = [
        *SHEET,
        ["", "13912340009", "", "", "", "", "", "", ""],
        ["坏号码", "12345", "", "", "", "", "", "", ""],
    ]
    report = plan_file(company.manager_a, write_csv(tmp_path, rows))
    assert (
        report.columns["name"] == "客户姓名"
        and report.columns["phone"] == "手机"
        and report.columns["owner"] == "负责人"
    )
    assert [p.number for p in report.create] == [2]
    assert [n for n, _m in report.duplicates] == [3, 4]
    assert (
        "徐汇店" in report.duplicates[0][1]
        and "第 2 行" in report.duplicates[1][1]
        or "row 2" in report.duplicates[1][1]
    )
    assert [n for n, _m in report.errors] == [5, 6]
    assert "12345" in report.errors[1][1]
    assert Customer.objects.count() == 1  # nothing changed


def test_a_run_with_errors_imports_nothing_and_a_clean_one_imports_everything(company, tmp_path):
    path = write_csv(tmp_path, [*SHEET, ["坏号码", "12345"]])
    with pytest.raises(CommandError):
        call_command("customers", "import", str(path), "--as", "manager_a", stdout=io.StringIO())
    assert not Customer.objects.exists()
    clean = write_csv(tmp_path, SHEET[:3], name="clean.csv")
    out = io.StringIO()
    call_command("customers", "import", str(clean), "--as", "manager_a", stdout=out)
    assert "created: 2" in out.getvalue()
    first = Customer.objects.get(name="罗美玲")
    assert first.owner == company.sales_a and first.grade == "A" and first.created_by == company.manager_a
    assert first.profile == {"gender": "female", "birthday": "1985-04-02", "notes": "喜欢真丝"}
    assert sorted(first.tags.values_list("name", flat=True)) == ["老客户", "高端"]
    assert Customer.objects.get(name="钱先生").owner == company.manager_a  # no owner named: the importer
    assert Entry.objects.filter(kind="customer.created", source="import").count() == 2


def test_dry_run_from_the_command_changes_nothing_and_speaks_json(company, tmp_path):
    out = io.StringIO()
    call_command(
        "customers",
        "import",
        str(write_csv(tmp_path, SHEET)),
        "--as",
        "manager_a",
        "--dry-run",
        "--json",
        stdout=out,
    )
    report = json.loads(out.getvalue())
    assert report["dry_run"] and report["would_create"] == [2, 3] and report["duplicates"][0]["row"] == 4
    assert not Customer.objects.exists()


def test_xlsx_with_an_explicit_mapping_and_numbers_stored_as_numbers(company, tmp_path):
    rows = [["Customer", "Mobile", "Owner no."], ["Alice Wong", 13912340005, company.sales_a.employee_no]]
    path = write_xlsx(tmp_path, rows)
    with pytest.raises(InvalidInput):  # "Customer" is recognised, "Owner no." is not: map it
        importer.run(
            company.manager_a,
            plan_file(company.manager_a, path, importer.parse_map("name=Customer,owner=Nope")),
        )
    report = plan_file(
        company.manager_a, path, importer.parse_map("name=Customer，phone=Mobile，owner=Owner no.")
    )
    importer.run(company.manager_a, report)
    customer = Customer.objects.get(name="Alice Wong")
    assert customer.owner == company.sales_a
    assert contacts.open_value(customer.contacts.get()) == "+8613912340005"


def test_gbk_csv_from_chinese_excel(company, tmp_path):
    report = plan_file(company.manager_a, write_csv(tmp_path, SHEET[:2], encoding="gb18030"))
    assert report.create[0].name == "罗美玲"


def test_a_salesperson_imports_only_for_themself(company, tmp_path):
    report = plan_file(company.sales_a_peer, write_csv(tmp_path, SHEET[:3]))
    assert [n for n, _m in report.errors] == [2]  # names sales_a as owner: 404 in their scope
    assert [p.number for p in report.create] == [3]
    with pytest.raises(Forbidden):
        plan_file(company.auditor, write_csv(tmp_path, SHEET[:3], name="b.csv"))


def test_bad_mappings_and_files_are_clear_errors(company, tmp_path):
    with pytest.raises(InvalidInput):
        importer.parse_map("nom=姓名")
    with pytest.raises(InvalidInput):
        importer.parse_map("name")
    with pytest.raises(InvalidInput):
        plan_file(company.manager_a, write_csv(tmp_path, [["手机"], ["13912340001"]]))
    bogus = tmp_path / "x.xlsx"
    bogus.write_bytes(b"not a zip")
    with pytest.raises(InvalidInput):
        importer.read_rows(bogus)
    with pytest.raises(CommandError):
        call_command("customers", "import", str(tmp_path / "missing.csv"), "--as", "manager_a")


# --- export --------------------------------------------------------------------------------


def test_export_is_for_managers_masked_watermarked_and_recorded(company, make_customer, settings):
    settings.CUSTOS_EXPORT_RISK_ROWS = 2
    make_customer(company.sales_a, name="甲", phone="13912340001")
    make_customer(company.sales_a, name="乙")
    make_customer(company.sales_b, name="徐汇的客户")
    for who in (company.sales_a, company.auditor, company.service_a):
        with pytest.raises(Forbidden):
            export.export_customers(who)
    result = export.export_customers(company.manager_a)
    text = result.data.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text)))
    assert result.rows == 2 and len(rows) == 3
    assert "徐汇的客户" not in text and "13912340001" not in text and "139****0001" in text
    assert all(company.manager_a.name in row[-1] and result.export_id in row[-1] for row in rows[1:])
    entry = Entry.objects.get(kind="customer.exported")
    assert entry.actor_id == company.manager_a.pk and json.loads(entry.payload)["rows"] == 2
    assert Entry.objects.filter(kind="risk.bulk_export", actor_id=company.manager_a.pk).count() == 1


def test_an_exported_phone_filter_is_masked_in_the_ledger(company, make_customer):
    from custos.customers.selectors import Filters

    make_customer(company.sales_a, phone="13912340001")
    result = export.export_customers(company.manager_a, Filters(phone="13912340001"), fmt="xlsx")
    sheet = load_workbook(io.BytesIO(result.data)).active
    assert sheet.max_row == 2 and result.export_id in sheet.oddHeader.center.text
    assert "13912340001" not in Entry.objects.get(kind="customer.exported").payload


def test_export_over_the_api_and_the_attackers_view(company, api, make_customer):
    make_customer(company.sales_a, name="天河客户")
    make_customer(company.sales_b, name="徐汇客户")
    response = api(company.manager_a).post("customers/export", {"format": "csv"})
    assert response.status_code == 200 and response["Content-Disposition"].startswith("attachment;")
    body = response.content.decode("utf-8-sig")
    assert "天河客户" in body and "徐汇客户" not in body
    assert (
        api(company.manager_a)
        .post("customers/export", {"format": "csv", "unit_id": company.store_b.pk})
        .status_code
        == 404
    )
    assert api(company.sales_a).post("customers/export", {}).status_code == 403
    assert api(company.auditor).post("customers/export", {}).status_code == 403
    assert Entry.objects.filter(kind="customer.exported").count() == 1


def test_export_from_the_command(company, make_customer, tmp_path):
    make_customer(company.sales_a)
    out = io.StringIO()
    call_command("customers", "export", "--as", "manager_a", "-o", str(tmp_path / "x.csv"), stdout=out)
    assert "exported 1 customers" in out.getvalue() and (tmp_path / "x.csv").exists()
