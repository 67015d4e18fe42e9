"""Reads for evidence, retention and holds, always through the viewer's scope.

A package holds only entries the requester may see (custos.ledger.selectors.entries_visible), and
a customer or employee outside their scope does not exist for them (404), so a store manager can
neither package another store's people nor learn that they exist.
"""

from dataclasses import dataclass
from datetime import UTC, datetime

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access.scope import scope_of
from custos.core.errors import Forbidden, InvalidInput, NotFound
from custos.customers.selectors import get_customer
from custos.evidence.models import EvidencePackage, LegalHold, RetentionRule
from custos.ledger.models import Entry
from custos.ledger.selectors import entries_visible
from custos.org.models import Employee, Role
from custos.org.selectors import get_employee, get_unit

PACKAGERS = {Role.MANAGER, Role.EXECUTIVE, Role.ADMIN, Role.AUDITOR}
HOLDERS = {Role.ADMIN, Role.AUDITOR}


@dataclass
class Selection:
    customer_id: int | None = None
    employee_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    def as_dict(self) -> dict:
        return {
            "customer_id": self.customer_id,
            "employee_id": self.employee_id,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


def require_packager(viewer: Employee | None) -> None:
    if viewer is not None and (not viewer.may_sign_in or viewer.role not in PACKAGERS):
        raise Forbidden(_("Only managers, executives, administrators and auditors produce evidence packages."))


def require_holder(viewer: Employee | None) -> None:
    if viewer is not None and (not viewer.may_sign_in or viewer.role not in HOLDERS):
        raise Forbidden(_("Only administrators and auditors place or release legal holds."))


def utc(ts: datetime | None) -> datetime | None:
    """An aware UTC time the databases can hold, or InvalidInput (year 1 at +08:00 is not one)."""
    if ts is None:
        return None
    try:
        ts = (timezone.make_aware(ts) if timezone.is_naive(ts) else ts).astimezone(UTC)
    except (OverflowError, ValueError) as exc:
        raise InvalidInput(_("%(time)s is not a time the ledger can hold.") % {"time": ts.isoformat()}) from exc
    if ts.year < 2 or ts.year > 9998:
        raise InvalidInput(_("%(time)s is not a time the ledger can hold.") % {"time": ts.isoformat()})
    return ts


def check_selection(viewer: Employee | None, selection: Selection) -> None:
    """Refuse an empty or reversed selection; a customer or employee out of scope is a 404."""
    selection.since, selection.until = utc(selection.since), utc(selection.until)
    if selection.customer_id is None and selection.employee_id is None and not (selection.since or selection.until):
        raise InvalidInput(_("Choose a customer, an employee or a time range."))
    if selection.since and selection.until and selection.since >= selection.until:
        raise InvalidInput(_("The start of the time range must be before its end."))
    if viewer is None:
        return
    if selection.customer_id is not None:
        get_customer(viewer, selection.customer_id)
    if selection.employee_id is not None:
        get_employee(viewer, selection.employee_id)


def selected_entries(viewer: Employee | None, selection: Selection) -> QuerySet[Entry]:
    """The entries of a selection that the viewer may see (viewer None: the operator's CLI, all)."""
    qs = Entry.objects.all() if viewer is None else entries_visible(viewer)
    if selection.customer_id is not None:
        qs = qs.filter(customer_id=selection.customer_id)
    if selection.employee_id is not None:
        qs = qs.filter(actor_id=selection.employee_id)
    if selection.since is not None:
        qs = qs.filter(occurred_at__gte=selection.since)
    if selection.until is not None:
        qs = qs.filter(occurred_at__lt=selection.until)
    # Evidence packages of earlier packages would make each package a little larger than the last.
    return qs.exclude(kind__startswith="evidence.").order_by("seq")


def keep_days() -> int:
    """CUSTOS_EVIDENCE_KEEP_DAYS: days a built package's file is kept (0: forever)."""
    raw = getattr(settings, "CUSTOS_EVIDENCE_KEEP_DAYS", 30)
    text = str(raw).strip()
    if not text.isdigit() or len(text) > 6:
        raise ImproperlyConfigured(
            f"CUSTOS_EVIDENCE_KEEP_DAYS must be a whole number of days (0 keeps packages forever), not {text[:20]!r}"
        )
    return int(text)


def packages_of(viewer: Employee) -> QuerySet[EvidencePackage]:
    """A package is for whoever asked for it: nobody else sees it, admins included."""
    return EvidencePackage.objects.filter(requested_by=viewer)


def get_package(viewer: Employee, public_id) -> EvidencePackage:
    package = packages_of(viewer).filter(public_id=public_id).first()
    if package is None:
        raise NotFound(_("Evidence package not found."))
    return package


def retention_rules(viewer: Employee) -> QuerySet[RetentionRule]:
    if scope_of(viewer).kind != "all":
        raise Forbidden(_("Only administrators, executives and auditors see retention rules."))
    return RetentionRule.objects.all()


def legal_holds(viewer: Employee, *, active: bool | None = None) -> QuerySet[LegalHold]:
    if scope_of(viewer).kind != "all":
        raise Forbidden(_("Only administrators, executives and auditors see legal holds."))
    qs = LegalHold.objects.all()
    if active is not None:
        qs = qs.filter(released_at__isnull=active)
    return qs


def get_hold(viewer: Employee, hold_id: int) -> LegalHold:
    hold = legal_holds(viewer).filter(pk=hold_id).first()
    if hold is None:
        raise NotFound(_("Legal hold not found."))
    return hold


def check_hold_targets(viewer: Employee | None, customer_id, employee_id, unit_id) -> None:
    if viewer is None:
        return
    if customer_id is not None:
        get_customer(viewer, customer_id)
    if employee_id is not None:
        get_employee(viewer, employee_id)
    if unit_id is not None:
        get_unit(viewer, unit_id)
