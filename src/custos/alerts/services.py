"""Every write of the alerts app, each in one transaction with its ledger entry.

Raising: a signal of the rules opens an alert, or joins the open alert of the same incident (same
dedupe key within the unit's dedupe window). A new alert is an `alert.raised` entry and one
delivery row per webhook that covers its unit, all in the transaction of the message that caused
it; the deliveries are sent after commit (tasks.send_delivery), so a rollback sends nothing.
"""

from collections import defaultdict
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access import policy
from custos.alerts import delivery, engines, thresholds
from custos.alerts.models import (
    SEVERITY_RANK,
    Alert,
    AllowedChannel,
    Delivery,
    LexiconTerm,
    Threshold,
    Webhook,
)
from custos.alerts.signals import alerts_raised
from custos.core import crypto, keyring
from custos.core.errors import Conflict, Forbidden, InvalidInput
from custos.detection.lexicon import LexiconError, read_terms
from custos.ledger.services import Event, append_batch
from custos.org.models import Employee, Unit

SOURCE = "alerts"
OPEN_STATES = (Alert.State.OPEN, Alert.State.ACKNOWLEDGED)
MAX_REASON = 500


def _entry(kind: str, alert: Alert, actor: Employee | None, reason: str = "") -> Event:
    return Event(
        kind=kind,
        payload={
            "alert": alert.pk,
            "rule": alert.rule,
            "category": alert.category,
            "severity": alert.severity,
            "evidence": list(alert.evidence),
            "reason": reason,
        },
        actor_id=actor.pk if actor else None,
        unit_id=alert.unit_id,
        customer_id=alert.customer_id,
        source=SOURCE,
        source_id=f"alert:{alert.pk}:{kind.removeprefix('alert.')}",
    )


def _root_unit_id() -> int | None:
    return Unit.objects.filter(parent__isnull=True).order_by("pk").values_list("pk", flat=True).first()


def raise_signals(signals) -> list[Alert]:
    """Open or extend alerts for the rules' signals; returns the alerts newly raised.

    A batch of messages brings its signals together: the open alerts of their keys are read and
    locked in one query, new alerts written in one insert with one `alert.raised` entry each in
    one append, and their deliveries in one insert. Signals of one key in one batch are one
    incident, as they would be one message apart.
    """
    signals = list(signals)
    if not signals:
        return []
    units = _UnitCache()
    found: dict[str, list[Alert]] = defaultdict(list)  # key → its open alerts, oldest first
    for alert in (
        Alert.objects.select_for_update()
        .filter(dedupe_key__in={s.key for s in signals}, state__in=OPEN_STATES)
        .order_by("id")
    ):
        found[alert.dedupe_key].append(alert)
    extended: dict[int, Alert] = {}
    raised: list[Alert] = []
    for signal in signals:
        unit_id = signal.unit_id or units.root_id()
        if unit_id is None:
            continue  # no organisation yet: nobody to tell
        since = signal.at - timedelta(hours=units.dedupe_hours(unit_id))
        alert = next((a for a in reversed(found[signal.key]) if a.last_seen_at >= since), None)
        if alert is not None:
            _extend(alert, signal)
            if alert.pk is not None:
                extended[alert.pk] = alert
            continue
        alert = Alert(
            rule=signal.rule,
            category=signal.category,
            severity=signal.severity,
            employee_id=signal.employee_id,
            customer_id=signal.customer_id,
            contact=signal.contact,
            unit_id=unit_id,
            summary=signal.detail[:300],
            evidence=list(dict.fromkeys(signal.seqs)),
            dedupe_key=signal.key,
            raised_at=signal.at,
            last_seen_at=signal.at,
        )
        found[signal.key].append(alert)
        raised.append(alert)
    for alert in extended.values():
        alert.save(update_fields=["evidence", "occurrences", "last_seen_at", "severity", "summary"])
    if raised:
        Alert.objects.bulk_create(raised)  # primary keys come back on both databases (RETURNING)
        append_batch([_entry("alert.raised", alert, None) for alert in raised])
        _queue_deliveries(raised, "alert.raised", units)
        alerts_raised.send(sender=Alert, alerts=raised)
    return raised


def _extend(alert: Alert, signal) -> None:
    alert.evidence = [*alert.evidence, *(s for s in signal.seqs if s not in alert.evidence)]
    alert.occurrences += 1
    alert.last_seen_at = max(alert.last_seen_at, signal.at)
    if SEVERITY_RANK[signal.severity] > SEVERITY_RANK[alert.severity]:
        alert.severity = signal.severity
    if signal.detail and signal.detail not in alert.summary:
        alert.summary = f"{alert.summary}、{signal.detail}"[:300] if alert.summary else signal.detail


class _UnitCache:
    """What raising needs to know of units, read once per batch of signals."""

    def __init__(self):
        self._root: list[int | None] = []
        self._paths: dict[int, str] = {}
        self._windows: dict[int, int] = {}
        self._hooks: dict[int, list[Webhook]] = {}

    def root_id(self) -> int | None:
        if not self._root:
            self._root.append(_root_unit_id())
        return self._root[0]

    def path(self, unit_id: int) -> str:
        if unit_id not in self._paths:
            self._paths[unit_id] = Unit.objects.filter(pk=unit_id).values_list("path", flat=True).first() or ""
        return self._paths[unit_id]

    def dedupe_hours(self, unit_id: int) -> int:
        if unit_id not in self._windows:
            self._windows[unit_id] = thresholds.values(self.path(unit_id))["dedupe_hours"]
        return self._windows[unit_id]

    def hooks(self, unit_id: int) -> list[Webhook]:
        """The enabled webhooks of the unit and the units above it."""
        if unit_id not in self._hooks:
            chain = thresholds.ancestor_ids(self.path(unit_id))
            self._hooks[unit_id] = list(Webhook.objects.filter(enabled=True, unit_id__in=chain))
        return self._hooks[unit_id]


def _queue_deliveries(alerts: list[Alert], event: str, units: _UnitCache) -> None:
    now = timezone.now()
    rows = [
        Delivery(webhook=hook, alert=alert, event=event, next_attempt_at=now)
        for alert in alerts
        for hook in units.hooks(alert.unit_id)
        if SEVERITY_RANK[alert.severity] >= SEVERITY_RANK[hook.min_severity]
    ]
    if not rows:
        return
    Delivery.objects.bulk_create(rows)
    ids = [row.pk for row in rows]
    transaction.on_commit(lambda: delivery.enqueue(ids))


def notify(
    *, unit_id: int, title: str, text: str, link: str = "", event: str = "notice", severity: str = "low",
    this_unit_only: bool = False,
) -> list[Delivery]:  # fmt: skip
    """Push a notice (a digest of another app: pool reminders, the weekly report) to the webhooks
    of a unit and the units above it that take this severity; sent and retried like alerts, after
    commit. `text` is markdown and leaves the building: no contact details in it.
    this_unit_only: the unit's own webhooks alone (insights makes a digest for each unit that has
    one: the units above should not get every unit's copy besides their own)."""
    units = _UnitCache()
    if this_unit_only:
        units._hooks[unit_id] = list(Webhook.objects.filter(enabled=True, unit_id=unit_id))
    now = timezone.now()
    rows = [
        Delivery(
            webhook=hook, alert=None, event=event[:40], next_attempt_at=now,
            notice_title=title[:200], notice_text=text, notice_link=link[:500],
        )
        for hook in units.hooks(unit_id)
        if SEVERITY_RANK[severity] >= SEVERITY_RANK[hook.min_severity]
    ]  # fmt: skip
    if rows:
        Delivery.objects.bulk_create(rows)
        ids = [row.pk for row in rows]
        transaction.on_commit(lambda: delivery.enqueue(ids))
    return rows


# --- lifecycle ---------------------------------------------------------------------------


def _require_handler(actor: Employee, alert: Alert) -> None:
    policy.require_staff_manager(actor)
    if alert.employee_id == actor.pk:
        raise Forbidden(_("An alert about yourself is handled by your manager."))


def _reason(reason: str, required: bool) -> str:
    reason = " ".join((reason or "").split())
    if required and not reason:
        raise InvalidInput(_("Give a reason."))
    if len(reason) > MAX_REASON or "\x00" in reason:
        raise InvalidInput(_("The reason is at most %(n)d characters.") % {"n": MAX_REASON})
    return reason


def _locked(alert: Alert) -> Alert:
    return Alert.objects.select_for_update().get(pk=alert.pk)


@transaction.atomic
def acknowledge(*, actor: Employee, alert: Alert, note: str = "") -> Alert:
    _require_handler(actor, alert)
    note = _reason(note, required=False)
    alert = _locked(alert)
    if alert.state != Alert.State.OPEN:
        raise Conflict(_("Only an open alert can be acknowledged."))
    alert.state = Alert.State.ACKNOWLEDGED
    alert.acknowledged_by, alert.acknowledged_at = actor, timezone.now()
    alert.save(update_fields=["state", "acknowledged_by", "acknowledged_at"])
    append_batch([_entry("alert.acknowledged", alert, actor, note)])
    return alert


@transaction.atomic
def resolve(*, actor: Employee, alert: Alert, reason: str) -> Alert:
    return _close(actor, alert, reason, Alert.State.RESOLVED, "alert.resolved")


@transaction.atomic
def mark_false_positive(*, actor: Employee, alert: Alert, reason: str, allow: list[str] = ()) -> Alert:
    """Close as a false positive; `allow` phrases join the allow-list of the alert's unit."""
    alert = _close(actor, alert, reason, Alert.State.FALSE_POSITIVE, "alert.false_positive")
    phrases = [p for p in dict.fromkeys(" ".join((p or "").split()) for p in allow) if p]
    if phrases:
        unit = Unit.objects.get(pk=alert.unit_id)
        require_unit_manager(actor, unit)
        for phrase in phrases:
            add_allowed(
                actor=actor,
                unit=unit,
                value=phrase,
                note=_("False positive of alert #%(id)s") % {"id": alert.pk},
            )
    return alert


def _close(actor: Employee, alert: Alert, reason: str, state: str, kind: str) -> Alert:
    _require_handler(actor, alert)
    reason = _reason(reason, required=True)
    alert = _locked(alert)
    if alert.state not in OPEN_STATES:
        raise Conflict(_("This alert is closed already."))
    alert.state, alert.reason = state, reason
    alert.closed_by, alert.closed_at = actor, timezone.now()
    alert.save(update_fields=["state", "reason", "closed_by", "closed_at"])
    append_batch([_entry(kind, alert, actor, reason)])
    return alert


# --- lexicon, allow-list, thresholds, webhooks ---------------------------------------------


def require_unit_manager(actor: Employee, unit: Unit) -> None:
    """Managers of the unit (or above it), executives and administrators; auditors only read."""
    policy.require_staff_manager(actor)
    policy.require_unit_in_scope(actor, unit)


def _audit(kind: str, actor: Employee, unit: Unit, payload: dict) -> None:
    append_batch([Event(kind=kind, payload=payload, actor_id=actor.pk, unit_id=unit.pk, source=SOURCE)])


def _clean_term(text: str) -> str:
    text = " ".join((text or "").split())
    if not text:
        raise InvalidInput(_("A term cannot be empty."))
    if len(text) > 60 or "\x00" in text or "\t" in text:
        raise InvalidInput(_("A term is at most 60 characters."))
    return text


def _term_fields(category: str, severity: str) -> tuple[str, str]:
    try:
        term = read_terms([f"x\t{category}\t{severity}"], "term")[0]
    except LexiconError as exc:
        raise InvalidInput(str(exc).removeprefix("term line 1: ")) from exc
    return term.category, term.severity


@transaction.atomic
def add_term(
    *, actor: Employee, unit: Unit, text: str, category: str, severity: str = "medium"
) -> LexiconTerm:
    require_unit_manager(actor, unit)
    text = _clean_term(text)
    category, severity = _term_fields(category, severity)
    term, created = LexiconTerm.objects.get_or_create(
        unit=unit, text=text, defaults={"category": category, "severity": severity, "created_by": actor}
    )
    if not created:
        term.category, term.severity, term.enabled = category, severity, True
        term.save(update_fields=["category", "severity", "enabled", "updated_at"])
    engines.bump()
    _audit(
        "lexicon.term_added",
        actor,
        unit,
        {"term": term.pk, "text": text, "category": category, "severity": severity},
    )
    return term


@transaction.atomic
def set_term_enabled(*, actor: Employee, term: LexiconTerm, enabled: bool) -> LexiconTerm:
    require_unit_manager(actor, term.unit)
    if term.enabled != enabled:
        term.enabled = enabled
        term.save(update_fields=["enabled", "updated_at"])
        engines.bump()
        _audit(
            "lexicon.term_" + ("enabled" if enabled else "disabled"),
            actor,
            term.unit,
            {"term": term.pk, "text": term.text},
        )
    return term


MAX_IMPORT = 10000


@transaction.atomic
def import_terms(*, actor: Employee, unit: Unit, text: str) -> dict:
    """Terms one a line (term, optional tab-separated category and severity), as `custos scan --lexicon`."""
    require_unit_manager(actor, unit)
    lines = (text or "").splitlines()
    if len(lines) > MAX_IMPORT:
        raise InvalidInput(_("At most %(n)d lines at once.") % {"n": MAX_IMPORT})
    try:
        terms = read_terms(lines, "import")
    except LexiconError as exc:
        raise InvalidInput(str(exc)) from exc
    existing = {t.text: t for t in LexiconTerm.objects.filter(unit=unit)}
    created = updated = 0
    for term in {_clean_term(t.text): t for t in terms}.values():
        text_ = _clean_term(term.text)
        row = existing.get(text_)
        if row is None:
            existing[text_] = LexiconTerm.objects.create(
                unit=unit, text=text_, category=term.category, severity=term.severity, created_by=actor
            )
            created += 1
        elif (row.category, row.severity, row.enabled) != (term.category, term.severity, True):
            row.category, row.severity, row.enabled = term.category, term.severity, True
            row.save(update_fields=["category", "severity", "enabled", "updated_at"])
            updated += 1
    if created or updated:
        engines.bump()
    _audit("lexicon.imported", actor, unit, {"created": created, "updated": updated})
    return {"created": created, "updated": updated, "unchanged": len(terms) - created - updated}


def _clean_allowed(value: str) -> str:
    value = " ".join((value or "").split())
    if not value:
        raise InvalidInput(_("Name the channel: a phrase, a hotline number or an account."))
    if len(value) > 60 or "\x00" in value:
        raise InvalidInput(_("A channel is at most 60 characters."))
    return value


@transaction.atomic
def add_allowed(*, actor: Employee, unit: Unit, value: str, note: str = "") -> AllowedChannel:
    require_unit_manager(actor, unit)
    value = _clean_allowed(value)
    note = " ".join((note or "").split())[:100]
    row, created = AllowedChannel.objects.get_or_create(
        unit=unit, value=value, defaults={"note": note, "created_by": actor}
    )
    if not created and not row.enabled:
        row.enabled = True
        row.save(update_fields=["enabled"])
    engines.bump()
    _audit("lexicon.allowed_added", actor, unit, {"allowed": row.pk, "value": value})
    return row


@transaction.atomic
def set_allowed_enabled(*, actor: Employee, allowed: AllowedChannel, enabled: bool) -> AllowedChannel:
    require_unit_manager(actor, allowed.unit)
    if allowed.enabled != enabled:
        allowed.enabled = enabled
        allowed.save(update_fields=["enabled"])
        engines.bump()
        _audit("lexicon.allowed_" + ("enabled" if enabled else "disabled"), actor, allowed.unit,
               {"allowed": allowed.pk, "value": allowed.value})  # fmt: skip
    return allowed


@transaction.atomic
def set_threshold(*, actor: Employee, unit: Unit, key: str, value: int | None) -> None:
    """Set a unit's value for `key`, or with None go back to what the unit above (or the code) says."""
    require_unit_manager(actor, unit)
    if key not in thresholds.DEFAULTS:
        raise InvalidInput(_("Unknown setting %(key)s.") % {"key": key})
    if value is None:
        Threshold.objects.filter(unit=unit, key=key).delete()
    else:
        low, high = thresholds.BOUNDS[key]
        if not isinstance(value, int) or not low <= value <= high:
            raise InvalidInput(
                _("%(key)s must be between %(low)d and %(high)d.") % {"key": key, "low": low, "high": high}
            )
        Threshold.objects.update_or_create(unit=unit, key=key, defaults={"value": value, "updated_by": actor})
    _audit("alert.threshold_set", actor, unit, {"key": key, "value": value})


def _webhook_aad(webhook_unit_id: int, what: str) -> bytes:
    return f"custos.webhook:{webhook_unit_id}:{what}".encode()


def register_encrypted() -> None:
    """A webhook's URL (it carries the robot's key) and secret are re-encrypted by a key rotation."""
    keyring.register("alerts.webhook_url", "alerts.Webhook", "url_encrypted", aad=lambda h: _webhook_aad(h.unit_id, "url"))
    keyring.register(
        "alerts.webhook_secret", "alerts.Webhook", "secret_encrypted", aad=lambda h: _webhook_aad(h.unit_id, "secret")
    )


def open_url(webhook: Webhook) -> str:
    return crypto.decrypt(webhook.url_encrypted, aad=_webhook_aad(webhook.unit_id, "url"))


def open_secret(webhook: Webhook) -> str:
    if not webhook.secret_encrypted:
        return ""
    return crypto.decrypt(webhook.secret_encrypted, aad=_webhook_aad(webhook.unit_id, "secret"))


def create_webhook(
    *,
    actor: Employee,
    unit: Unit,
    name: str,
    kind: str,
    url: str,
    secret: str = "",
    min_severity: str = "low",
) -> Webhook:
    require_unit_manager(actor, unit)
    name = " ".join((name or "").split())[:60]
    if not name:
        raise InvalidInput(_("A webhook needs a name."))
    if kind not in Webhook.Kind.values:
        raise InvalidInput(_("Unknown webhook kind."))
    if min_severity not in SEVERITY_RANK:
        raise InvalidInput(_("Unknown severity."))
    url = delivery.check_url(url)
    secret = (secret or "").strip()
    if kind == Webhook.Kind.GENERIC and not secret:
        raise InvalidInput(_("A JSON webhook needs a secret to sign with."))
    if len(secret) > 200:
        raise InvalidInput(_("The secret is at most 200 characters."))
    # Checked (and its host resolved) before the transaction: a slow DNS answer holds no lock.
    with transaction.atomic():
        hook = Webhook.objects.create(
            unit=unit, name=name, kind=kind, url_encrypted="", url_masked=delivery.mask_url(url),
            min_severity=min_severity, created_by=actor,
        )  # fmt: skip
        hook.url_encrypted = crypto.encrypt(url, aad=_webhook_aad(unit.pk, "url"))
        hook.secret_encrypted = crypto.encrypt(secret, aad=_webhook_aad(unit.pk, "secret")) if secret else ""
        hook.save(update_fields=["url_encrypted", "secret_encrypted"])
        _audit("alert.webhook_created", actor, unit, {"webhook": hook.pk, "kind": kind, "url": hook.url_masked})
    return hook


@transaction.atomic
def set_webhook_enabled(*, actor: Employee, webhook: Webhook, enabled: bool) -> Webhook:
    require_unit_manager(actor, webhook.unit)
    if webhook.enabled != enabled:
        webhook.enabled = enabled
        webhook.save(update_fields=["enabled"])
        _audit(
            "alert.webhook_" + ("enabled" if enabled else "disabled"),
            actor,
            webhook.unit,
            {"webhook": webhook.pk},
        )
    if enabled:
        pending = list(
            Delivery.objects.filter(webhook=webhook, state=Delivery.State.PENDING).values_list(
                "pk", flat=True
            )
        )
        if pending:
            transaction.on_commit(lambda: delivery.enqueue(pending))
    return webhook
