"""`custos wecom ...`: the WeCom connector from the command line.

custos wecom status                         connection, last syncs, callbacks and transfers
custos wecom test                           fetch a token with each secret; exit 1 with WeCom's reason
custos wecom sync directory|contacts        run a sync now, with a progress bar (resumes a stopped one)
custos wecom transfers                      send what is pending and ask WeCom for results
custos wecom stub [--port 8765] [--demo]    a local stand-in for WeCom's API (tests, the demo)
custos wecom import-archive FILE            decrypted chat-archive records (JSON lines); see archive_cli
custos wecom archive-pull|archive-key|archive-config|archive-status   the chat archive (会话内容存档)
"""

import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from custos.core.errors import DomainError
from custos.wecom import services, sync, transfers
from custos.wecom.models import Callback, SyncRun, Transfer


class Command(BaseCommand):
    help = "The WeCom connector: status, connection test, sync, transfers, a local stub of WeCom's API."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        actions.add_parser("status", help="connection, syncs, callbacks and transfers")
        actions.add_parser("test", help="fetch a token with each secret")
        s = actions.add_parser("sync", help="sync departments and members, or customers and tags")
        s.add_argument("kind", choices=SyncRun.Kind.values)
        actions.add_parser("transfers", help="send pending transfers and poll WeCom's results")
        stub = actions.add_parser("stub", help="run a local stand-in of WeCom's API")
        stub.add_argument("--host", default="127.0.0.1")
        stub.add_argument("--port", type=int, default=8765)
        stub.add_argument("--demo", action="store_true", help="seed it with the demo company and post callbacks to --callback")
        stub.add_argument("--callback", default="http://127.0.0.1:8000/wecom/callback/")
        self.add_more_actions(actions)

    def add_more_actions(self, actions):
        """Further subcommands (the chat archive import) add themselves here."""
        from custos.wecom import archive_cli

        archive_cli.add_actions(actions)

    # The chat archive's subcommands (custos.wecom.archive_cli).
    def do_import_archive(self, **options):
        from custos.wecom import archive_cli

        archive_cli.import_archive(self, **options)

    def do_archive_pull(self, **options):
        from custos.wecom import archive_cli

        archive_cli.archive_pull(self, **options)

    def do_archive_key(self, **options):
        from custos.wecom import archive_cli

        archive_cli.archive_key(self, **options)

    def do_archive_config(self, **options):
        from custos.wecom import archive_cli

        archive_cli.archive_config(self, **options)

    def do_archive_status(self, **options):
        from custos.wecom import archive_cli

        archive_cli.archive_status(self, **options)

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"do_{action.replace('-', '_')}")(**options)
        except DomainError as exc:
            raise CommandError(exc.message) from None

    def do_status(self, **options):
        conn = services.connection()
        if not conn.corp_id:
            self.stdout.write("not configured: set it up on the console's WeCom page (docs/wecom.md)")
            return
        self.stdout.write(f"corp id:   {conn.corp_id}\napi:       {conn.api_base}\nenabled:   {conn.enabled}")
        if conn.last_test_at:
            self.stdout.write(f"last test: {conn.last_test_at:%Y-%m-%d %H:%M} {'ok' if conn.last_test_ok else 'FAILED'} {conn.last_test_message}")
        for kind in SyncRun.Kind.values:
            run = SyncRun.objects.filter(kind=kind).first()
            line = f"{run.status} {run.done}/{run.total} {run.counts} {run.error}" if run else "never"
            self.stdout.write(f"sync {kind}: {line}")
        calls = {s: Callback.objects.filter(status=s).count() for s in Callback.Status.values}
        self.stdout.write("callbacks: " + " ".join(f"{k}={v}" for k, v in calls.items() if v))
        moves = {s: Transfer.objects.filter(status=s).count() for s in Transfer.Status.values}
        self.stdout.write("transfers: " + " ".join(f"{k}={v}" for k, v in moves.items() if v))

    def do_test(self, **options):
        ok, message = services.test_connection()
        self.stdout.write(message)
        if not ok:
            raise CommandError("the connection test failed", returncode=1)

    def do_sync(self, kind, **options):
        import threading

        row = sync.start(kind)
        worker = threading.Thread(target=sync.run, args=(row.pk,), daemon=True)
        bar = tqdm(total=0, unit="page" if kind == "contacts" else "item", desc=f"sync {kind}")
        worker.start()
        while worker.is_alive():
            worker.join(0.5)
            row.refresh_from_db()
            bar.total = row.total
            bar.n = row.done
            bar.refresh()
        row.refresh_from_db()
        bar.n = row.done
        bar.close()
        self.stdout.write(f"{row.status}: {row.counts}")
        if row.status != SyncRun.Status.DONE:
            raise CommandError(row.error or "the sync did not finish", returncode=1)

    def do_transfers(self, **options):
        sent = transfers.submit()
        settled = transfers.poll(force=True)
        self.stdout.write(f"sent {sent}, settled {settled}")

    def do_stub(self, host, port, demo, callback, **options):
        from custos.wecom import demo as wecom_demo
        from custos.wecom.stub import StubServer, StubWeCom

        stub = StubWeCom()
        if demo:
            wecom_demo.seed_stub(stub, callback_url=callback)
        server = StubServer(stub, host=host, port=port).start()
        self.stdout.write(f"WeCom stub on {server.url} (corp id {stub.corp_id}); Ctrl-C stops it")
        try:
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            server.stop()
