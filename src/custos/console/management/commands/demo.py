from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from custos.access import demo as access_demo
from custos.alerts import demo as alerts_demo
from custos.archive import demo as archive_demo
from custos.care import demo as care_demo
from custos.customers import demo as customers_demo
from custos.customers import demo_lines
from custos.devices import demo as devices_demo
from custos.field import demo as field_demo
from custos.handover import demo as handover_demo
from custos.insights import demo as insights_demo
from custos.org import demo as org_demo
from custos.org.models import Employee
from custos.pool import demo as pool_demo
from custos.wecom import demo as wecom_demo


class Command(BaseCommand):
    help = "Load the demo company (a clothing chain with staff of every role), reproducible from a seed."

    def add_arguments(self, parser):
        parser.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
        parser.add_argument("--if-empty", action="store_true", help="do nothing when the database has staff already")

    def handle(self, *args, seed, if_empty, **options):
        if Employee.objects.exists():
            if if_empty:
                self.stdout.write("Demo data already loaded; keeping it.")
                self._print_logins()
                return
            raise CommandError("the database already has staff; the demo loads into an empty database only")
        self.stdout.write(f"Loading the demo company (seed {seed}) ...")
        with transaction.atomic():
            org_demo.build(seed)
            customers_demo.build(seed)
            archive_demo.build(seed)
            alerts_demo.build(seed)
            handover_demo.build(seed)
            pool_demo.build(seed)
            wecom_demo.build(seed)
            care_demo.build(seed)
            devices_demo.build(seed)
            field_demo.build(seed)
            demo_lines.build(seed)
            insights_demo.build(seed)
            access_demo.build(seed)  # last: every employee the demos hired is asked
        self.stdout.write(f"Loaded {Employee.objects.count()} staff.")
        self._print_logins()

    def _print_logins(self):
        rows = [
            ("admin", "系统管理员 administrator"),
            ("boss", "老板 executive"),
            ("region1", "华南区经理 region manager"),
            ("store1", "广州天河店店长 store manager"),
            ("sales1", "广州天河店导购 salesperson"),
            ("buyer1", "华南区童装买手经理 manager of 童装 only"),
            ("auditor", "审计 auditor"),
        ]
        if not Employee.objects.filter(user__username="admin").exists():
            return
        self.stdout.write(f"Demo logins (password for all: {org_demo.DEMO_PASSWORD}):")
        for username, label in rows:
            self.stdout.write(f"  {username:<9} {label}")
