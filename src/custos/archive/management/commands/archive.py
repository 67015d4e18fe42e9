"""`custos archive ...`: credentials for work phones and connectors.

custos archive credential --as USER --employee WHO --name NAME       a device token and its secret
custos archive credential --as ADMIN --unit UNIT_ID --name NAME      an integration token and its secret
custos archive seal-check                                            chats or contacts in clear anywhere in the database?
"""

from django.core.management.base import BaseCommand, CommandError

from custos.archive import credentials
from custos.core.errors import DomainError
from custos.org import cli as org_cli
from custos.org.models import Employee, Role, Unit

_employee = org_cli.employee


class Command(BaseCommand):
    help = "Issue device and integration tokens with their HMAC signing secrets (shown once); check sealing at rest."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        cred = actions.add_parser("credential", help="issue a device or integration token with its secret")
        cred.add_argument("--as", dest="actor", required=True, metavar="USER", help="who issues it")
        cred.add_argument("--employee", metavar="WHO", help="a device token for this employee's work phone")
        cred.add_argument("--unit", type=int, metavar="UNIT_ID", help="an integration token for this unit")
        cred.add_argument("--name", required=True)
        cred.add_argument("--days", type=int, default=366)
        actions.add_parser(
            "seal-check",
            help="read every table and the job queue for chat text, phone numbers, WeChat ids and addresses in clear",
        )

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"do_{action.replace('-', '_')}")(**options)
        except DomainError as exc:
            raise CommandError(exc.message) from None

    def do_credential(self, actor, employee, unit, name, days, **options):
        if bool(employee) == bool(unit):
            raise CommandError("give --employee (a device token) or --unit (an integration token)")
        found_unit = None
        if unit:
            found_unit = Unit.objects.filter(pk=unit).first()
            if found_unit is None:
                raise CommandError(f"no unit {unit}")
        token, clear, secret = credentials.issue(
            actor=_employee(actor),
            kind="device" if employee else "integration",
            name=name,
            days=days,
            employee=_employee(employee) if employee else None,
            unit=found_unit,
            source="cli",
        )
        self.stdout.write(f"token:  {clear}\nsecret: {secret}\n(shown once; keep both on the device)")
        # Ready to paste: test traffic with this very credential against the running server.
        staff = ""
        if found_unit is not None:
            numbers = Employee.objects.filter(
                unit__path__startswith=found_unit.path, status="active", role__in=(Role.SALES, Role.SERVICE)
            ).order_by("pk").values_list("employee_no", flat=True)[:50]
            staff = f" --employees {','.join(numbers)}" if numbers else ""
        self.stdout.write(f"try it:  custos simulate --rate 5 --token={clear} --secret={secret}{staff}")

    def do_seal_check(self, **options):
        from custos.archive import seal_check

        wanted = seal_check.secrets()
        found = seal_check.leaks(seal_check.database_text() + "\n" + seal_check.queue_text(), wanted)
        for kind in seal_check.KINDS:
            shown = f"{len(found[kind]):,} of {len(wanted[kind]):,} found in clear"
            self.stdout.write(f"  {kind:<8} {shown}" + (f" (e.g. {found[kind][0][:12]}…)" if found[kind] else ""))
        if any(found[kind] for kind in seal_check.KINDS):
            raise CommandError("chat text or customers' contacts are stored in clear")
        self.stdout.write("no chat text, phone number, WeChat id or address in clear")
