"""`custos insights ...`: the roll-ups behind the dashboards, and the weekly report.

custos insights rebuild [--day YYYY-MM-DD] [--json]   recompute a day's roll-up (default today)
custos insights weekly                                 push this week's summary to the webhooks now
custos insights report --as USER -o FILE.pdf           the weekly PDF as USER sees it
"""

import json
from datetime import date

from django.core.management.base import BaseCommand, CommandError

from custos.core.errors import DomainError
from custos.insights import report, rollup
from custos.org import cli as org_cli


class Command(BaseCommand):
    help = "Insights: rebuild the daily roll-up (a projection), push the weekly report, write the PDF."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        rb = actions.add_parser("rebuild", help="recompute a day's figures and churn scores from the tables")
        rb.add_argument("--day", help="YYYY-MM-DD (default today)")
        rb.add_argument("--json", dest="as_json", action="store_true")
        actions.add_parser("weekly", help="push this week's summary to each unit's webhooks (once a week)")
        rp = actions.add_parser("report", help="write the weekly PDF as a person sees it")
        rp.add_argument("--as", dest="actor", required=True, metavar="USER")
        rp.add_argument("-o", "--output", required=True)

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    def _rebuild(self, *, day, as_json, **_):
        try:
            when = date.fromisoformat(day) if day else None
        except ValueError:
            raise CommandError("--day is a date: YYYY-MM-DD") from None
        built = rollup.build(when)
        if as_json:
            self.stdout.write(json.dumps({**built.__dict__, "day": str(built.day)}))
            return
        self.stdout.write(
            f"{built.day}: {built.customers} customers, {built.figures} figures, {built.scores} scores "
            f"in {built.seconds:.1f} s"
        )

    def _weekly(self, **_):
        sent = report.push_weekly()
        self.stdout.write(f"weekly summary queued for {len(sent)} units with webhooks")

    def _report(self, *, actor, output, **_):
        me = org_cli.employee(actor)
        data = report.pdf(me)
        try:
            with open(output, "wb") as fh:
                fh.write(data)
        except OSError as exc:
            raise CommandError(f"cannot write {output}: {exc.strerror}") from None
        self.stdout.write(f"{output}: {len(data)} bytes")
