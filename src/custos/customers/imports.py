"""Imports started from the console or the API: upload, map columns, dry run, import in the background.

An ImportJob holds the uploaded sheet (encrypted) from the upload until the import has run.
`check` hands the dry run (importer.plan) to the worker (tasks.check_import), which records what
it found; `queue` hands the import to the worker (tasks.run_import), which plans again (the company may have changed since the check) and
creates the customers a batch per transaction, writing its progress to the job after each
batch, so the page polling it shows the rows as they go in. A batch is all or nothing; when one
fails the import stops there, the batches before it stay, and importing the same sheet again
skips them as duplicates.

A job is its uploader's: anyone else asking for it gets a 404.

The same jobs carry other sheets than customers (care's points from a POS export): each kind of
sheet registers a Sheet saying how its rows are planned, summed up and written; the upload, the
kept sheet, the worker's dry run and import, and their progress are this module's for all of them.
"""

import base64
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access import policy
from custos.core import crypto, keyring
from custos.core.errors import DomainError, InvalidInput, NotFound
from custos.customers import importer
from custos.customers.models import IMPORT_DETAILS_AAD, ImportJob
from custos.org.models import Employee

log = logging.getLogger(__name__)

AAD = b"customers.import"
SHOWN = 200  # duplicates and errors kept per list: enough to fix a sheet, small enough to show


@dataclass(frozen=True)
class Sheet:
    """What one kind of import does with the rows of its sheet."""

    # (actor, header, mapping or None) -> the mapping the dry run will use; InvalidInput if wrong
    columns: Callable
    # (actor, header, rows, mapping or None, progress(n)) -> a report with .columns and .errors
    plan: Callable
    # report -> the job's report: would_create, duplicate_count, error_count, duplicates, errors
    summary: Callable
    # (job, report, after_batch(rows)) -> None, a batch per transaction
    run: Callable
    # report -> how many rows the import writes
    size: Callable
    # the fields a column may be mapped to; empty: the columns are found by their names
    fields: tuple = ()


def _customer_columns(_actor, header, mapping):
    unknown = [k for k in (mapping or {}) if k not in importer.FIELDS]
    if unknown:
        raise InvalidInput(_("Unknown field %(field)s.") % {"field": unknown[0]})
    return importer.resolve_columns(header, mapping or None)


CUSTOMERS = "customers"
KINDS: dict[str, Sheet] = {
    CUSTOMERS: Sheet(
        columns=_customer_columns,
        plan=lambda actor, header, rows, mapping, progress=None: importer.plan(
            actor, header, rows, mapping, progress=progress
        ),
        summary=lambda report: _summary(report),
        run=lambda job, report, after_batch: importer.run(job.created_by, report, after_batch=after_batch),
        size=lambda report: len(report.create),
        fields=tuple(importer.FIELDS),
    )
}


def register_sheet(kind: str, sheet: Sheet) -> None:
    """Another app's kind of sheet (called from its AppConfig.ready)."""
    KINDS[kind] = sheet


def register_encrypted() -> None:
    # A kept sheet is a whole file (up to the upload limit): a few per transaction.
    keyring.register(
        "customers.import", "customers.ImportJob", "sheet_encrypted", aad=lambda _job: AAD, batch=4
    )
    keyring.register(
        "customers.import_details",
        "customers.ImportJob",
        "details_encrypted",
        aad=lambda _job: IMPORT_DETAILS_AAD,
        batch=50,
    )


def _seal(data: bytes) -> str:
    # crypto seals text; base85 keeps the bytes of an .xlsx intact at a quarter's growth.
    return crypto.encrypt(base64.b85encode(data).decode("ascii"), aad=AAD)


def _open(job: ImportJob) -> bytes:
    if not job.sheet_encrypted:
        raise InvalidInput(_("The uploaded file is no longer kept; upload it again."))
    return base64.b85decode(crypto.decrypt(job.sheet_encrypted, aad=AAD))


def sheet_bytes(job: ImportJob) -> bytes:
    """The kept sheet as uploaded (a registered kind may key its writes by the file's digest)."""
    return _open(job)


def _read(job: ImportJob):
    return importer.read_bytes(_open(job), job.filename)


def get_job(viewer: Employee, job_id: int, kind: str = CUSTOMERS) -> ImportJob:
    job = ImportJob.objects.filter(pk=job_id, created_by=viewer, kind=kind).first()
    if job is None:
        raise NotFound(_("Import not found."))
    return job


def recent_jobs(viewer: Employee, limit: int = 10, kind: str = CUSTOMERS):
    return ImportJob.objects.filter(created_by=viewer, kind=kind)[:limit]


@transaction.atomic
def upload(actor: Employee, filename: str, data: bytes, kind: str = CUSTOMERS) -> ImportJob:
    """Keep an uploaded sheet for mapping and checking; refuses what the importer cannot read."""
    policy.require_writer(actor)
    sheet = KINDS[kind]
    filename = (filename or "").replace("\x00", "").strip()[-200:]
    importer.check_upload(filename, len(data))
    header, _rows = importer.read_bytes(data, filename)
    header = [h for h in header if h]
    if not header:
        raise InvalidInput(_("The first row of the sheet should name its columns; it is empty."))
    if any("\x00" in h for h in header):
        raise InvalidInput(_("The first row holds a NUL character (\\0): is the file really a CSV sheet?"))
    try:
        suggested = sheet.columns(actor, header, None)
    except InvalidInput:
        suggested = {}
    return ImportJob.objects.create(
        created_by=actor,
        kind=kind,
        filename=filename,
        sheet_encrypted=_seal(data),
        header=header,
        mapping=suggested,
    )


def _summary(report: importer.Report) -> dict:
    return {
        "would_create": len(report.create),
        "duplicate_count": len(report.duplicates),
        "error_count": len(report.errors),
        "duplicates": [{"row": n, "message": m} for n, m in report.duplicates[:SHOWN]],
        "errors": [{"row": n, "message": m} for n, m in report.errors[:SHOWN]],
    }


def check(actor: Employee, job_id: int, mapping: dict[str, str], kind: str = CUSTOMERS) -> ImportJob:
    """Start the dry run with this column mapping; the worker reads every row (tasks.check_import).

    Returns the job: still "checking" while a worker is at it, "checked" with its report once done.
    """
    policy.require_writer(actor)
    mapping = {k: v for k, v in (mapping or {}).items() if v}
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id, created_by=actor, kind=kind).first()
        if job is None:
            raise NotFound(_("Import not found."))
        if job.status not in (ImportJob.Status.UPLOADED, ImportJob.Status.CHECKED):
            raise InvalidInput(_("This import has already started."))
        KINDS[kind].columns(actor, job.header, mapping or None)  # a wrong mapping is said now, not later
        job.mapping = mapping
        job.status = ImportJob.Status.CHECKING
        job.report, job.error, job.done, job.total = {}, "", 0, 0
        job.save(
            update_fields=["mapping", "status", "details_encrypted", "error", "done", "total", "updated_at"]
        )
    from custos.customers.tasks import check_import

    check_import(job.pk)
    job.refresh_from_db()
    return job


PROGRESS_EVERY = 1000  # rows between progress writes during a dry run


def execute_check(job_id: int) -> None:
    """The worker's dry run: plan every row, writing progress as it goes, then the report."""
    job = ImportJob.objects.select_related("created_by__unit", "created_by__user").filter(pk=job_id).first()
    if job is None or job.status != ImportJob.Status.CHECKING:
        return
    try:
        header, rows = _read(job)
        rows = list(rows)
        job.total = len(rows)
        job.save(update_fields=["total", "updated_at"])
        seen = [0]

        def progress(n: int) -> None:
            seen[0] += n
            if seen[0] % PROGRESS_EVERY == 0:
                ImportJob.objects.filter(pk=job_id).update(done=seen[0])

        sheet = KINDS[job.kind]
        report = sheet.plan(job.created_by, header, rows, job.mapping or None, progress)
        job.mapping = report.columns
        job.report = sheet.summary(report)
        job.done = job.total
        job.status = ImportJob.Status.CHECKED
    except DomainError as exc:
        job.status, job.error = ImportJob.Status.UPLOADED, exc.message
    except Exception:
        log.exception("dry run of import %s failed", job_id)
        job.status = ImportJob.Status.UPLOADED
        job.error = _("The check stopped on an unexpected error; try again or upload the file again.")
    job.save(update_fields=["mapping", "details_encrypted", "done", "total", "status", "error", "updated_at"])


def queue(actor: Employee, job_id: int, kind: str = CUSTOMERS) -> ImportJob:
    """Hand a checked, error-free job to the worker; returns it as queued."""
    policy.require_writer(actor)
    with transaction.atomic():
        job = ImportJob.objects.select_for_update().filter(pk=job_id, created_by=actor, kind=kind).first()
        if job is None:
            raise NotFound(_("Import not found."))
        if job.status != ImportJob.Status.CHECKED:
            raise InvalidInput(_("Check the sheet (the dry run) before importing it."))
        if job.report.get("error_count"):
            raise InvalidInput(
                _("Correct the rows with errors first; nothing is imported while any is wrong.")
            )
        if not job.report.get("would_create"):
            raise InvalidInput(_("There is nothing new to import."))
        job.status = ImportJob.Status.QUEUED
        job.total = job.report["would_create"]
        job.done = 0
        job.error = ""
        job.save(update_fields=["status", "total", "done", "error", "updated_at"])
    from custos.customers.tasks import run_import

    run_import(job.pk)
    job.refresh_from_db()
    return job


def execute(job_id: int) -> None:
    """The worker's half: plan again, then create the rows a batch per transaction (importer.run)."""
    claimed = ImportJob.objects.filter(pk=job_id, status=ImportJob.Status.QUEUED).update(
        status=ImportJob.Status.RUNNING, updated_at=timezone.now()
    )
    if not claimed:
        return  # already taken by another worker, or no longer queued
    job = ImportJob.objects.select_related("created_by__unit", "created_by__user").get(pk=job_id)
    actor = job.created_by
    sheet = KINDS[job.kind]
    try:
        header, rows = _read(job)
        report = sheet.plan(actor, header, rows, job.mapping or None, None)
        if report.errors:
            job.report = sheet.summary(report)
            raise InvalidInput(
                _("The sheet has %(n)d wrong rows now; nothing was imported.") % {"n": len(report.errors)}
            )
        job.total = sheet.size(report)
        job.save(update_fields=["total", "updated_at"])

        def count(rows: int) -> None:  # inside the batch's transaction: the count commits with the rows
            job.done += rows
            job.save(update_fields=["done", "updated_at"])

        sheet.run(job, report, count)
        job.status = ImportJob.Status.DONE
    except DomainError as exc:
        job.status = ImportJob.Status.FAILED
        job.error = exc.message
    except Exception:
        log.exception("import %s failed", job_id)
        job.status = ImportJob.Status.FAILED
        job.error = _("The import stopped on an unexpected error; the rows counted as done are in.")
    job.sheet_encrypted = ""  # the customers are in (or refused): the sheet is not kept longer
    job.finished_at = timezone.now()
    job.save(
        update_fields=["status", "error", "details_encrypted", "sheet_encrypted", "finished_at", "updated_at"]
    )


def forget_stale_uploads(hours: int = 24) -> int:
    """Empty the sheets of uploads nobody imported within `hours`: they hold phone numbers."""
    cutoff = timezone.now() - timedelta(hours=hours)
    return (
        ImportJob.objects.filter(
            status__in=[ImportJob.Status.UPLOADED, ImportJob.Status.CHECKED], created_at__lt=cutoff
        )
        .exclude(sheet_encrypted="")
        .update(
            sheet_encrypted="",
            status=ImportJob.Status.FAILED,
            error=_("Not imported within a day; the file was discarded. Upload it again."),
        )
    )


PREVIEW_ROWS = 5


def preview(job: ImportJob, n: int = PREVIEW_ROWS) -> list[list[str]]:
    """The sheet's first rows as the header orders them, to check the columns before a dry run."""
    try:
        header, rows = _read(job)
    except InvalidInput:
        return []
    out = []
    for row in rows:
        out.append([row.values.get(h, "") for h in header])
        if len(out) >= n:
            break
    return out


def failed_rows(job: ImportJob) -> tuple[list[str], list[list[str]]]:
    """The rows the dry run refused or skipped, each with its row number and why, to fix and upload again."""
    header, rows = _read(job)
    rows = list(rows)
    # Planned again rather than read from the report, which keeps only the first few of each.
    report = KINDS[job.kind].plan(job.created_by, header, rows, job.mapping or None, None)
    why = dict(report.errors)
    why.update({n: m for n, m in getattr(report, "duplicates", []) if n not in why})
    out = [
        [str(r.number), why[r.number], *(r.values.get(h, "") for h in header)]
        for r in rows
        if r.number in why
    ]
    return header, out
