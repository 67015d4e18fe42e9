"""`custos retention run [--dry-run]`: redact bodies past their retention period, holds aside.

The same run as the nightly Huey task; --dry-run only counts. `custos retention rules` lists them.
"""

from django.core.management.base import BaseCommand

from custos.evidence import services
from custos.evidence.models import LegalHold, RetentionRule


class Command(BaseCommand):
    help = "Apply retention rules (redact expired bodies unless a legal hold covers them), or list them."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        run = actions.add_parser("run", help="redact the bodies past their retention period")
        run.add_argument("--dry-run", action="store_true", help="count what would be redacted, change nothing")
        actions.add_parser("rules", help="list the retention rules and active legal holds")

    def handle(self, *args, action, **options):
        getattr(self, f"do_{action}")(**options)

    def do_run(self, dry_run=False, **options):
        results = services.run_retention(dry_run=dry_run)
        if not results:
            self.stdout.write("no retention rules: every entry is kept forever")
            return
        for r in results:
            verb = "would redact" if dry_run else "redacted"
            count = r.expired - r.held if dry_run else r.redacted
            self.stdout.write(
                f"{r.kind_prefix}* ({r.days} days, before {r.cutoff:%Y-%m-%d}): {r.expired} expired, "
                f"{r.held} under legal hold, {verb} {count}"
            )

    def do_rules(self, **options):
        for rule in RetentionRule.objects.all():
            self.stdout.write(f"{rule.kind_prefix}*\t{rule.days} days")
        for hold in LegalHold.objects.filter(released_at__isnull=True):
            criteria = ", ".join(f"{k}={v}" for k, v in hold.criteria().items() if v is not None)
            self.stdout.write(f"legal hold #{hold.pk}: {criteria} ({hold.reason})")
