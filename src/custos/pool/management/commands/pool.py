"""`custos pool ...`: the public pool from the command line.

custos pool recycle [--dry-run] [--batch N] [--json]   remind, then move stale customers back
custos pool rules                                       every pool with its rules
custos pool claim CUSTOMER --as USER --reason TEXT      claim one customer for USER
custos pool stats --as USER [--json]                    size and age, claims, recycled per owner

The recycle run is the nightly job's (custos.pool.tasks); run on demand it resumes an
unfinished run and moves nothing twice.
"""

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from custos.core.errors import DomainError
from custos.org import cli as org_cli
from custos.pool import recycle, selectors, services
from custos.pool.models import Pool

_employee = org_cli.employee


class Command(BaseCommand):
    help = "The public pool (公海池): recycle run (with a dry run), rules, claims, stats."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        rec = actions.add_parser(
            "recycle", help="remind owners, then move stale customers back into their pool"
        )
        rec.add_argument(
            "--dry-run", action="store_true", help="list what would move and why; change nothing"
        )
        rec.add_argument(
            "--batch", type=int, default=recycle.BATCH, help="customers per batch (default %(default)s)"
        )
        rec.add_argument("--json", dest="as_json", action="store_true", help="print JSON")
        actions.add_parser("rules", help="every pool with its rules")
        cl = actions.add_parser("claim", help="claim a pool customer")
        cl.add_argument("customer", type=int)
        cl.add_argument("--as", dest="actor", required=True, metavar="USER")
        cl.add_argument("--reason", default="")
        st = actions.add_parser("stats", help="pool size and age, claims and conversion, recycled per owner")
        st.add_argument("--as", dest="actor", required=True, metavar="USER")
        st.add_argument("--json", dest="as_json", action="store_true")

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"_{action}")(**options)
        except DomainError as exc:
            raise CommandError(exc.message) from exc

    def _recycle(self, *, dry_run, batch, as_json, **_):
        if batch < 1 or batch > 100000:
            raise CommandError("--batch is between 1 and 100000")
        if dry_run:
            report = recycle.dry_run(batch=batch)
            rows = [
                {
                    "customer": f.customer_id,
                    "name": f.name,
                    "owner": f.owner_id,
                    "grade": f.grade,
                    "pool": f.pool.name,
                    "rule": f.rule.pk,
                    "why": f.why,
                }
                for f in report.would_move
            ]
            if as_json:
                self.stdout.write(json.dumps({"would_move": rows}, ensure_ascii=False))
                return
            for r in rows:
                self.stdout.write(
                    f"{r['customer']}\t{r['name']}\towner {r['owner']}\t{r['pool']}\t{r['why']}"
                )
            self.stdout.write(f"{len(rows)} customers would move (dry run: nothing changed)")
            return
        started = timezone.now()
        report = recycle.run(batch=batch)
        seconds = (timezone.now() - started).total_seconds()
        summary = {
            "run": report.run,
            "moved": len(report.moved),
            "reminded": report.reminded,
            "batches": report.batches,
            "seconds": round(seconds, 2),
        }
        if as_json:
            self.stdout.write(json.dumps(summary))
        else:
            self.stdout.write(
                f"run {summary['run']}: {summary['moved']} moved, {summary['reminded']} reminded, "
                f"{summary['batches']} batches in {summary['seconds']} s"
            )

    def _rules(self, **_):
        for pool in Pool.objects.select_related("unit"):
            self.stdout.write(
                f"{pool.pk}\t{pool.name} ({pool.unit.name})\t{pool.visibility}\tclaims/day {pool.claims_per_day}\t"
                f"held ≤ {pool.max_held}\tcooldown {pool.cooldown_days} d"
            )
            for rule in selectors.rules_of(pool):
                state = "" if rule.enabled else " (off)"
                self.stdout.write(
                    f"  rule {rule.pk}: {recycle.describe(rule)}, remind {rule.remind_days} d before{state}"
                )

    def _claim(self, *, customer, actor, reason, **_):
        me = _employee(actor)
        services.claim(actor=me, customer_id=customer, reason=reason, ledger_source="cli")
        self.stdout.write(f"claimed customer {customer} for {me.name}")

    def _stats(self, *, actor, as_json, **_):
        s = selectors.stats(_employee(actor))
        data = {
            "size": s.size,
            "oldest": s.oldest.isoformat() if s.oldest else None,
            "age_days": s.age_buckets,
            "claims": s.claims,
            "recycled": [{**r, "last": r["last"].isoformat() if r["last"] else None} for r in s.recycled],
        }
        self.stdout.write(json.dumps(data, ensure_ascii=False, indent=None if as_json else 2))
