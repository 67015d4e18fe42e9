"""Behaviour rules: what in a batch of new ledger entries should raise (or extend) an alert.

Each rule turns entries into Signals; services.raise_signals decides whether a signal opens a new
alert or joins the open one of the same incident (the signal's dedupe key). Counting rules read
the ledger itself, which already holds the batch (we run inside its append transaction).
"""

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from custos.alerts.models import SEVERITY_RANK, Hit
from custos.alerts.thresholds import values
from custos.ledger.models import Entry
from custos.org.models import Employee, Unit

MONEY_TYPES = ("redpacket", "external_redpacket", "transfer")

RULES = {
    "sensitive_words": _("Sensitive words"),
    "contact_leak": _("Personal phone or WeChat id shared"),
    "customer_deleted": _("Customer deleted by staff"),
    "mass_deletion": _("Several customers deleted"),
    "chat_deleted": _("Chat deleted on the device"),
    "recall_after_hit": _("Message recalled after a hit"),
    "private_group": _("Group with customers and no company observer"),
    "money_transfer": _("Red packet or transfer with a customer"),
    "bulk_access": _("Bulk reveal or export of customers"),
    "resigning_outreach": _("Resigning employee contacting many customers"),
    "contact_collapse": _("Contact with a customer collapsing"),
    "login_locked": _("Sign-ins held back after failures"),
}
CATEGORIES = {
    "private_deal": _("Private deal"),
    "contact_diversion": _("Contact diversion"),
    "kickback": _("Kickback"),
    "payment_diversion": _("Payment diversion"),
    "poaching": _("Poaching"),
    "contact_leak": _("Contact leak"),
    "deletion": _("Deletion"),
    "group": _("Private group"),
    "money": _("Money"),
    "exfiltration": _("Data taken out"),
    "relationship": _("Relationship"),
    "custom": _("Custom"),
    "account_attack": _("Attack on sign-in"),
}


@dataclass
class Signal:
    rule: str
    category: str
    severity: str
    seqs: list[int]
    at: datetime
    employee_id: int | None
    unit_id: int | None
    customer_id: int | None = None
    contact: str = ""
    detail: str = ""
    # Signals with one key within the dedupe window are one incident, one alert.
    key: str = ""
    hits: list = field(default_factory=list)

    def __post_init__(self):
        if not self.key:
            party = self.customer_id if self.customer_id is not None else self.contact
            self.key = f"{self.rule}:{self.category}:{self.employee_id}:{party}"[:200]


class _Context:
    """What the rules look up, fetched once per batch."""

    def __init__(self, items):
        actor_ids = {e.actor_id for e, _p in items if e.actor_id is not None}
        self.staff = (
            {e.pk: e for e in Employee.objects.filter(pk__in=actor_ids).select_related("unit")}
            if actor_ids
            else {}
        )
        unit_ids = {e.unit_id for e, _p in items if e.unit_id is not None}
        self.paths = dict(Unit.objects.filter(pk__in=unit_ids).values_list("pk", "path")) if unit_ids else {}
        self._values: dict[str, dict] = {}
        self.root = None

    def employee(self, entry) -> Employee | None:
        return self.staff.get(entry.actor_id)

    def unit_of(self, entry) -> int | None:
        employee = self.employee(entry)
        return employee.unit_id if employee else entry.unit_id

    def path_of(self, entry) -> str:
        employee = self.employee(entry)
        if employee:
            return employee.unit.path
        if entry.unit_id in self.paths:
            return self.paths[entry.unit_id]
        return ""

    def threshold(self, entry, key: str) -> int:
        path = self.path_of(entry)
        if path not in self._values:
            self._values[path] = values(path)
        return self._values[path][key]


def _signal(entry, ctx: _Context, rule: str, category: str, severity: str, **extra) -> Signal:
    employee = ctx.employee(entry)
    return Signal(
        rule=rule,
        category=category,
        severity=severity,
        seqs=extra.pop("seqs", [entry.seq]),
        at=entry.occurred_at,
        employee_id=employee.pk if employee else None,
        unit_id=ctx.unit_of(entry),
        customer_id=extra.pop("customer_id", entry.customer_id),
        **extra,
    )


def _word_signals(entry, payload, hits, ctx) -> list[Signal]:
    by_category: dict[str, list[Hit]] = {}
    for hit in hits:
        by_category.setdefault(hit.category, []).append(hit)
    signals = []
    for category, found in by_category.items():
        severity = max((h.severity for h in found), key=SEVERITY_RANK.__getitem__)
        rule = "contact_leak" if category == "contact_leak" else "sensitive_words"
        detail = "、".join(dict.fromkeys(h.matched for h in found))[:300]
        signals.append(
            _signal(
                entry, ctx, rule, category, severity, contact=_contact(payload), detail=detail, hits=found
            )
        )
    return signals


def _contact(payload: dict) -> str:
    value = payload.get("contact") or payload.get("conversation") or ""
    return str(value)[:200]


def _window(entry, hours: int) -> datetime:
    return entry.occurred_at - timedelta(hours=hours)


def _count(kind: str, entry, hours: int) -> list[int]:
    return list(
        Entry.objects.filter(
            kind=kind, actor_id=entry.actor_id, occurred_at__gte=_window(entry, hours), seq__lte=entry.seq
        )
        .order_by("seq")
        .values_list("seq", flat=True)
    )


def _resigning(entry, ctx, seen: set) -> Signal | None:
    employee = ctx.employee(entry)
    if employee is None or employee.status != Employee.Status.RESIGNING or employee.pk in seen:
        return None
    seen.add(employee.pk)
    hours, limit = ctx.threshold(entry, "resigning_hours"), ctx.threshold(entry, "resigning_contacts")
    contacts = set()
    rows = Entry.objects.filter(
        kind="message.sent", actor_id=employee.pk, occurred_at__gte=_window(entry, hours)
    ).values_list("customer_id", "payload")
    for customer_id, payload in rows:
        party = customer_id
        if party is None and payload:
            party = json.loads(payload).get("contact")
        if party is not None:
            contacts.add(str(party))
    if len(contacts) < limit:
        return None
    return _signal(
        entry, ctx, "resigning_outreach", "poaching", "high",
        detail=str(len(contacts)), key=f"resigning_outreach:{employee.pk}", customer_id=None,
    )  # fmt: skip


def _recalled(entry, payload, hits_by_seq) -> tuple[int, list] | None:
    source_id = payload.get("message")
    if not isinstance(source_id, str):
        return None
    seq = Entry.objects.filter(source=entry.source, source_id=source_id).values_list("seq", flat=True).first()
    if seq is None:
        return None
    hits = hits_by_seq.get(seq) or list(Hit.objects.filter(entry_seq=seq))
    return (seq, hits) if hits else None


def _shown_name(value) -> str:
    """A user name as typed by anyone at the login form, safe to show and to post to a chat robot:
    letters, digits and . _ @ + - only (no markdown, no links), at most 40 characters."""
    return re.sub(r"[^\w.@+-]", "", str(value or ""))[:40] or "-"


def _shown_address(value) -> str:
    return re.sub(r"[^0-9A-Fa-f.:/]", "", str(value or ""))[:45] or "-"


def _login_locked(entry, payload) -> Signal:
    """A name, its second factor or a client address was made to wait (custos.access.login). For
    the administrators, at the root unit: the account's own store has nothing to do about it, and
    the account's owner is the target, not a suspect."""
    scope = str(payload.get("scope") or "")
    ip = _shown_address(payload.get("ip"))
    who = _shown_address(payload.get("address")) if scope == "address" else _shown_name(payload.get("username"))
    high = scope == "address" or payload.get("admin") is True
    detail = f"{scope} {who}: {payload.get('failures')}× → {payload.get('seconds')}s ({ip})"
    return Signal(
        rule="login_locked",
        category="account_attack",
        severity="high" if high else "medium",
        seqs=[entry.seq],
        at=entry.occurred_at,
        employee_id=None,
        unit_id=None,
        detail=detail[:300],
        key=f"login_locked:{scope}:{who}"[:200],
    )


def evaluate(items: list, hits_by_seq: dict[int, list[Hit]]) -> list[Signal]:
    """Signals from new (entry, payload) pairs, in ledger order."""
    ctx = _Context(items)
    signals: list[Signal] = []
    resigning_seen: set[int] = set()
    for entry, payload in items:
        kind = entry.kind
        if kind in ("message.sent", "message.received"):
            signals += _word_signals(entry, payload, hits_by_seq.get(entry.seq, ()), ctx)
            if payload.get("msgtype") in MONEY_TYPES:
                amount = payload.get("amount") if isinstance(payload.get("amount"), int) else 0
                if amount >= ctx.threshold(entry, "money_min_fen"):
                    detail = f"{payload['msgtype']} ¥{amount / 100:.2f}"
                    signals.append(
                        _signal(entry, ctx, "money_transfer", "money", "medium",
                                contact=_contact(payload), detail=detail)
                    )  # fmt: skip
            if kind == "message.sent" and (found := _resigning(entry, ctx, resigning_seen)):
                signals.append(found)
        elif kind == "message.recalled":
            found = _recalled(entry, payload, hits_by_seq)
            if found:
                seq, hits = found
                top = max(hits, key=lambda h: SEVERITY_RANK[h.severity])
                signals.append(
                    _signal(entry, ctx, "recall_after_hit", top.category, "high", seqs=[seq, entry.seq],
                            contact=_contact(payload), detail="、".join(h.matched for h in hits)[:300], hits=hits)
                )  # fmt: skip
        elif kind == "contact.deleted_by_staff":
            if payload.get("by_transfer"):
                continue  # WeCom removed the old owner after a transfer the company asked for
            signals.append(
                _signal(entry, ctx, "customer_deleted", "deletion", "medium", contact=_contact(payload))
            )
            if entry.actor_id is not None:
                seqs = _count(kind, entry, ctx.threshold(entry, "deletions_hours"))
                if len(seqs) >= ctx.threshold(entry, "deletions_count"):
                    signals.append(
                        _signal(entry, ctx, "mass_deletion", "deletion", "high", seqs=seqs, customer_id=None,
                                detail=str(len(seqs)), key=f"mass_deletion:{entry.actor_id}")
                    )  # fmt: skip
        elif kind == "chat.deleted_on_device":
            signals.append(
                _signal(entry, ctx, "chat_deleted", "deletion", "medium", contact=_contact(payload))
            )
        elif kind == "group.created":
            members = payload.get("members") or []
            customers = [m for m in members if isinstance(m, dict) and m.get("contact")]
            if payload.get("has_company_observer") is False and customers:
                signals.append(
                    _signal(entry, ctx, "private_group", "group", "medium",
                            contact=str(payload.get("group") or "")[:200],
                            detail=f"{payload.get('name') or ''} ({len(customers)})"[:300])
                )  # fmt: skip
        elif kind.startswith("risk.bulk_"):
            signals.append(
                _signal(entry, ctx, "bulk_access", "exfiltration", "high", customer_id=None,
                        detail=kind.removeprefix("risk."), key=f"bulk_access:{entry.actor_id}")
            )  # fmt: skip
        elif kind == "auth.locked_out":
            signals.append(_login_locked(entry, payload))
        elif kind == "access.revealed" and entry.actor_id is not None:
            seqs = _count(kind, entry, ctx.threshold(entry, "reveals_hours"))
            if len(seqs) >= ctx.threshold(entry, "reveals_count"):
                signals.append(
                    _signal(entry, ctx, "bulk_access", "exfiltration", "medium", seqs=seqs, customer_id=None,
                            detail=str(len(seqs)), key=f"bulk_access:{entry.actor_id}")
                )  # fmt: skip
    return signals


def message_query() -> Q:
    return Q(kind="message.sent") | Q(kind="message.received")
