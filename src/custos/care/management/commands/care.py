"""`custos care ...`: the service desk's and the loyalty programme's jobs from the command line.

custos care import-points FILE --as USER [--dry-run] [--json]   points and levels from a POS export
custos care tasks                                               make the due contact tasks now
custos care loyalty                                             earn points, refresh levels, expire

An import with a wrong row imports nothing; the same file imported twice changes nothing the
second time. The other two are the nightly jobs (custos.care.tasks), safe to run again.
"""

import json

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from custos.care import key_accounts, loyalty, points_import, services
from custos.core.errors import DomainError
from custos.org import cli as org_cli

PROGRESS_FROM = 200


class Command(BaseCommand):
    help = "Care: import points from a POS export (with a dry run), run the desk's and loyalty's jobs."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        imp = actions.add_parser("import-points", help="points and levels from a POS export (.csv or .xlsx)")
        imp.add_argument("file", metavar="FILE")
        imp.add_argument(
            "--as", dest="actor", required=True, metavar="USER", help="who imports (user name or number)"
        )
        imp.add_argument("--dry-run", action="store_true", help="say what would change; change nothing")
        imp.add_argument("--json", dest="as_json", action="store_true", help="print the report as JSON")
        actions.add_parser(
            "tasks", help="make the contact tasks due within the week; send key-account reminders"
        )
        actions.add_parser("loyalty", help="points for purchases, levels refreshed, old points expired")

    def handle(self, *args, action, **options):
        try:
            getattr(self, "_" + action.replace("-", "_"))(**options)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    def _import_points(self, *, file, actor, dry_run, as_json, **_):
        me = org_cli.employee(actor)
        bar = None

        def progress(done, total):
            nonlocal bar
            if total < PROGRESS_FROM or as_json:
                return
            if bar is None:
                bar = tqdm(total=total, desc="importing", unit="row", file=self.stderr._out, leave=False)
            bar.n = done
            bar.refresh()

        report = points_import.run_file(me, file, dry_run=dry_run, progress=progress)
        if bar is not None:
            bar.close()
        if as_json:
            self.stdout.write(
                json.dumps({"dry_run": dry_run, **report.summary()}, ensure_ascii=False, indent=2)
            )
        else:
            if dry_run or report.errors:
                self.stdout.write(f"would import: {len(report.rows)}   errors: {len(report.errors)}")
                for p in report.rows[:50]:
                    self.stdout.write(
                        f"  row {p.number}: customer {p.customer_id}: {p.before} → {p.points}"
                        + (f", level {p.level}" if p.level else "")
                    )
            else:
                self.stdout.write(f"imported: {report.imported}   unchanged: {report.unchanged}")
            for number, message in report.errors:
                self.stdout.write(f"  row {number}: error: {message}")
        if report.errors:
            raise CommandError(f"{len(report.errors)} rows are wrong; nothing was imported")

    def _tasks(self, **_):
        made = services.generate_due_tasks()
        reminded = key_accounts.send_reminders()
        self.stdout.write(
            f"return visits: {made['return_visit']}   after purchases: {made['after_purchase']}   reminders: {reminded}"
        )

    def _loyalty(self, **_):
        earned, expired = loyalty.earn_for_purchases(), loyalty.expire()
        self.stdout.write(f"purchases earning points: {earned}   lots expired: {expired}")
