"""`custos customers ...`: import and export customer records.

custos customers import FILE --as USER [--map name=姓名,phone=手机] [--owner WHO] [--dry-run]
custos customers export --as USER [-o FILE] [--format csv|xlsx]
custos customers reindex-search

An import with a wrong row imports nothing. A clean one goes in batches of 500 rows, each its own
transaction: when a batch is refused (someone added the same number meanwhile), the batches
before it stay in, the report names the rows imported and those not, and the command exits 1.
Running it again on the same file skips the rows already in as duplicates and adds the rest.

Re-encrypting contacts under a new key is `custos keys rotate`, with every other encrypted field.
"""

import contextlib
import json
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from custos.core.errors import DomainError
from custos.customers import backfill, export, importer
from custos.customers.models import Customer, CustomerContact
from custos.org import cli as org_cli

PROGRESS_FROM = 200  # rows; a smaller sheet is done before a bar would be worth drawing




_employee = org_cli.employee


class Command(BaseCommand):
    help = "Import customers from CSV/XLSX (with a dry run), export them watermarked."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        imp = actions.add_parser(
            "import",
            help="import customers from a .csv or .xlsx file: nothing if a row is wrong, else in batches",
        )
        imp.add_argument("file", metavar="FILE")
        imp.add_argument(
            "--as", dest="actor", required=True, metavar="USER", help="who imports (user name or number)"
        )
        imp.add_argument(
            "--map", default="", metavar="FIELD=COLUMN,...", help="which column holds which field"
        )
        imp.add_argument(
            "--owner", default=None, metavar="WHO", help="owner of rows that name none (default: --as)"
        )
        imp.add_argument("--dry-run", action="store_true", help="say what would happen; change nothing")
        imp.add_argument("--json", dest="as_json", action="store_true", help="print the report as JSON")
        exp = actions.add_parser(
            "export", help="export the customers in your scope, watermarked and recorded"
        )
        exp.add_argument("--as", dest="actor", required=True, metavar="USER")
        exp.add_argument("--format", choices=export.FORMATS, default="csv")
        exp.add_argument(
            "-o", "--output", default=None, metavar="FILE", help="default: the name the export suggests"
        )

        actions.add_parser(
            "reindex-search",
            help="fill the name search keys and the phones' last-four index (after a restore or an index key change)",
        )

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"do_{action.replace('-', '_')}")(**options)
        except DomainError as exc:
            raise CommandError(exc.message) from None

    def do_reindex_search(self, **options):
        customers, phones = backfill.fill(Customer, CustomerContact)
        self.stdout.write(f"search keys: {customers} customers, {phones} phones")

    def do_import(self, file, actor, map, owner, dry_run, as_json=False, **options):
        path = Path(file)
        if not path.is_file():
            raise CommandError(f"no such file: {file}")
        me = _employee(actor)
        default_owner = _employee(owner) if owner else None
        header, rows = importer.read_rows(path)
        rows = list(rows)
        show = len(rows) >= PROGRESS_FROM and not as_json
        # leave=False: the bars go once done, so the report below is what stays on the screen.
        with tqdm(
            total=len(rows), desc="checking", unit="row", disable=not show, file=self.stderr._out, leave=False
        ) as bar:
            report = importer.plan(
                me, header, rows, importer.parse_map(map), default_owner=default_owner, progress=bar.update
            )
        if report.ok and not dry_run and report.create:
            # A refused batch is not raised here: the report below says which rows are in and
            # which are not, and the error line follows it.
            with (
                tqdm(
                    total=len(report.create),
                    desc="importing",
                    unit="row",
                    disable=not show,
                    file=self.stderr._out,
                    leave=False,
                ) as bar,
                contextlib.suppress(importer.BatchFailed),
            ):
                importer.run(me, report, progress=bar.update)
        self._report(report, dry_run=dry_run, as_json=as_json)
        if not report.ok:
            raise CommandError(f"{len(report.errors)} rows are wrong; nothing was imported")
        if report.failure:
            raise CommandError(report.failure)

    def _report(self, report: importer.Report, *, dry_run: bool, as_json: bool) -> None:
        if as_json:
            self.stdout.write(
                json.dumps(
                    {"dry_run": dry_run, "columns": report.columns, **report.summary()},
                    ensure_ascii=False,
                    indent=2,
                )
            )
            return
        self.stdout.write("columns: " + ", ".join(f"{k}={v}" for k, v in report.columns.items()))
        verb = "would create" if dry_run or not report.ok else "created"
        count = len(report.create) if dry_run or not report.ok else report.created
        self.stdout.write(
            f"{verb}: {count}   duplicates: {len(report.duplicates)}   errors: {len(report.errors)}"
        )
        for number, message in report.duplicates:
            self.stdout.write(f"  row {number}: duplicate: {message}")
        for number, message in report.errors:
            self.stdout.write(f"  row {number}: error: {message}")
        if report.failure:
            self.stdout.write(f"imported rows: {importer.rows_text(report.imported) or 'none'}")
            self.stdout.write(f"not imported rows: {importer.rows_text(report.not_imported)}")

    def do_export(self, actor, format, output, **options):
        result = export.export_customers(_employee(actor), fmt=format, source="cli")
        path = Path(output or result.filename)
        path.write_bytes(result.data)
        self.stdout.write(
            f"exported {result.rows} customers to {path} (export {result.export_id}, recorded in the ledger)"
        )
