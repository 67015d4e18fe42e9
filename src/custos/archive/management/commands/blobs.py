"""`custos blobs ...`: where the attachments are stored.

custos blobs where                  the store in use (CUSTOS_BLOB_URL) and how many attachments
custos blobs migrate --to URL       copy every attachment to another store, verified by hash;
                                    run again to resume (copies that verify are skipped)
"""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from custos.archive import blob_migration, blobstore
from custos.core.errors import InvalidInput


class Command(BaseCommand):
    help = "Attachment storage: where it is, and moving it to another store (S3-compatible or a directory)."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        actions.add_parser("where", help="the store CUSTOS_BLOB_URL names, and how many attachments it holds")
        move = actions.add_parser("migrate", help="copy every attachment to the store URL names, verified")
        move.add_argument(
            "--to",
            required=True,
            metavar="URL",
            help="s3://bucket/prefix?endpoint=...&region=... or file:///dir",
        )
        move.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args, action, **options):
        getattr(self, f"do_{action}")(**options)

    def do_where(self, **options):
        self.stdout.write(f"{blobstore.current().url}   {blob_migration.total():,} attachments recorded")

    def do_migrate(self, to, quiet=False, **options):
        try:
            target = blobstore.from_url(to)
        except InvalidInput as exc:
            raise CommandError(exc.message) from None
        source = blobstore.current()
        if target.url == source.url:
            raise CommandError(f"{to} is the store already in use")
        count = blob_migration.total()
        self.stdout.write(f"copying {count:,} attachments from {source.url} to {target.url}")
        bar = {"disable": quiet or None, "file": self.stderr._out}  # None: only on a terminal
        with tqdm(total=count, desc="migrating", unit="file", **bar) as b:
            outcome = blob_migration.migrate(source, target, progress=b.update)
        for problem in outcome.problems:
            self.stderr.write(f"custos blobs: {problem}")
        self.stdout.write(
            f"{outcome.copied:,} copied and verified, {outcome.already:,} already there, "
            f"{len(outcome.problems):,} problems"
        )
        if outcome.problems:
            raise CommandError(
                f"{len(outcome.problems):,} attachments not migrated (listed above); run again to retry"
            )
        self.stdout.write(f"every attachment is in {target.url}: set CUSTOS_BLOB_URL to it and restart")
