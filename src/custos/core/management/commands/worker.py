from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Run the background worker (Huey): periodic signed tree heads, deliveries, imports."

    def add_arguments(self, parser):
        parser.add_argument("--workers", type=int, default=settings.HUEY["consumer"]["workers"])

    def handle(self, *args, workers, **options):
        backend = "Redis" if settings.REDIS_URL else "SQLite"
        self.stdout.write(f"Custos worker: {workers} threads, queue on {backend}")
        call_command("run_huey", workers=workers, worker_type="thread")
