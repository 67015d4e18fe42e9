"""Writes of the evidence app: packages, retention rules, legal holds, and the retention run.

Every one of them is a ledger entry:
  evidence.package_created    a package was built (selection, entries, manifest hash, head)
  evidence.package_downloaded its requester downloaded it
  evidence.package_expired    its file was deleted CUSTOS_EVIDENCE_KEEP_DAYS after it was built
  retention.rule_set / retention.rule_removed   an administrator changed a retention period
  legal_hold.placed / legal_hold.released       a hold was placed or lifted
  retention.redacted          written by custos.ledger.services.redact for each batch erased
"""

import json
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access import policy
from custos.core.errors import DomainError, Gone, InvalidInput, NotFound
from custos.evidence import package as builder
from custos.evidence import selectors
from custos.evidence.models import EvidencePackage, LegalHold, RetentionRule
from custos.evidence.selectors import Selection
from custos.ledger import services as ledger
from custos.ledger.models import Entry, LedgerState
from custos.org.models import Employee, Unit

log = logging.getLogger(__name__)

# Kinds no retention rule may touch: they are the record of retention, holds and evidence itself.
# Key rotations too: the record that the keys protecting customer data changed, and when.
PROTECTED = ("retention.", "legal_hold.", "evidence.", "keys.")
_PREFIX = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z0-9_]*)*$")
MAX_DAYS = 36_500
REDACT_BATCH = 5_000


# ---------------------------------------------------------------- evidence packages


def request_package(actor: Employee, selection: Selection) -> EvidencePackage:
    """Record the request and queue the build (a Huey task); the console polls the row."""
    selectors.require_packager(actor)
    selectors.check_selection(actor, selection)
    with transaction.atomic():
        package = EvidencePackage.objects.create(
            requested_by=actor,
            customer_id=selection.customer_id,
            employee_id=selection.employee_id,
            since=selection.since,
            until=selection.until,
        )
    from custos.evidence.tasks import build_package  # tasks import this module

    build_package(package.pk)
    package.refresh_from_db()
    return package


def _progress(package_id: int):
    def report(stage: str, done: int, total: int) -> None:
        EvidencePackage.objects.filter(pk=package_id).update(stage=stage, done=done, total=total)

    return report


def _created_event(built: builder.Built, selection: dict, actor: Employee | None, package_id: str) -> ledger.Event:
    return ledger.Event(
        kind="evidence.package_created",
        payload={
            "package": package_id,
            "selection": selection,
            "entries": built.entries,
            "first_seq": built.first_seq,
            "last_seq": built.last_seq,
            "manifest_sha256": built.manifest_sha256,
            "head_size": built.head_size,
            "head_root": built.head_root,
            "attachments_included": built.attachments_included,
            "attachments_missing": built.attachments_missing,
            "bytes": built.size,
        },
        actor_id=actor.pk if actor else None,
        unit_id=actor.unit_id if actor else None,
        customer_id=selection.get("customer_id"),
        source="evidence",
        source_id=f"package:{package_id}",
    )


def run_package(package_id: int) -> EvidencePackage:
    """Build a requested package (the Huey task's body). Failures are kept on the row, not raised."""
    package = EvidencePackage.objects.select_related("requested_by__unit").get(pk=package_id)
    started = EvidencePackage.objects.filter(pk=package_id, status=EvidencePackage.Status.QUEUED).update(
        status=EvidencePackage.Status.RUNNING, stage="collecting"
    )
    if not started:  # another worker has it, or it is finished: a retried task must not build twice
        return package
    actor = package.requested_by
    selection = Selection(package.customer_id, package.employee_id, package.since, package.until)
    try:
        selectors.require_packager(actor)  # the requester may have been frozen since
        selectors.check_selection(actor, selection)
        built = builder.build(
            selectors.selected_entries(actor, selection),
            selection=package.selection(),
            requester=actor,
            package_id=str(package.public_id),
            progress=_progress(package_id),
        )
        with transaction.atomic():
            entry = ledger.append_batch([_created_event(built, package.selection(), actor, str(package.public_id))])[0].entry
            EvidencePackage.objects.filter(pk=package_id).update(
                status=EvidencePackage.Status.DONE,
                stage="done",
                done=built.entries,
                total=built.entries,
                finished_at=timezone.now(),
                filename=built.filename,
                size_bytes=built.size,
                entries=built.entries,
                manifest_sha256=built.manifest_sha256,
                ledger_seq=entry.seq,
            )
    except DomainError as exc:
        _failed(package_id, exc.message)
    except Exception:
        log.exception("evidence package %s failed", package.public_id)
        _failed(package_id, _("The package could not be built; the server log has the details."))
    package.refresh_from_db()
    return package


def _failed(package_id: int, message: str) -> None:
    EvidencePackage.objects.filter(pk=package_id).update(
        status=EvidencePackage.Status.FAILED, stage="failed", error=message, finished_at=timezone.now()
    )


@transaction.atomic
def record_download(actor: Employee, package: EvidencePackage) -> None:
    """Audit a download: who took a copy of which package, and when."""
    if package.status != EvidencePackage.Status.DONE or not package.filename:
        raise NotFound(_("This package is not ready."))
    ledger.append(
        "evidence.package_downloaded",
        {"package": str(package.public_id), "manifest_sha256": package.manifest_sha256, "created_seq": package.ledger_seq},
        actor_id=actor.pk,
        unit_id=actor.unit_id,
        customer_id=package.customer_id,
        source="evidence",
    )


def package_path(package: EvidencePackage):
    # Past its expiry the file is refused at once, before the hourly sweep deletes it and writes
    # the evidence.package_expired entry: a download is no time to write to the ledger.
    due = package.expires_at
    if package.status == EvidencePackage.Status.EXPIRED or (due is not None and due <= timezone.now()):
        raise Gone(
            _(
                "This evidence package expired on %(date)s: its file is deleted %(days)s days after it is "
                "built. Build a new package for the same selection to download it again."
            )
            % {
                "date": timezone.localtime(package.expired_at or due).strftime("%Y-%m-%d")
                if (package.expired_at or due)
                else "-",
                "days": selectors.keep_days(),
            },
            code="package_expired",
        )
    path = builder.directory() / package.filename
    if not package.filename or not path.is_file():
        raise NotFound(_("The package file is no longer on the server."))
    return path


# ---------------------------------------------------------------- expiry of package files

_PACKAGE_FILE = re.compile(r"^custos-evidence-([0-9a-f-]{36})\.zip$")


def _expired_event(package_id: str, *, manifest_sha256, created_seq, size: int, built_at, days: int, actor=None, customer_id=None) -> ledger.Event:
    return ledger.Event(
        kind="evidence.package_expired",
        payload={
            "package": package_id,
            "manifest_sha256": manifest_sha256,
            "created_seq": created_seq,
            "bytes": size,
            "built_at": built_at.isoformat() if built_at else None,
            "keep_days": days,
        },
        actor_id=actor.pk if actor else None,
        unit_id=actor.unit_id if actor else None,
        customer_id=customer_id,
        source="evidence",
        source_id=f"package:{package_id}:expired",
    )


def expire_packages(now: datetime | None = None) -> list[str]:
    """Delete the files of packages built more than CUSTOS_EVIDENCE_KEEP_DAYS ago (the worker's hourly job).

    Each package is marked expired with an evidence.package_expired entry in one transaction, then
    its file is deleted; the record stays, so a download answers 410 and says why. A ZIP with no
    ready record (`custos evidence build` leaves its copy here after writing --out) and a build's
    leftover .part file go by their age on disk. Returns the ids of the packages expired.
    """
    days = selectors.keep_days()
    if not days:
        return []
    now = now or timezone.now()
    cutoff = now - timedelta(days=days)
    directory = builder.directory()
    expired = []
    due = EvidencePackage.objects.filter(status=EvidencePackage.Status.DONE, finished_at__lt=cutoff).select_related(
        "requested_by"
    )
    for package in due.order_by("pk").iterator(chunk_size=200):
        package_id = str(package.public_id)
        path = directory / package.filename if package.filename else None
        with transaction.atomic():
            # Conditional: a second worker sweeping at the same time finds it expired already.
            taken = EvidencePackage.objects.filter(pk=package.pk, status=EvidencePackage.Status.DONE).update(
                status=EvidencePackage.Status.EXPIRED, expired_at=now
            )
            if not taken:
                continue
            ledger.append_batch([_expired_event(
                package_id, manifest_sha256=package.manifest_sha256, created_seq=package.ledger_seq,
                size=package.size_bytes, built_at=package.finished_at, days=days, actor=package.requested_by,
                customer_id=package.customer_id,
            )])  # fmt: skip
        _delete(path)
        expired.append(package_id)
    expired.extend(_expire_unlisted(directory, cutoff, days))
    if expired:
        log.info("evidence: %s package files past %s days deleted", len(expired), days)
    return expired


def _expire_unlisted(directory, cutoff: datetime, days: int) -> list[str]:
    ready = set(
        EvidencePackage.objects.filter(status=EvidencePackage.Status.DONE).exclude(filename="").values_list("filename", flat=True)
    )
    expired = []
    for path in sorted(directory.iterdir()):
        if path.name in ready or not path.is_file():
            continue
        built_at = datetime.fromtimestamp(path.stat().st_mtime, tz=UTC)
        if built_at >= cutoff:
            continue  # possibly a build finishing right now
        match = _PACKAGE_FILE.match(path.name)
        if match:
            package_id = match.group(1)
            created = Entry.objects.filter(kind="evidence.package_created", source="evidence", source_id=f"package:{package_id}").first()
            info = json.loads(created.payload) if created is not None and created.payload else {}
            ledger.append_batch([_expired_event(
                package_id, manifest_sha256=info.get("manifest_sha256"), created_seq=created.seq if created else None,
                size=path.stat().st_size, built_at=built_at, days=days,
                customer_id=created.customer_id if created else None,
            )])  # fmt: skip
            expired.append(package_id)
        elif not path.name.endswith(".part"):
            continue  # not ours: left alone
        _delete(path)
    return expired


def _delete(path) -> None:
    if path is None:
        return
    try:
        path.unlink(missing_ok=True)
    except OSError as exc:  # the record says expired; the next sweep deletes the file as unlisted
        log.warning("evidence: could not delete %s: %s", path.name, exc.strerror)


def build_now(selection: Selection, *, actor: Employee | None = None, progress=None) -> builder.Built:
    """The command line's build: synchronous, no package row; still a ledger entry."""
    if actor is not None:
        selectors.require_packager(actor)
    selectors.check_selection(actor, selection)
    import uuid

    package_id = str(uuid.uuid4())
    built = builder.build(
        selectors.selected_entries(actor, selection),
        selection=selection.as_dict(),
        requester=actor,
        package_id=package_id,
        progress=progress,
    )
    ledger.append_batch([_created_event(built, selection.as_dict(), actor, package_id)])
    return built


# ---------------------------------------------------------------- retention rules


def _check_prefix(prefix: str) -> str:
    prefix = (prefix or "").strip()
    if not prefix or len(prefix) > 64 or not _PREFIX.match(prefix):
        raise InvalidInput(_("A kind prefix is lowercase words separated by dots, e.g. 'message.' or 'call.logged'."))
    for protected in PROTECTED:
        if protected.startswith(prefix) or prefix.startswith(protected):
            raise InvalidInput(
                _("Entries of kind %(kind)s* record retention, holds and evidence and are kept forever.") % {"kind": protected}
            )
    return prefix


@transaction.atomic
def set_rule(actor: Employee, kind_prefix: str, days: int) -> RetentionRule:
    policy.require_admin(actor)
    prefix = _check_prefix(kind_prefix)
    if type(days) is not int or not 1 <= days <= MAX_DAYS:
        raise InvalidInput(_("A retention period is between 1 and %(max)s days.") % {"max": MAX_DAYS})
    rule = RetentionRule.objects.select_for_update().filter(kind_prefix=prefix).first()
    previous = rule.days if rule else None
    if rule is None:
        rule = RetentionRule(kind_prefix=prefix)
    rule.days, rule.updated_by = days, actor
    rule.save()
    ledger.append(
        "retention.rule_set",
        {"kind_prefix": prefix, "days": days, "previous_days": previous},
        actor_id=actor.pk,
        unit_id=actor.unit_id,
        source="evidence",
    )
    return rule


@transaction.atomic
def remove_rule(actor: Employee, kind_prefix: str) -> None:
    policy.require_admin(actor)
    rule = RetentionRule.objects.select_for_update().filter(kind_prefix=kind_prefix).first()
    if rule is None:
        raise NotFound(_("No retention rule for %(kind)s.") % {"kind": kind_prefix})
    ledger.append(
        "retention.rule_removed",
        {"kind_prefix": rule.kind_prefix, "previous_days": rule.days},
        actor_id=actor.pk,
        unit_id=actor.unit_id,
        source="evidence",
    )
    rule.delete()


# ---------------------------------------------------------------- legal holds


@dataclass
class HoldInput:
    reason: str
    customer_id: int | None = None
    employee_id: int | None = None
    unit_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


@transaction.atomic
def place_hold(actor: Employee, data: HoldInput) -> LegalHold:
    selectors.require_holder(actor)
    reason = (data.reason or "").strip()
    if not reason:
        raise InvalidInput(_("A legal hold needs a reason."))
    if all(v is None for v in (data.customer_id, data.employee_id, data.unit_id, data.since, data.until)):
        raise InvalidInput(_("A legal hold covers a customer, an employee, a unit or a time range: choose at least one."))
    data.since, data.until = selectors.utc(data.since), selectors.utc(data.until)
    if data.since and data.until and data.since >= data.until:
        raise InvalidInput(_("The start of the time range must be before its end."))
    selectors.check_hold_targets(actor, data.customer_id, data.employee_id, data.unit_id)
    hold = LegalHold.objects.create(
        customer_id=data.customer_id,
        employee_id=data.employee_id,
        unit_id=data.unit_id,
        since=data.since,
        until=data.until,
        reason=reason[:500],
        placed_by=actor,
    )
    ledger.append(
        "legal_hold.placed",
        {"hold": hold.pk, **hold.criteria(), "reason": hold.reason},
        actor_id=actor.pk,
        unit_id=actor.unit_id,
        customer_id=data.customer_id,
        source="evidence",
        source_id=f"hold:{hold.pk}:placed",
    )
    return hold


@transaction.atomic
def release_hold(actor: Employee, hold_id: int, reason: str) -> LegalHold:
    selectors.require_holder(actor)
    hold = LegalHold.objects.select_for_update().filter(pk=hold_id).first()
    if hold is None:
        raise NotFound(_("Legal hold not found."))
    if not hold.active:
        raise InvalidInput(_("This legal hold was already released."))
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_("Releasing a legal hold needs a reason."))
    hold.released_by, hold.released_at, hold.release_reason = actor, timezone.now(), reason[:500]
    hold.save(update_fields=["released_by", "released_at", "release_reason"])
    ledger.append(
        "legal_hold.released",
        {"hold": hold.pk, **hold.criteria(), "reason": hold.release_reason},
        actor_id=actor.pk,
        unit_id=actor.unit_id,
        customer_id=hold.customer_id,
        source="evidence",
        source_id=f"hold:{hold.pk}:released",
    )
    return hold


def hold_q(hold: LegalHold) -> Q:
    """The entries a hold covers: all of its criteria at once."""
    q = Q()
    if hold.customer_id is not None:
        q &= Q(customer_id=hold.customer_id)
    if hold.employee_id is not None:
        q &= Q(actor_id=hold.employee_id)
    if hold.unit_id is not None:
        unit = Unit.objects.filter(pk=hold.unit_id).first()
        units = Unit.objects.filter(path__startswith=unit.path).values("pk") if unit else [hold.unit_id]
        q &= Q(unit_id__in=units)
    if hold.since is not None:
        q &= Q(occurred_at__gte=hold.since)
    if hold.until is not None:
        q &= Q(occurred_at__lt=hold.until)
    return q


# ---------------------------------------------------------------- the retention run


@dataclass
class RuleResult:
    kind_prefix: str
    days: int
    cutoff: datetime
    expired: int = 0  # bodies past the period
    held: int = 0  # of those, kept because a legal hold covers them
    redacted: int = 0
    entries: list[int] = field(default_factory=list)  # the retention.redacted entries written


def expired_entries(rule: RetentionRule, rules: list[RetentionRule], cutoff: datetime):
    qs = Entry.objects.filter(kind__startswith=rule.kind_prefix, payload__isnull=False, occurred_at__lt=cutoff)
    for other in rules:  # a longer prefix has its own period
        if other.kind_prefix != rule.kind_prefix and other.kind_prefix.startswith(rule.kind_prefix):
            qs = qs.exclude(kind__startswith=other.kind_prefix)
    for protected in PROTECTED:
        qs = qs.exclude(kind__startswith=protected)
    return qs


def run_retention(*, dry_run: bool = False, now: datetime | None = None, actor: Employee | None = None) -> list[RuleResult]:
    """Redact every body past its kind's retention period, except those a legal hold covers.

    Each batch is its own transaction (ledger.redact), so a long first run makes progress that
    sticks; a run that stops is simply run again. A batch holds the ledger's append lock while it
    reads the holds and redacts: a hold being placed (its ledger entry takes the same lock) is
    either seen by the batch or placed after it, never missed half way.
    """
    now = now or timezone.now()
    rules = list(RetentionRule.objects.all())
    results = []
    for rule in rules:
        result = RuleResult(rule.kind_prefix, rule.days, now - timedelta(days=rule.days))
        expired = expired_entries(rule, rules, result.cutoff)
        result.expired = expired.count()
        result.held = result.expired - _not_held(expired).count()
        reason = f"retention rule {rule.kind_prefix}*: {rule.days} days"
        while not dry_run:
            with transaction.atomic():
                list(LedgerState.objects.select_for_update().filter(pk=1))
                # Redacted bodies leave the query (payload IS NULL), so each batch starts afresh.
                seqs = list(_not_held(expired).order_by("seq").values_list("seq", flat=True)[:REDACT_BATCH])
                entry = ledger.redact(seqs, reason, actor_id=actor.pk if actor else None) if seqs else None
            if entry is None:
                break
            result.entries.append(entry.seq)
            result.redacted += len(ledger.redacted_seqs(entry))
        results.append(result)
    return results


def _not_held(qs):
    for hold in LegalHold.objects.filter(released_at__isnull=True):
        qs = qs.exclude(hold_q(hold))
    return qs
