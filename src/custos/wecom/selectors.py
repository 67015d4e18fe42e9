"""Reads of the WeCom connector, each for a viewer.

The connection, its callbacks and syncs are the company's plumbing: admins, executives and
auditors see them (nothing in them is a customer's contact detail). A departure case's transfer
states follow the case's own scope.
"""

from django.db.models import Count, Q, QuerySet
from django.utils.translation import gettext as _

from custos.access.scope import scope_of
from custos.core.errors import Forbidden
from custos.handover.selectors import get_case
from custos.org.models import Employee, Role
from custos.wecom import secrets
from custos.wecom.models import (
    AppMessage,
    ArchiveKey,
    ArchiveMedia,
    ArchiveMessage,
    ArchiveSettings,
    Callback,
    Connection,
    HeldRecord,
    MemberLink,
    SyncRun,
    Transfer,
)

READERS = (Role.ADMIN, Role.EXECUTIVE, Role.AUDITOR)


def require_reader(viewer: Employee) -> None:
    if viewer.role not in READERS:
        raise Forbidden(_("Only administrators, executives and auditors see the WeCom connection."))


def _pills(choices, qs) -> list[tuple[str, str, int]]:
    """(status, its label, how many) in the order the statuses are declared."""
    counts = dict(qs.values_list("status").annotate(n=Count("pk")).order_by())
    return [(value, label, counts[value]) for value, label in choices.choices if counts.get(value)]


def overview(viewer: Employee) -> dict:
    require_reader(viewer)
    conn = Connection.objects.filter(pk=1).first() or Connection(pk=1)
    members = MemberLink.objects.aggregate(
        linked=Count("pk", filter=Q(employee__isnull=False, missing_since__isnull=True)),
        unlinked=Count("pk", filter=Q(employee__isnull=True)),
        missing=Count("pk", filter=Q(missing_since__isnull=False)),
    )
    return {
        "connection": conn,
        "configured": bool(conn.corp_id),
        "secrets_set": {kind: bool(getattr(conn, field)) for kind, field in secrets.KINDS.items()},
        "callback_set": bool(conn.callback_token_encrypted and conn.callback_aes_key_encrypted),
        "members": members,
        "missing_members": list(MemberLink.objects.filter(missing_since__isnull=False).select_related("employee")[:20]),
        "unlinked_members": list(MemberLink.objects.filter(employee__isnull=True)[:20]),
        "last_sync": {kind: SyncRun.objects.filter(kind=kind).first() for kind in SyncRun.Kind.values},
        "callbacks": list(Callback.objects.all()[:30]),
        "callback_counts": dict(Callback.objects.values_list("status").annotate(n=Count("pk")).order_by()),
        "transfers": dict(Transfer.objects.values_list("status").annotate(n=Count("pk")).order_by()),
        "callback_pills": _pills(Callback.Status, Callback.objects),
        "transfer_pills": _pills(Transfer.Status, Transfer.objects),
        "failed_messages": list(AppMessage.objects.filter(status=AppMessage.Status.FAILED)[:10]),
    }


def archive(viewer: Employee) -> dict:
    """The chat archive pull at a glance: where it is, its keys, what waits and why."""
    require_reader(viewer)
    held = (
        HeldRecord.objects.filter(status=HeldRecord.Status.HELD)
        .values_list("publickey_ver", "reason")
        .annotate(n=Count("pk"))
        .order_by("publickey_ver", "reason")
    )
    reasons = dict(HeldRecord.Reason.choices)
    return {
        "settings": ArchiveSettings.objects.filter(pk=1).first(),
        "keys": list(ArchiveKey.objects.order_by("version").values("version", "fingerprint", "added_at")),
        "held": [(v, reasons.get(r, r), n) for v, r, n in held],
        "messages": [p for p in _pills(ArchiveMessage.Status, ArchiveMessage.objects) if p[0] != ArchiveMessage.Status.APPENDED],
        "media": _pills(ArchiveMedia.Status, ArchiveMedia.objects),
        "failed_media": list(ArchiveMedia.objects.filter(status=ArchiveMedia.Status.FAILED).order_by("-pk")[:10]),
    }


def sync_run(viewer: Employee, run_id: int) -> SyncRun | None:
    require_reader(viewer)
    return SyncRun.objects.filter(pk=run_id).first()


def callbacks(viewer: Employee, *, status: str | None = None) -> QuerySet[Callback]:
    require_reader(viewer)
    qs = Callback.objects.all()
    return qs.filter(status=status) if status else qs


def transfers_of_case(viewer: Employee, case_id: int) -> QuerySet[Transfer]:
    get_case(viewer, case_id)  # 404 outside the viewer's scope
    # A viewer limited to product lines or grades sees the transfers of their customers (and groups').
    return scope_of(viewer).limit_customers(Transfer.objects.filter(case_id=case_id))


def transfers_of_plan(viewer: Employee, plan) -> QuerySet[Transfer]:
    return scope_of(viewer).limit_customers(Transfer.objects.filter(plan_id=plan.pk))


def transfer(viewer: Employee, transfer_id: int) -> Transfer:
    from custos.core.errors import NotFound
    from custos.handover.selectors import plans_visible

    t = Transfer.objects.filter(pk=transfer_id).first()
    if t is None or not plans_visible(viewer).filter(pk=t.plan_id).exists():
        raise NotFound(_("Transfer not found."))
    return t


def member_names(userids) -> dict[str, str]:
    """WeCom userids as people read them: the employee's name, else the member's WeCom name."""
    out = {}
    for link in MemberLink.objects.filter(userid__in=[u for u in userids if u]).select_related("employee"):
        out[link.userid] = link.employee.name if link.employee else (link.name or link.userid)
    return out
