"""Detection inside ingestion: a ledger projection over messages and the actions rules watch.

Fed inside the append transaction, it scans the text of every new message with the engine of the
sender's unit, stores the hits (the read model `custos ledger rebuild alerts.detect` can replay),
and hands the new entries to the behaviour rules, which raise or extend alerts in the same
transaction: an alert exists the moment its message does.
"""

import json
from collections import defaultdict

from custos.alerts import engines, rules, services
from custos.alerts.models import DetectorState, Hit
from custos.core.masking import mask_text
from custos.detection.engine import CONTACT_LEAK
from custos.org.models import Unit

NAME = "alerts.detect"
KINDS = (
    "message.",
    "contact.deleted_by_staff",
    "chat.deleted_on_device",
    "group.created",
    "risk.bulk_",
    "access.revealed",
    "auth.locked_out",
)
MESSAGES = ("message.sent", "message.received")


def _payload(entry) -> dict | None:
    if entry.payload is None:
        return None  # redacted under a retention rule
    try:
        data = json.loads(entry.payload)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def scan(items: list) -> dict[int, list[Hit]]:
    """Hits of the messages among (entry, payload) pairs, stored; by entry seq."""
    messages = [
        (e, p)
        for e, p in items
        if e.kind in MESSAGES and isinstance(p.get("text"), str) and p["text"].strip()
    ]
    if not messages:
        return {}
    units = {e.unit_id for e, _p in messages if e.unit_id is not None}
    paths = dict(Unit.objects.filter(pk__in=units).values_list("pk", "path")) if units else {}
    version = engines.current_version()
    by_path: dict[str | None, list] = defaultdict(list)
    for e, p in messages:
        by_path[paths.get(e.unit_id)].append((e, p))
    found: dict[int, list[Hit]] = {}
    for path, group in by_path.items():
        engine = engines.engine_for(path, version)
        results = engine.scan_many([(p["text"], p.get("sender_role")) for _e, p in group])
        for (e, _p), hits in zip(group, results, strict=True):
            if hits:
                found[e.seq] = [
                    Hit(
                        entry_seq=e.seq,
                        occurred_at=e.occurred_at,
                        actor_id=e.actor_id,
                        unit_id=e.unit_id,
                        customer_id=e.customer_id,
                        category=h.category,
                        rule=h.rule[:120],
                        severity=h.severity,
                        start=h.start,
                        end=h.end,
                        # A shared number or id is kept masked here; the ledger entry holds the text.
                        matched=mask_text(h.matched, keep=2)
                        if h.category == CONTACT_LEAK
                        else h.matched[:200],
                        confidence=h.confidence,
                    )
                    for h in hits
                ]
    rows = [h for hits in found.values() for h in hits]
    if rows:
        Hit.objects.bulk_create(rows, batch_size=500)
    return found


def handle(entries: list) -> None:
    items = [(e, p) for e in entries if (p := _payload(e)) is not None]
    hits = scan(items)
    state, _created = DetectorState.objects.select_for_update().get_or_create(pk=1)
    fresh = [(e, p) for e, p in items if e.seq > state.last_seq]
    if not fresh:
        return  # a rebuild replaying old entries: hits come back, alerts were raised long ago
    DetectorState.objects.filter(pk=1).update(last_seq=max(e.seq for e in entries))
    services.raise_signals(rules.evaluate(fresh, hits))


def reset() -> None:
    Hit.objects.all().delete()
