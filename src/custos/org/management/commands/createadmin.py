import getpass
import os

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from custos.core.errors import DomainError
from custos.org import services
from custos.org.models import Role, Unit


class Command(BaseCommand):
    help = "Create an administrator (and the headquarters unit on an empty database)."

    def add_arguments(self, parser):
        parser.add_argument("--username", required=True)
        parser.add_argument("--name", help="display name (default: the user name)")
        parser.add_argument("--company", default="总部", help="name of the headquarters unit, if it is created")
        parser.add_argument(
            "--password-env",
            default="CUSTOS_ADMIN_PASSWORD",
            help="environment variable holding the password (default CUSTOS_ADMIN_PASSWORD); prompts when unset",
        )

    def handle(self, *args, username, name, company, password_env, **options):
        password = os.environ.get(password_env)
        if not password:
            if not os.isatty(0):
                raise CommandError(f"set {password_env} or run in a terminal to be asked for the password")
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                raise CommandError("the passwords differ")
        try:
            with transaction.atomic():
                hq = Unit.objects.filter(parent=None).order_by("pk").first()
                if hq is None:
                    hq = services.create_unit(actor=None, name=company, kind=Unit.Kind.HQ, parent=None)
                services.create_employee(
                    actor=None, name=name or username, username=username, password=password, unit=hq, role=Role.ADMIN
                )
        except DomainError as exc:
            raise CommandError(exc.message) from exc
        self.stdout.write(f"Administrator {username} created in {hq.name}.")
