"""`custos customers import`: each batch its own transaction, the rows in and not in named by
number when one is refused, and the same sheet imported again adding only what is missing."""

import io
import json
import threading
import time

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, transaction

from custos.customers import contacts, importer, services
from custos.customers.models import Customer, CustomerContact
from custos.customers.services import NewContact
from custos.ledger.models import Entry
from custos.ledger.verify import verify

from .test_import_export import write_csv

HEADER = ["客户姓名", "手机"]
ROWS = [[f"批量客户{i}", f"1391230{i:04d}"] for i in range(2, 9)]  # spreadsheet rows 2..8
PHONE_OF = {i: f"1391230{i:04d}" for i in range(2, 9)}


def _import(path, *extra):
    out = io.StringIO()
    try:
        call_command("customers", "import", str(path), "--as", "manager_a", *extra, stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def _names() -> set[str]:
    return set(Customer.objects.filter(name__startswith="批量客户").values_list("name", flat=True))


@pytest.mark.django_db(transaction=True)  # real commits: a batch is a transaction, not a savepoint
def test_a_batch_refused_at_create_time_keeps_the_ones_before_and_a_rerun_adds_the_rest(
    company, tmp_path, monkeypatch
):
    monkeypatch.setattr(importer, "BATCH", 2)  # batches: rows 2-3, 4-5, 6-7, 8
    path = write_csv(tmp_path, [HEADER, *ROWS])
    real_plan = importer.plan

    def plan_then_someone_adds_row_7s_number(*args, **kwargs):
        report = real_plan(*args, **kwargs)
        # Between the dry run and the third batch, a colleague in 徐汇店 saves row 7's number.
        services.create_customer(
            actor=company.sales_b, name="抢先的客户", contacts_in=[NewContact("phone", PHONE_OF[7])]
        )
        return report

    monkeypatch.setattr(importer, "plan", plan_then_someone_adds_row_7s_number)
    out, error = _import(path, "--json")
    assert error is not None and error.returncode == 1
    line = str(error)
    assert "\n" not in line and "6" in line and "7" in line and "徐汇店" in line
    report = json.loads(out)
    assert report["created"] == 4
    assert report["imported_rows"] == [2, 3, 4, 5]
    assert report["not_imported_rows"] == [6, 7, 8]
    assert report["failure"] == line
    # Batches 1 and 2 are committed; nothing of batch 3 (row 6 was fine, but its batch went back).
    assert _names() == {f"批量客户{i}" for i in (2, 3, 4, 5)}
    assert Entry.objects.filter(kind="customer.created", source="import").count() == 4

    # The plain report says the same, by row.
    monkeypatch.setattr(importer, "plan", real_plan)
    out, error = _import(path, "--dry-run")
    assert error is None and "would create: 2" in out  # rows 6 and 8: the rest are in already

    # Run again: the rows already in are duplicates, not errors; only what is missing is added.
    out, error = _import(path, "--json")
    assert error is None, error
    report = json.loads(out)
    assert report["created"] == 2 and report["imported_rows"] == [6, 8] and report["failure"] is None
    assert [d["row"] for d in report["duplicates"]] == [2, 3, 4, 5, 7]
    assert "天河店" in report["duplicates"][0]["message"] and "徐汇店" in report["duplicates"][4]["message"]
    assert _names() == {f"批量客户{i}" for i in (2, 3, 4, 5, 6, 8)}
    assert Entry.objects.filter(kind="customer.created", source="import").count() == 6
    assert verify().size == Entry.objects.count()


@pytest.mark.django_db(transaction=True)
def test_the_plain_report_names_the_rows_in_and_not_in(company, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "BATCH", 3)  # rows 2-4, 5-7, 8
    path = write_csv(tmp_path, [HEADER, *ROWS])
    real_plan = importer.plan

    def plan_then_a_duplicate(*args, **kwargs):
        report = real_plan(*args, **kwargs)
        services.create_customer(
            actor=company.sales_a, name="先到", contacts_in=[NewContact("phone", PHONE_OF[8])]
        )
        return report

    monkeypatch.setattr(importer, "plan", plan_then_a_duplicate)
    out, error = _import(path)
    assert error is not None
    assert "created: 6" in out
    assert "imported rows: 2-7" in out.splitlines() and "not imported rows: 8" in out.splitlines()
    assert _names() == {f"批量客户{i}" for i in range(2, 8)}


def test_a_row_create_would_refuse_is_an_error_of_the_dry_run(company, tmp_path):
    # Each of these passes a glance but not create_customer's checks: the plan says so up front,
    # so the import does not stop half-way on it.
    rows = [
        HEADER + ["来源", "标签"],
        ["好", "13912300101", "", ""],
        ["长" * 101, "13912300102", "", ""],
        ["来源太长", "13912300103", "来" * 51, ""],
        ["标签太长", "13912300104", "", "标" * 21],
        ["名字里有号码 13912300199", "13912300105", "", ""],
    ]
    header, lines = importer.read_rows(write_csv(tmp_path, rows))
    report = importer.plan(company.manager_a, header, lines)
    assert [p.number for p in report.create] == [2]
    assert [n for n, _m in report.errors] == [3, 4, 5, 6]


@pytest.mark.postgres_only
@pytest.mark.django_db(transaction=True)
def test_the_databases_unique_index_refuses_a_number_saved_meanwhile(company, tmp_path, monkeypatch):
    """A second writer holds row 7's number uncommitted while the import's third batch runs: the
    batch's check cannot see it, its customers are inserted, then the unique index refuses the
    contact once the other writer commits. That batch goes back whole; batches 1-2 stay."""
    monkeypatch.setattr(importer, "BATCH", 2)
    holder = services.create_customer(actor=company.sales_b, name="另一个写入者的客户")
    path = write_csv(tmp_path, [HEADER, *ROWS])
    header, lines = importer.read_rows(path)
    report = importer.plan(company.manager_a, header, lines)
    assert [p.number for p in report.create] == [2, 3, 4, 5, 6, 7, 8]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        importer_pid = cursor.fetchone()[0]
    holding, done = threading.Event(), threading.Event()
    outcome: dict[str, object] = {}

    def other_writer():
        # What create_customers does before it takes the ledger's lock: the contact row goes in.
        try:
            with transaction.atomic():
                normalised = contacts.normalise("phone", PHONE_OF[7])
                sealed = contacts.seal(holder.pk, "phone", normalised)
                CustomerContact.objects.create(
                    customer=holder,
                    kind="phone",
                    value_encrypted=sealed.value_encrypted,
                    blind_index=contacts.index("phone", normalised),
                    masked=sealed.masked,
                )
                holding.set()
                deadline = time.monotonic() + 30
                with connection.cursor() as cursor:  # commit once the import waits on our row
                    while time.monotonic() < deadline:
                        cursor.execute(
                            "SELECT count(*) FROM pg_locks WHERE NOT granted AND pid = %s", [importer_pid]
                        )
                        if cursor.fetchone()[0]:
                            break
                        time.sleep(0.02)
            outcome["committed"] = True
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            outcome["error"] = exc
        finally:
            connection.close()
            done.set()

    original = importer.create_batch
    batches = []

    def third_batch_waits_for_the_other_writer(actor, chunk):
        batches.append([p.number for p in chunk])
        if len(batches) == 3:
            threading.Thread(target=other_writer).start()
            assert holding.wait(30)
        return original(actor, chunk)

    monkeypatch.setattr(importer, "create_batch", third_batch_waits_for_the_other_writer)
    with pytest.raises(importer.BatchFailed) as raised:
        importer.run(company.manager_a, report)
    assert done.wait(30) and outcome == {"committed": True}, outcome
    assert batches == [[2, 3], [4, 5], [6, 7]]
    assert raised.value.report.imported == [2, 3, 4, 5]
    assert raised.value.report.not_imported == [6, 7, 8]
    # The index refused it (the check before the insert would have named the holder's unit).
    assert "徐汇店" not in str(raised.value)
    # Rows 6 and 7's customers were inserted before the index refused row 7's number: gone with their batch.
    assert _names() == {f"批量客户{i}" for i in (2, 3, 4, 5)}
    assert Entry.objects.filter(kind="customer.created", source="import").count() == 4

    monkeypatch.setattr(importer, "create_batch", original)
    header, lines = importer.read_rows(path)
    again = importer.plan(company.manager_a, header, lines)
    assert [p.number for p in again.create] == [6, 8]
    assert [n for n, _m in again.duplicates] == [2, 3, 4, 5, 7]
    importer.run(company.manager_a, again)
    assert _names() == {f"批量客户{i}" for i in (2, 3, 4, 5, 6, 8)}
