"""Importing a customer sheet, beside what reading it and writing bare rows cost on their own.

    .venv/bin/python -m bench.import_customers [--postgres URL] [--rows 100000]

The issue calls it `bench/import`; `import` is a Python keyword, so the module is import_customers.

plan      reading the CSV, normalising every phone, the duplicate look-ups and owner checks
          (the dry run), beside reading and normalising alone (no database)
import    creating every planned customer through services.create_customers in one
          transaction, beside a bare insert of the same customers and sealed contacts

SQLite runs on a temporary file database in WAL mode, as the product does; PostgreSQL on a
database `custos_bench_customers` created at the URL's server and dropped afterwards.
"""

import argparse
import csv
import io
import random
import tempfile
import time
from pathlib import Path

from bench.customers import BENCH_DB, EPILOG, admin, setup_django

HEADER = ["客户姓名", "手机", "微信号", "等级", "标签", "负责人", "生日", "性别", "备注"]


def sheet(rows: int, owners: list[str], rng: random.Random) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(HEADER)
    for i in range(rows):
        writer.writerow(
            [
                rng.choice("王李张刘陈杨黄赵吴周")
                + rng.choice(["丽", "敏", "静", "伟", "强", "芳", "婷婷", "建国"]),
                rng.choice(["139", "138", "135", "150", "158", "186", "188"]) + f"{i:08d}",
                f"wx_{i:08d}" if rng.random() < 0.5 else "",
                rng.choice("ABCD"),
                rng.choice(["", "老客户", "新客、会员"]),
                rng.choice(owners),
                f"19{rng.randint(60, 99)}-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}",
                rng.choice("男女"),
                rng.choice(["", "喜欢周末来店", "老客户介绍"]),
            ]
        )
    return buffer.getvalue().encode("utf-8-sig")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], epilog=EPILOG)
    parser.add_argument("--postgres", metavar="URL", help="run on PostgreSQL instead of SQLite")
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="custos-bench-") as tmp:
        vendor = setup_django(tmp, args.postgres)
        try:
            run(vendor, args.rows, Path(tmp))
        finally:
            from django.db import connections

            connections.close_all()
            if args.postgres:
                admin(args.postgres, f"DROP DATABASE IF EXISTS {BENCH_DB}")


def run(vendor: str, rows: int, tmp: Path) -> None:
    from django.db import transaction

    from custos.customers import contacts, importer
    from custos.customers.models import Customer, CustomerContact
    from custos.org import demo as org_demo
    from custos.org.models import Employee, Role

    with transaction.atomic():
        org_demo.build(2026)
    actor = Employee.objects.get(user__username="admin")
    owners = list(Employee.objects.filter(role=Role.SALES).values_list("employee_no", flat=True))
    path = tmp / "sheet.csv"
    path.write_bytes(sheet(rows, owners, random.Random(4)))

    print(f"import of {rows:,} rows on {vendor}: rows/s\n  {'':<8} {'custos':>10} {'bare':>10} {'ratio':>7}")
    started = time.perf_counter()
    header, lines = importer.read_rows(path)
    report = importer.plan(actor, header, lines)
    plan_s = time.perf_counter() - started
    started = time.perf_counter()
    header, lines = importer.read_rows(path)
    columns = importer.resolve_columns(header, None)
    normalised = [contacts.normalise("phone", r.values[columns["phone"]]) for r in lines]
    read_s = time.perf_counter() - started
    print(f"  {'plan':<8} {rows / plan_s:>10,.0f} {rows / read_s:>10,.0f} {read_s / plan_s:>7.0%}")
    assert report.ok and len(report.create) == rows, (report.errors[:3], report.duplicates[:3])

    started = time.perf_counter()
    importer.run(actor, report)
    import_s = time.perf_counter() - started
    units = dict(Employee.objects.filter(role=Role.SALES).values_list("employee_no", "unit_id"))
    sales = dict(Employee.objects.filter(role=Role.SALES).values_list("employee_no", "pk"))
    with transaction.atomic():
        started = time.perf_counter()
        made = Customer.objects.bulk_create(
            [
                Customer(
                    name=p.name,
                    owner_id=sales[p.kwargs["owner"].employee_no],
                    unit_id=units[p.kwargs["owner"].employee_no],
                )
                for p in report.create
            ],
            batch_size=500,
        )
        sealed = []
        for customer, phone in zip(made, normalised, strict=True):
            s = contacts.seal(customer.pk, "phone", phone)
            sealed.append(
                CustomerContact(
                    customer=customer,
                    kind="phone",
                    value_encrypted=s.value_encrypted,
                    blind_index=s.blind_index[:63] + "x",
                    masked=s.masked,
                )
            )
        CustomerContact.objects.bulk_create(sealed, batch_size=1000)
        bare_s = time.perf_counter() - started
        transaction.set_rollback(True)
    print(f"  {'import':<8} {rows / import_s:>10,.0f} {rows / bare_s:>10,.0f} {bare_s / import_s:>7.0%}")
    print(f"  imported {report.created:,} customers in {import_s:.1f} s (plan {plan_s:.1f} s)")


if __name__ == "__main__":
    main()
