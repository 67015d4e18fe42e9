"""`custos evidence ...`: build an evidence package, or check one offline.

custos evidence build (--customer ID | --employee ID | --from T --to T) [--as USERNAME] --out FILE
custos evidence verify PACKAGE.zip [--key PEM]

verify needs no database and no settings: `custos evidence verify` runs it before Django starts
(see custos.cli), and `python -m custos.evidence.offline` is the same check.
"""

import argparse
import shutil
from datetime import datetime

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from custos.core.errors import DomainError
from custos.evidence import offline, services
from custos.evidence.selectors import Selection
from custos.org.models import Employee

PROGRESS_FROM = 2_000  # entries; smaller packages are built before a bar would be worth drawing


def _id(text: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise argparse.ArgumentTypeError(f"{text!r} is not an id")
    return int(text)


def _time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a date or time (2024-03-01 or 2024-03-01T09:00)") from None
    return timezone.make_aware(value) if timezone.is_naive(value) else value


class Command(BaseCommand):
    help = "Build an evidence package (ZIP) or check one offline."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        build = actions.add_parser("build", help="build a package of a customer's, an employee's or a period's entries")
        build.add_argument("--customer", type=_id, metavar="ID")
        build.add_argument("--employee", type=_id, metavar="ID")
        build.add_argument("--from", dest="since", type=_time, metavar="TIME", help="entries at or after (local time)")
        build.add_argument("--to", dest="until", type=_time, metavar="TIME", help="entries before (local time)")
        build.add_argument("--as", dest="username", metavar="USERNAME", help="build within this employee's scope")
        build.add_argument("--out", required=True, metavar="FILE")
        check = actions.add_parser("verify", help="check a package offline and name whatever fails")
        check.add_argument("package", metavar="PACKAGE.zip")
        check.add_argument("--key", metavar="PEM", help="the ledger public key the package must be signed with")

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"do_{action}")(**options)
        except DomainError as exc:
            raise CommandError(exc.message) from None

    def do_build(self, customer, employee, since, until, username, out, **options):
        actor = None
        if username:
            actor = Employee.objects.select_related("unit").filter(user__username=username).first()
            if actor is None:
                raise CommandError(f"no employee with username {username!r}")
        bars = []

        def progress(stage, done, total):
            if total < PROGRESS_FROM:
                return
            if not bars:
                bars.append(tqdm(total=total, unit=" entries", file=self.stderr._out, leave=False))
            bars[0].set_description(stage)
            bars[0].n = done
            bars[0].refresh()

        try:
            built = services.build_now(Selection(customer, employee, since, until), actor=actor, progress=progress)
        finally:
            for bar in bars:
                bar.close()
        shutil.copyfile(built.path, out)
        self.stdout.write(
            f"evidence package written to {out}: {built.entries} entries, "
            f"{built.attachments_included} attachments ({built.attachments_missing} not included), "
            f"manifest sha256 {built.manifest_sha256}"
        )

    def do_verify(self, package, key=None, **options):
        rc = offline.main([package, *(["--key", key] if key else [])])
        if rc:
            raise CommandError("the package failed verification", returncode=rc)
