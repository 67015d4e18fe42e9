"""`custos keys ...`: the field-encryption keys.

custos keys status                          current key version, rows under each version
custos keys rotate [--batch N] [--limit N]  make a new key version current, re-encrypt every row

A rotation that stops (Ctrl-C, a crash, --limit) is continued by running `keys rotate` again:
while rows remain under an older version it re-encrypts them instead of adding yet another key.
"""

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from custos.core import crypto, keyring


class Command(BaseCommand):
    help = "Field-encryption keys: status, and rotation with re-encryption in batches (resumable)."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        actions.add_parser("status", help="the current key version and how many rows each version sealed")
        rotate = actions.add_parser(
            "rotate", help="add a key version, make it current, re-encrypt every encrypted field"
        )
        rotate.add_argument(
            "--batch", type=int, default=keyring.BATCH, metavar="N", help="rows per transaction"
        )
        rotate.add_argument(
            "--limit", type=int, default=None, metavar="N", help="stop after N rows; run again to continue"
        )
        rotate.add_argument("--quiet", action="store_true", help="no progress bar")

    def handle(self, *args, action, **options):
        try:
            getattr(self, f"do_{action}")(**options)
        except crypto.KeyConfigError as exc:
            raise CommandError(str(exc)) from None

    def _source(self) -> str:
        if crypto.keys_from_environment():
            return "CUSTOS_FIELD_KEYS"
        return str(crypto.keys_file())

    def do_status(self, **options):
        current = crypto.current_version()
        versions = ", ".join(f"v{v}" for v in sorted(crypto.field_keys()))
        self.stdout.write(f"current key: v{current}   keys held: {versions}   (from {self._source()})")
        stale = 0
        for field in keyring.registered():
            counts = keyring.rows_by_version(field)
            stale += sum(n for v, n in counts.items() if v != current)
            shown = ", ".join(f"v{v}: {n:,}" for v, n in counts.items()) or "no rows"
            self.stdout.write(f"  {field.name:<20} {shown}")
        if stale:
            self.stdout.write(f"{stale:,} rows under older keys: run `custos keys rotate` to finish")
        else:
            self.stdout.write(f"every row is under v{current}")

    def do_rotate(self, batch, limit, quiet=False, **options):
        if batch < 1 or (limit is not None and limit < 1):
            raise CommandError("--batch and --limit must be at least 1")
        left = keyring.stale_count()
        if left:
            self.stdout.write(f"continuing the rotation to v{crypto.current_version()}: {left:,} rows to go")
        else:
            version = crypto.add_key_version()
            left = keyring.stale_count()
            self.stdout.write(f"new key v{version} is current; re-encrypting {left:,} rows")
        done = 0
        with tqdm(
            total=left if limit is None else min(left, limit),
            desc="re-encrypting",
            unit="row",
            disable=quiet or None,  # None: only on a terminal
            file=self.stderr._out,
        ) as bar:
            for field in keyring.registered():
                if limit is not None and done >= limit:
                    break
                done += keyring.reencrypt(
                    field,
                    batch=batch,
                    limit=None if limit is None else limit - done,
                    progress=bar.update,
                )
        remaining = keyring.stale_count()
        current = crypto.current_version()
        self.stdout.write(f"re-encrypted {done:,} rows under v{current}")
        if remaining:
            self.stdout.write(f"{remaining:,} rows still under older keys: run `custos keys rotate` again")
        else:
            older = ", ".join(f"v{v}" for v in sorted(crypto.field_keys()) if v != current)
            retire = f"; {older} may be removed once no backup you keep needs them" if older else ""
            self.stdout.write(f"every row is now under v{current}{retire}")
