import os
import signal
import socket
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Serve the console and the API (gunicorn), with a background worker unless --no-worker."

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--workers", type=int, default=int(os.environ.get("CUSTOS_WEB_WORKERS", "2")))
        parser.add_argument("--no-worker", action="store_true", help="do not start the background job worker")

    def handle(self, *args, host, port, workers, no_worker, **options):
        if not 1 <= port <= 65535:
            raise CommandError(f"--port must be between 1 and 65535, not {port}")
        if workers < 1:
            raise CommandError("--workers must be at least 1")
        call_command("collectstatic", interactive=False, verbosity=0)
        children = []
        url = f"http://{host}:{port}/"
        if os.environ.get("CUSTOS_DEMO_WECOM_STUB") == "1":
            # The demo company is connected to a local stand-in of WeCom's API (custos.wecom.demo).
            children.append(subprocess.Popen(  # noqa: S603 - fixed argv, no shell
                [sys.executable, "-m", "custos.cli", "wecom", "stub", "--demo", "--callback", f"{url}wecom/callback/"]
            ))  # fmt: skip
            # Before the worker: the demo leaves WeCom messages queued, which would otherwise find
            # no one listening and wait for their retry.
            _wait_for_stub()
        if not no_worker:
            children.append(subprocess.Popen([sys.executable, "-m", "custos.cli", "worker"]))
        self.stdout.write(f"Custos console: {url}   API: {url}api/v1/docs   (Ctrl-C stops)")
        if not settings.DATABASES["default"]["ENGINE"].endswith("postgresql"):
            # SQLite has one writer at a time; threads in one process share it better than processes.
            workers_args = ["--workers", "1", "--threads", str(max(4, workers * 4))]
        else:
            workers_args = ["--workers", str(workers), "--threads", "4"]
        server = subprocess.Popen(  # noqa: S603 - fixed argv, no shell
            [
                sys.executable, "-m", "gunicorn", "custos.wsgi:application",
                "--bind", f"{host}:{port}", *workers_args,
                "--access-logfile", "-", "--log-level", "warning", "--graceful-timeout", "10",
            ]
        )  # fmt: skip
        children.append(server)

        def stop(*_):
            for child in children:
                if child.poll() is None:
                    child.terminate()

        signal.signal(signal.SIGTERM, stop)
        try:
            code = server.wait()
        except KeyboardInterrupt:
            code = 0
        finally:
            stop()
            for child in children:
                child.wait(timeout=15)
        if code:
            raise CommandError(f"the web server stopped with exit code {code}")


def _wait_for_stub(seconds: float = 10.0) -> None:
    from custos.wecom.demo import STUB_HOST, STUB_PORT

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            socket.create_connection((STUB_HOST, STUB_PORT), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
