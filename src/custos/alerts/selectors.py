"""Reads of alerts, the lexicon and webhooks, always through the viewer's scope.

Alerts are routed to the managers whose scope covers the employee: a manager sees the alerts of
their unit's subtree; executives, admins and auditors all; sales and service staff none (an alert
about a salesperson is not theirs to read).
"""

import functools
import json
from dataclasses import dataclass

from django.db.models import QuerySet
from django.utils.translation import gettext as _

from custos.access.scope import scope_of
from custos.alerts import engines, thresholds
from custos.alerts.models import Alert, AllowedChannel, Delivery, Hit, LexiconTerm, Webhook
from custos.alerts.thresholds import ancestor_ids
from custos.core.errors import NotFound
from custos.core.masking import mask_text
from custos.detection.engine import Engine
from custos.ledger.models import Entry
from custos.org.models import Employee, Role, Unit


def _scoped(viewer: Employee, qs: QuerySet, unit_path: str) -> QuerySet:
    scope = scope_of(viewer)
    if scope.kind == "own":
        return qs.none()
    return scope.filter(qs, unit_path=unit_path)


def alerts_visible(viewer: Employee) -> QuerySet[Alert]:
    return _scoped(viewer, Alert.objects.select_related("employee", "unit"), "unit__path")


@dataclass
class Filters:
    state: str | None = None
    severity: str | None = None
    rule: str | None = None
    category: str | None = None
    unit_id: int | None = None
    employee_id: int | None = None


def list_alerts(viewer: Employee, filters: Filters | None = None) -> QuerySet[Alert]:
    f = filters or Filters()
    qs = alerts_visible(viewer)
    if f.state == "active":
        qs = qs.filter(state__in=[Alert.State.OPEN, Alert.State.ACKNOWLEDGED])
    elif f.state:
        qs = qs.filter(state=f.state)
    if f.severity:
        qs = qs.filter(severity=f.severity)
    if f.rule:
        qs = qs.filter(rule=f.rule)
    if f.category:
        qs = qs.filter(category=f.category)
    if f.employee_id:
        qs = qs.filter(employee_id=f.employee_id)
    if f.unit_id:
        unit = Unit.objects.filter(pk=f.unit_id).first()
        if unit is None or not scope_of(viewer).covers_unit(unit):
            raise NotFound(_("Unit not found."))
        qs = qs.filter(unit__path__startswith=unit.path)
    return qs


def open_count(viewer: Employee) -> int:
    return alerts_visible(viewer).filter(state=Alert.State.OPEN).order_by().count()


def get_alert(viewer: Employee, alert_id: int) -> Alert:
    alert = alerts_visible(viewer).filter(pk=alert_id).first()
    if alert is None:
        raise NotFound(_("Alert not found."))
    return alert


@dataclass
class Span:
    text: str
    hit: Hit | None = None


@dataclass
class Evidence:
    seq: int
    kind: str
    occurred_at: object
    actor_id: int | None
    customer_id: int | None
    payload: dict | None
    text: str | None
    hits: list
    spans: list  # the text cut at the hits, for highlighting


def _spans(text: str, hits: list[Hit], mask: bool) -> list[Span]:
    spans, at = [], 0
    for hit in sorted(hits, key=lambda h: (h.start, -h.end)):
        if hit.start < at or hit.end > len(text):
            continue  # overlapping hits: the first one is marked
        if hit.start > at:
            spans.append(Span(text[at : hit.start]))
        piece = text[hit.start : hit.end]
        spans.append(
            Span(mask_text(piece, keep=2) if mask and hit.category == "contact_leak" else piece, hit)
        )
        at = hit.end
    if at < len(text):
        spans.append(Span(text[at:]))
    return spans


def evidence(viewer: Employee, alert: Alert) -> list[Evidence]:
    """The alert's ledger entries, with the hits in each and the message text cut for highlighting.

    A shared phone number or WeChat id stays masked: the alert proves it was shared, the clear
    value is a reveal of its own.
    """
    get_alert(viewer, alert.pk)  # the alert decides who may read its evidence
    seqs = [int(s) for s in alert.evidence][:200]
    entries = {e.seq: e for e in Entry.objects.filter(seq__in=seqs)}
    hits: dict[int, list[Hit]] = {}
    for hit in Hit.objects.filter(entry_seq__in=seqs):
        hits.setdefault(hit.entry_seq, []).append(hit)
    result = []
    for seq in seqs:
        entry = entries.get(seq)
        if entry is None:
            continue
        payload = json.loads(entry.payload) if entry.payload else None
        text = (
            payload.get("text")
            if isinstance(payload, dict) and isinstance(payload.get("text"), str)
            else None
        )
        found = hits.get(seq, [])
        spans = _spans(text, found, mask=True) if text else []
        result.append(
            Evidence(
                seq=seq,
                kind=entry.kind,
                occurred_at=entry.occurred_at,
                actor_id=entry.actor_id,
                customer_id=entry.customer_id,
                payload=payload,
                text="".join(span.text for span in spans) if text else None,
                hits=found,
                spans=spans,
            )
        )
    return result


@functools.lru_cache(maxsize=512)
def _suppressing_phrase(
    path: str, version: int, text: str, start: int, end: int, category: str
) -> str | None:
    """The shortest phrase around a hit that, allowed, stops it: a false positive's allow-list candidate.

    The engine ignores an allowed phrase that lies inside a hit (allowing 回扣 itself would switch
    the word off), so a candidate takes a character or two of context: 有回扣 in 我们有回扣政策说明.
    """
    terms, allow = engines.effective(path or None, version)
    for before, after in ((1, 0), (0, 1), (1, 1), (2, 2)):
        phrase = text[max(0, start - before) : end + after].strip()
        if len(phrase) <= end - start or len(phrase) > 60:
            continue
        engine = Engine.from_default(extra_terms=terms, allow=[*allow, phrase])
        if not any(h.category == category and h.start <= start < h.end for h in engine.scan(text, "staff")):
            return phrase
    return None


def allow_candidates(viewer: Employee, alert: Alert) -> list[str]:
    """Phrases that would have stopped this alert's word hits, offered when it is a false positive."""
    if alert.rule not in ("sensitive_words", "recall_after_hit") or not alert.is_open:
        return []
    path = alert.unit.path
    version = engines.current_version()
    phrases = []
    for item in evidence(viewer, alert):
        for hit in item.hits[:3]:
            if item.text and hit.category != "contact_leak":
                phrase = _suppressing_phrase(path, version, item.text, hit.start, hit.end, hit.category)
                if phrase and phrase not in phrases:
                    phrases.append(phrase)
    return phrases[:5]


def recipients(alert: Alert) -> QuerySet[Employee]:
    """The managers whose scope covers the alert's unit (the people told first)."""
    return (
        Employee.objects.filter(
            role=Role.MANAGER, unit_id__in=ancestor_ids(alert.unit.path), frozen_at__isnull=True
        )
        .exclude(status=Employee.Status.DEPARTED)
        .select_related("unit")
    )


def thresholds_of(viewer: Employee, unit_id: int) -> dict[str, dict]:
    """A unit's effective rule settings, for those who see its alerts."""
    unit = Unit.objects.filter(pk=unit_id).first()
    scope = scope_of(viewer)
    if unit is None or scope.kind in ("own", "none") or not scope.covers_unit(unit):
        raise NotFound(_("Unit not found."))
    return thresholds.effective(unit.path)


def terms_visible(viewer: Employee, unit_id: int | None = None) -> QuerySet[LexiconTerm]:
    qs = _scoped_units(viewer, LexiconTerm.objects.select_related("unit", "created_by"), unit_id)
    return qs


def allowed_visible(viewer: Employee, unit_id: int | None = None) -> QuerySet[AllowedChannel]:
    return _scoped_units(viewer, AllowedChannel.objects.select_related("unit", "created_by"), unit_id)


def _scoped_units(viewer: Employee, qs: QuerySet, unit_id: int | None) -> QuerySet:
    """A unit's own rows and those it inherits from above, for managers of it; all for admins."""
    scope = scope_of(viewer)
    if scope.kind in ("own", "none"):
        return qs.none()
    if unit_id is not None:
        unit = Unit.objects.filter(pk=unit_id).first()
        if unit is None or not scope.covers_unit(unit):
            raise NotFound(_("Unit not found."))
        return qs.filter(unit_id__in=ancestor_ids(unit.path))
    if scope.kind == "subtree":
        viewer_chain = ancestor_ids(scope.unit_path)
        from django.db.models import Q

        return qs.filter(Q(unit__path__startswith=scope.unit_path) | Q(unit_id__in=viewer_chain))
    return qs


def get_term(viewer: Employee, term_id: int) -> LexiconTerm:
    term = terms_visible(viewer).filter(pk=term_id).first()
    if term is None:
        raise NotFound(_("Term not found."))
    return term


def get_allowed(viewer: Employee, allowed_id: int) -> AllowedChannel:
    row = allowed_visible(viewer).filter(pk=allowed_id).first()
    if row is None:
        raise NotFound(_("Channel not found."))
    return row


def webhooks_visible(viewer: Employee) -> QuerySet[Webhook]:
    scope = scope_of(viewer)
    if scope.kind in ("own", "none"):
        return Webhook.objects.none()
    return scope.filter(Webhook.objects.select_related("unit"), unit_path="unit__path")


def get_webhook(viewer: Employee, webhook_id: int) -> Webhook:
    hook = webhooks_visible(viewer).filter(pk=webhook_id).first()
    if hook is None:
        raise NotFound(_("Webhook not found."))
    return hook


def deliveries_of(viewer: Employee, webhook_id: int) -> QuerySet[Delivery]:
    return get_webhook(viewer, webhook_id).deliveries.select_related("alert")[:50]
