"""`custos simulate --rate N --token T --secret S`: realistic chat traffic against a running Custos.

See custos.archive.simulate. With a device token every event is that employee's work phone;
with an integration token (a connector serving a unit) each event names its employee, so give
--employees (numbers or user names in the token's unit). `custos archive credential` prints the
full command line for the credential it issues.
"""

import os
import signal
import sys
import time

from django.core.management.base import BaseCommand, CommandError

from custos.archive import simulate


class Command(BaseCommand):
    help = "Send realistic signed chat traffic (Chinese chats, calls, recalls, suspicious phrases) to a running server."

    def add_arguments(self, parser):
        parser.description = (
            "Sends staff-customer chats in Chinese, calls, red packets, recalls, contact deletions, re-sent "
            "batches and disguised suspicious phrases to POST /api/v1/ingest/events of a running Custos, "
            "signed with a device or integration credential from `custos archive credential`. A device token "
            "sends as its employee's work phone; an integration token needs --employees (events name their "
            "employee). Ctrl-C stops with a summary."
        )
        parser.add_argument("--rate", type=float, required=True, metavar="N", help="events per second (about)")
        parser.add_argument("--url", default="http://127.0.0.1:8000", help="the running server (default %(default)s)")
        parser.add_argument("--token", default=os.environ.get("CUSTOS_INGEST_TOKEN"), help="device or integration token (or CUSTOS_INGEST_TOKEN)")
        parser.add_argument("--secret", default=os.environ.get("CUSTOS_INGEST_SECRET"), help="its signing secret (or CUSTOS_INGEST_SECRET)")
        parser.add_argument("--employees", default="", metavar="A,B,...", help="integration tokens only: employee numbers or user names to chat as")
        parser.add_argument("--duration", type=float, metavar="SECONDS", help="stop after this long (default: until Ctrl-C)")
        parser.add_argument("--seed", type=int, default=2026, help="the same seed, the same conversations")
        parser.add_argument("--contacts", type=int, default=200, help="customers chatting (default %(default)s)")

    def handle(self, *args, rate, url, token, secret, employees, duration, seed, contacts, **options):
        if rate <= 0:
            raise CommandError("--rate must be above 0")
        if not token or not secret:
            raise CommandError("give --token and --secret (from `custos archive credential`)")
        staff = [e.strip() for e in employees.split(",") if e.strip()]
        traffic = simulate.Traffic(seed, staff or None, contacts=max(1, contacts))
        totals = simulate.Totals()
        live = sys.stderr.isatty()

        def report(t):
            if live:
                sys.stderr.write("\r" + t.line() + "   ")
                sys.stderr.flush()
            else:
                self.stderr.write(t.line())

        interrupted = False
        # Started in the background by a non-interactive shell (CI, nohup) a process inherits
        # SIGINT ignored, and Python then leaves it so; a load generator must stop on Ctrl-C or
        # SIGTERM with its summary wherever it runs.
        saved = {sig: signal.signal(sig, signal.default_int_handler) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            client = simulate.Client(url, token, secret)
            simulate.run(client, traffic, rate, duration, report, totals)
        except simulate.Stop as exc:
            if live:
                sys.stderr.write("\n")
            raise CommandError(str(exc)) from None
        except KeyboardInterrupt:
            interrupted = True
        finally:
            for sig, handler in saved.items():  # run in-process (tests, a shell), leave them as found
                signal.signal(sig, handler)
        if live:
            sys.stderr.write("\n")
        elapsed = time.monotonic() - totals.started
        self.stdout.write(
            f"{'stopped' if interrupted else 'done'} after {elapsed:.1f} s: {totals.sent} sent, {totals.accepted} accepted, "
            f"{totals.duplicates} duplicates, {totals.rejected} rejected, {totals.suspicious} suspicious phrases; "
            f"{totals.rate():.1f} events/s"
        )
        for reason, n in sorted(totals.reasons.items(), key=lambda kv: -kv[1])[:5]:
            self.stdout.write(f"  rejected {n}x: {reason}")
