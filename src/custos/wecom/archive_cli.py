"""The chat archive's subcommands of `custos wecom` (added through Command.add_more_actions).

custos wecom import-archive FILE            decrypted records, one JSON object a line, with a progress bar
custos wecom archive-pull [--pages N]       pull now (what the worker does every minute)
custos wecom archive-key VERSION PEMFILE    add (or replace) the private key of a publickey_ver
custos wecom archive-config [--secret-file F] [--sdk-path P] [--proxy URL] [--enable|--disable]
custos wecom archive-status                 cursor, held records, messages set aside, files
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.base import CommandError
from tqdm import tqdm

from custos.wecom.models import ArchiveMedia, ArchiveMessage

ACTIONS = ("import-archive", "archive-pull", "archive-key", "archive-config", "archive-status")


def add_actions(actions) -> None:
    imp = actions.add_parser("import-archive", help="import decrypted chat-archive records (JSON lines)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--no-progress", action="store_true", help="no progress bar (logs, cron)")
    p = actions.add_parser("archive-pull", help="pull the chat archive now")
    p.add_argument("--pages", type=int, default=None, help="at most this many pages of 1,000")
    k = actions.add_parser("archive-key", help="add the private key of a publickey_ver")
    k.add_argument("version", type=int)
    k.add_argument("pem", type=Path)
    c = actions.add_parser("archive-config", help="the chat archive's Secret, SDK path, proxy, on/off")
    c.add_argument("--secret-file", type=Path, help="a file holding the chat archive's Secret (kept out of the shell history)")
    c.add_argument("--sdk-path")
    c.add_argument("--proxy")
    c.add_argument("--enable", action="store_true")
    c.add_argument("--disable", action="store_true")
    actions.add_parser("archive-status", help="cursor, held records, messages set aside, files")


def import_archive(cmd, file: Path, no_progress: bool = False, **options) -> None:
    from custos.wecom import archive_import

    try:
        checked = archive_import.check(file)
    except archive_import.BadLine as exc:
        raise CommandError(f"{exc}; nothing was imported", returncode=2) from None
    bar = tqdm(total=checked.lines, unit="msg", desc="import-archive", disable=no_progress)
    try:
        stored = archive_import.run(file, progress=bar.update)
    finally:
        bar.close()
    cmd.stdout.write(stored.line())


def archive_pull(cmd, pages: int | None = None, **options) -> None:
    from custos.wecom import archive_pull as pull

    result = pull.pull(max_pages=pages)
    cmd.stdout.write(f"{result.status}: seq {result.cursor}, {result.pages} pages; {result.message}")
    if result.status in ("failed", "not_configured"):
        raise CommandError(result.message or result.status, returncode=1)


def archive_key(cmd, version: int, pem: Path, **options) -> None:
    from custos.core.errors import DomainError
    from custos.wecom import archive_keys

    try:
        text = pem.read_text()
    except OSError as exc:
        raise CommandError(f"{pem}: {exc.strerror}", returncode=2) from None
    try:
        row = archive_keys.add_key(actor=None, version=version, pem=text)
    except DomainError as exc:
        raise CommandError(exc.message, returncode=1) from None
    cmd.stdout.write(f"publickey_ver {row.version}: key {row.fingerprint[:16]}… stored; held records of it are being imported")


def archive_config(cmd, secret_file=None, sdk_path=None, proxy=None, enable=False, disable=False, **options) -> None:
    from custos.wecom import archive_keys

    if enable and disable:
        raise CommandError("--enable or --disable, not both", returncode=2)
    secret = secret_file.read_text().strip() if secret_file else None
    row = archive_keys.configure(
        actor=None, secret=secret, sdk_path=sdk_path, proxy=proxy, enabled=True if enable else (False if disable else None)
    )
    ready = archive_keys.ready(row)
    cmd.stdout.write(f"enabled: {row.enabled}; {'ready' if ready.ok else ready.reason}")


def archive_status(cmd, **options) -> None:
    from django.db.models import Count

    from custos.wecom import archive_keys

    row = archive_keys.settings_row()
    ready = archive_keys.ready(row)
    cmd.stdout.write(f"chat archive: {'enabled' if row.enabled else 'disabled'}, {'ready' if ready.ok else ready.reason}")
    cmd.stdout.write(f"cursor: seq {row.cursor}, {row.records_pulled} records pulled")
    if row.last_pull_at:
        cmd.stdout.write(f"last pull: {row.last_pull_at:%Y-%m-%d %H:%M} {'ok' if row.last_pull_ok else 'FAILED'} {row.last_pull_message}")
    versions = list(archive_keys.decryptor().versions)
    cmd.stdout.write(f"keys: publickey_ver {', '.join(map(str, sorted(versions))) or 'none'}")
    for (version, reason), n in archive_keys.held_summary().items():
        cmd.stdout.write(f"held: {n} records under publickey_ver {version} ({reason})")
    aside = dict(ArchiveMessage.objects.exclude(status="appended").values_list("status").annotate(n=Count("pk")).order_by())
    cmd.stdout.write("set aside: " + (" ".join(f"{k}={v}" for k, v in aside.items()) or "none"))
    files = dict(ArchiveMedia.objects.values_list("status").annotate(n=Count("pk")).order_by())
    cmd.stdout.write("files: " + (" ".join(f"{k}={v}" for k, v in files.items()) or "none"))
