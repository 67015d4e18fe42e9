"""`custos partition ...`: monthly partitions of ledger_entry and archive_message (PostgreSQL).

custos partition status                       partitioned or not, and the partitions of each table
custos partition apply [--dry-run] [--ahead N] convert tables not partitioned yet (re-runnable)
custos partition ahead [--months N]           create this and the next N months' partitions

See custos.core.partitioning and docs/deploy.md. On SQLite every action says so and does nothing.
"""

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection

from custos.core import partitioning


class Command(BaseCommand):
    help = "Monthly partitions of the ledger and archive messages on PostgreSQL: status, apply, ahead."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        actions.add_parser("status", help="which tables are partitioned, and their partitions")
        apply = actions.add_parser("apply", help="partition the tables not partitioned yet (copies rows)")
        apply.add_argument("--dry-run", action="store_true", help="only say what would be done")
        apply.add_argument("--ahead", type=int, default=partitioning.AHEAD_MONTHS)
        ahead = actions.add_parser("ahead", help="create the coming months' partitions")
        ahead.add_argument("--months", type=int, default=partitioning.AHEAD_MONTHS)

    def handle(self, *args, action, **options):
        if connection.vendor != "postgresql":
            self.stdout.write("not PostgreSQL: tables are not partitioned, nothing to do")
            return
        months = options.get("months", options.get("ahead"))
        if months is not None and not 0 <= months <= 120:
            raise CommandError("months ahead must be between 0 and 120")
        try:
            if action == "status":
                with connection.cursor() as cursor:
                    for spec in partitioning.SPECS:
                        if partitioning.is_partitioned(cursor, spec.table):
                            names = partitioning.partitions(cursor, spec.table)
                            self.stdout.write(
                                f"{spec.table}: partitioned by month of {spec.key}, {len(names)} partitions"
                            )
                            for name in names:
                                self.stdout.write(f"  {name}")
                        else:
                            self.stdout.write(f"{spec.table}: not partitioned")
            elif action == "apply" and options["dry_run"]:
                for line in partitioning.plan(connection):
                    self.stdout.write(line)
            elif action == "apply":
                done = partitioning.apply(connection, ahead=months, log=self.stdout.write)
                for line in done or ["nothing to convert: every table is partitioned already"]:
                    self.stdout.write(line)
            else:
                created = partitioning.ensure_ahead(connection, ahead=months)
                self.stdout.write(
                    f"created {len(created)} partitions" + (": " + ", ".join(created) if created else "")
                )
        except DatabaseError as exc:
            raise CommandError(
                f"partitioning failed, nothing changed: {str(exc).strip().splitlines()[0]}"
            ) from None
