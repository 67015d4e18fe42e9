"""`custos keys ...`: the field-encryption keys.

custos keys status                          current key version, rows and files under each version
custos keys rotate [--batch N] [--limit N]  make a new key version current, re-encrypt every row
                                            and every archived attachment

A rotation that stops (Ctrl-C, a crash, --limit) is continued by running `keys rotate` again:
while rows or files remain under an older version it re-encrypts them instead of adding yet
another key. The rotation is recorded in the ledger: `keys.rotation_started` when it begins,
`keys.rotated` when everything is under the new version, with how many rows of each column and
files of each store it re-encrypted, across however many runs it took (docs/events.md). Key
material is never written anywhere but the keys file.
"""

import contextlib
import fcntl

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from custos.core import crypto, keyring
from custos.core.datadir import data_dir

SOURCE = "keys"


def _amount(rows: int, files: int) -> str:
    text = f"{rows:,} rows"
    return f"{text} and {files:,} files" if files else text


class Command(BaseCommand):
    help = "Field-encryption keys: status, and rotation with re-encryption in batches (resumable)."

    def add_arguments(self, parser):
        actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
        actions.add_parser(
            "status", help="the current key version and how many rows and files each version sealed"
        )
        rotate = actions.add_parser(
            "rotate",
            help="add a key version, make it current, re-encrypt every encrypted field and attachment",
        )
        rotate.add_argument(
            "--batch", type=int, default=keyring.BATCH, metavar="N", help="rows per transaction"
        )
        rotate.add_argument(
            "--limit",
            type=int,
            default=None,
            metavar="N",
            help="stop after N rows and files; run again to continue",
        )
        rotate.add_argument("--quiet", action="store_true", help="no progress bars")

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
        for field in keyring.registered():
            counts = keyring.rows_by_version(field)
            shown = ", ".join(f"v{v}: {n:,}" for v, n in counts.items()) or "no rows"
            self.stdout.write(f"  {field.name:<26} {shown}")
        for files in keyring.registered_files():
            counts = files.by_version()
            shown = ", ".join(f"{'not yet read' if v is None else f'v{v}'}: {n:,}" for v, n in counts.items())
            self.stdout.write(f"  {files.name:<26} {shown + ' files' if shown else 'no files'}")
        rows, stale_files = keyring.stale_rows(), keyring.stale_files()
        if rows or stale_files:
            self.stdout.write(
                f"{_amount(rows, stale_files)} under older keys: run `custos keys rotate` to finish"
            )
        else:
            self.stdout.write(f"every row is under v{current}")
        rotation = keyring.open_rotation()
        if rotation is not None:
            self.stdout.write(
                f"rotation to v{rotation.to_version} started {rotation.started_at:%Y-%m-%d %H:%M} "
                f"(ledger entry {rotation.started_seq}) is not finished"
            )

    # --- rotate ------------------------------------------------------------------------------

    def do_rotate(self, batch, limit, quiet=False, **options):
        if batch < 1 or (limit is not None and limit < 1):
            raise CommandError("--batch and --limit must be at least 1")
        with _one_rotation_at_a_time():
            self._rotate(batch, limit, quiet)

    def _rotate(self, batch, limit, quiet):
        rotation = keyring.open_rotation()
        rows, files = keyring.stale_rows(), keyring.stale_files()
        if rows or files or (rotation is not None and rotation.to_version == crypto.current_version()):
            self.stdout.write(
                f"continuing the rotation to v{crypto.current_version()}: {_amount(rows, files)} to go"
            )
        else:
            version = crypto.add_key_version()
            rows, files = keyring.stale_rows(), keyring.stale_files()
            self.stdout.write(f"new key v{version} is current; re-encrypting {_amount(rows, files)}")
        rotation = self._rotation(rotation)
        current = rotation.to_version
        bar = {"disable": quiet or None, "file": self.stderr._out}  # None: only on a terminal
        done_rows = done_files = 0
        with tqdm(
            total=rows if limit is None else min(rows, limit), desc="re-encrypting", unit="row", **bar
        ) as b:
            for field in keyring.registered():
                if limit is not None and done_rows >= limit:
                    break
                done_rows += keyring.reencrypt(
                    field,
                    batch=batch,
                    limit=None if limit is None else limit - done_rows,
                    progress=b.update,
                    counted=keyring.counter(rotation, field.name),
                )
        problems: list[str] = []
        left = None if limit is None else limit - done_rows
        if files and (left is None or left > 0):
            total = files if left is None else min(files, left)
            with tqdm(total=total, desc="re-encrypting attachments", unit="file", **bar) as b:
                for store in keyring.registered_files():
                    looked = [0]

                    def tick(n, b=b, looked=looked):
                        looked[0] += n
                        b.update(n)

                    done_files += store.reencrypt(
                        limit=None if left is None else left,
                        progress=tick,
                        counted=keyring.counter(rotation, store.name),
                        problems=problems,
                    )
                    if left is not None:
                        left -= looked[0]
                        if left <= 0:
                            break
        self.stdout.write(f"re-encrypted {done_rows:,} rows under v{current}")
        if done_files or files:
            self.stdout.write(f"re-encrypted {done_files:,} attachment files under v{current}")
        rows, files = keyring.stale_rows(), keyring.stale_files()
        if problems:
            for line in problems[:20]:
                self.stdout.write(f"  {line}")
            raise CommandError(
                f"{len(problems):,} attachment files could not be re-encrypted ({problems[0]}"
                f"{', …' if len(problems) > 1 else ''}): the rotation to v{current} stays open; "
                "restore them from a backup (`custos ledger verify` names the entries), then run "
                "`custos keys rotate` again"
            )
        if rows or files:
            self.stdout.write(
                f"{_amount(rows, files)} still under older keys: run `custos keys rotate` again"
            )
            return
        self._finish(rotation)
        older = ", ".join(f"v{v}" for v in sorted(crypto.field_keys()) if v != current)
        retire = f"; {older} may be removed once no backup you keep needs them" if older else ""
        any_files = any(n for store in keyring.registered_files() for n in store.by_version().values())
        self.stdout.write(f"every row{' and file' if any_files else ''} is now under v{current}{retire}")

    def _rotation(self, rotation):
        """The rotation this run works for: the open one to the current key, or a new one
        (with its `keys.rotation_started` entry, in one transaction)."""
        from custos.ledger import services as ledger

        current = crypto.current_version()
        with transaction.atomic():
            if rotation is not None and rotation.to_version != current:
                # A newer key was added (to CUSTOS_FIELD_KEYS) before this rotation finished.
                closed = keyring.finish_rotation(rotation)
                ledger.append(
                    "keys.rotation_superseded",
                    {**self._payload(closed), "superseded_by": current},
                    source=SOURCE,
                    source_id=f"rotation:{closed.pk}:superseded",
                )
                rotation = None
            if rotation is None:
                rotation = keyring.start_rotation()
                entry = ledger.append(
                    "keys.rotation_started",
                    {
                        "from_versions": rotation.from_versions,
                        "to_version": rotation.to_version,
                        **self._split(keyring.stale_by_name()),
                    },
                    source=SOURCE,
                    source_id=f"rotation:{rotation.pk}:started",
                )
                rotation.started_seq = entry.seq
                rotation.save(update_fields=["started_seq"])
        return rotation

    def _finish(self, rotation):
        from custos.ledger import services as ledger

        with transaction.atomic():
            finished = keyring.finish_rotation(rotation)
            ledger.append(
                "keys.rotated",
                self._payload(finished),
                source=SOURCE,
                source_id=f"rotation:{finished.pk}:finished",
            )
        return finished

    def _payload(self, rotation) -> dict:
        return {
            "from_versions": rotation.from_versions,
            "to_version": rotation.to_version,
            "started_seq": rotation.started_seq,
            **self._split(rotation.counts),
        }

    @staticmethod
    def _split(counts: dict[str, int]) -> dict:
        """{"rows": {column: n}, "files": {store: n}} with every registered name, 0 where none."""
        return {
            "rows": {f.name: counts.get(f.name, 0) for f in keyring.registered()},
            "files": {f.name: counts.get(f.name, 0) for f in keyring.registered_files()},
        }


@contextlib.contextmanager
def _one_rotation_at_a_time():
    """An exclusive lock on a file in the data directory for the whole run: two rotations started
    together would each add a key version. The lock goes with the process, however it ends."""
    path = data_dir() / "keys-rotate.lock"
    with open(path, "a") as fh:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise CommandError(
                "another `custos keys rotate` is running on this data directory: let it finish, "
                "then run this again"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)
