"""REST endpoints for alerts, the lexicon per unit, thresholds and webhooks, mounted at /api/v1/.

Reads are scoped (outside the caller's scope an alert, term or webhook is a 404); writes go
through services and refuse read-only callers (auditors) before they read the body.
"""

from datetime import datetime

from ninja import Field, Path, Query, Router, Schema, Status
from ninja.pagination import paginate

from custos.alerts import selectors, services, thresholds
from custos.alerts.delivery import shown_summary
from custos.alerts.models import Alert, Confidence, Webhook
from custos.api.auth import viewer
from custos.api.pagination import Page
from custos.customers.api import WRITERS
from custos.customers.schemas import BIGINT
from custos.org.selectors import get_unit

router = Router(tags=["alerts"])
Id = Path(..., ge=1, le=BIGINT)
SEVERITY = r"^(low|medium|high)$"


class AlertOut(Schema):
    id: int
    rule: str
    category: str
    severity: str
    state: str
    employee_id: int | None
    employee_name: str | None
    customer_id: int | None
    contact: str
    unit_id: int
    unit_name: str
    summary: str
    evidence: list[int]
    occurrences: int
    raised_at: datetime
    last_seen_at: datetime
    acknowledged_by_id: int | None
    acknowledged_at: datetime | None
    closed_by_id: int | None
    closed_at: datetime | None
    reason: str

    @staticmethod
    def resolve_employee_name(obj):
        return obj.employee.name if obj.employee else None

    @staticmethod
    def resolve_unit_name(obj):
        return obj.unit.name

    @staticmethod
    def resolve_summary(obj):
        return shown_summary(obj)


class HitOut(Schema):
    category: str
    rule: str
    severity: str
    confidence: str = Field(
        description="How the words were found: exact (as written), normalised (width, case, traditional "
        "characters, separators or repeats folded), homophone (a homophone or look-alike character), "
        "pinyin; the severity already accounts for it"
    )
    confidence_label: str = Field(description="The confidence in the viewer's language")
    start: int
    end: int
    matched: str

    @staticmethod
    def resolve_confidence_label(obj):
        # Resolved again when EvidenceOut validates its HitOut items, which have no get_*_display.
        return str(Confidence(obj.confidence).label)


class EvidenceOut(Schema):
    seq: int
    kind: str
    occurred_at: datetime
    actor_id: int | None
    customer_id: int | None
    msgtype: str | None = None
    sender_role: str | None = None
    conversation: str | None = None
    text: str | None = Field(None, description="The message text; a shared phone or id is masked")
    hits: list[HitOut]


class RecipientOut(Schema):
    id: int
    name: str
    unit_name: str


class AlertDetail(AlertOut):
    items: list[EvidenceOut]
    recipients: list[RecipientOut]
    allow_candidates: list[str]


class AlertFilters(Schema):
    state: str | None = Field(None, pattern=r"^(open|acknowledged|resolved|false_positive|active)$")
    severity: str | None = Field(None, pattern=SEVERITY)
    rule: str | None = Field(None, max_length=60)
    category: str | None = Field(None, max_length=40)
    unit_id: int | None = Field(None, ge=1, le=BIGINT)
    employee_id: int | None = Field(None, ge=1, le=BIGINT)


class NoteIn(Schema):
    note: str = Field("", max_length=500)


class ReasonIn(Schema):
    reason: str = Field(..., min_length=1, max_length=500)


class FalsePositiveIn(ReasonIn):
    allow: list[str] = Field(default_factory=list, max_length=10, description="Phrases to allow from now on")


class CountOut(Schema):
    open: int


def _detail(me, alert: Alert) -> Alert:
    items = []
    for e in selectors.evidence(me, alert):
        p = e.payload if isinstance(e.payload, dict) else {}
        items.append(
            EvidenceOut(
                seq=e.seq, kind=e.kind, occurred_at=e.occurred_at, actor_id=e.actor_id, customer_id=e.customer_id,
                msgtype=_str(p.get("msgtype")), sender_role=_str(p.get("sender_role")),
                conversation=_str(p.get("conversation")), text=e.text,
                hits=[HitOut.from_orm(h) for h in e.hits],
            )
        )  # fmt: skip
    alert.items = items
    alert.recipients = [
        RecipientOut(id=r.pk, name=r.name, unit_name=r.unit.name) for r in selectors.recipients(alert)
    ]
    alert.allow_candidates = selectors.allow_candidates(me, alert)
    return alert


def _str(value) -> str | None:
    return value[:200] if isinstance(value, str) else None


@router.get("/alerts", response=list[AlertOut], summary="Alerts in the caller's scope, newest first")
@paginate(Page)
def list_alerts(request, filters: Query[AlertFilters]):
    return selectors.list_alerts(viewer(request), selectors.Filters(**filters.dict()))


@router.get("/alerts/count", response=CountOut, summary="Open alerts in the caller's scope")
def count_alerts(request):
    return CountOut(open=selectors.open_count(viewer(request)))


@router.get(
    "/alerts/{alert_id}", response=AlertDetail, summary="An alert with its evidence, the hits highlighted"
)
def get_alert(request, alert_id: int = Id):
    me = viewer(request)
    return _detail(me, selectors.get_alert(me, alert_id))


@router.post("/alerts/{alert_id}/acknowledge", response=AlertOut, auth=WRITERS)
def acknowledge(request, body: NoteIn, alert_id: int = Id):
    me = viewer(request)
    return services.acknowledge(actor=me, alert=selectors.get_alert(me, alert_id), note=body.note)


@router.post("/alerts/{alert_id}/resolve", response=AlertOut, auth=WRITERS)
def resolve(request, body: ReasonIn, alert_id: int = Id):
    me = viewer(request)
    return services.resolve(actor=me, alert=selectors.get_alert(me, alert_id), reason=body.reason)


@router.post("/alerts/{alert_id}/false-positive", response=AlertOut, auth=WRITERS)
def false_positive(request, body: FalsePositiveIn, alert_id: int = Id):
    me = viewer(request)
    alert = selectors.get_alert(me, alert_id)
    return services.mark_false_positive(actor=me, alert=alert, reason=body.reason, allow=body.allow)


# --- lexicon ------------------------------------------------------------------------------


class TermOut(Schema):
    id: int
    unit_id: int
    unit_name: str
    text: str
    category: str
    severity: str
    enabled: bool
    created_at: datetime

    @staticmethod
    def resolve_unit_name(obj):
        return obj.unit.name


class TermIn(Schema):
    unit_id: int = Field(..., ge=1, le=BIGINT)
    text: str = Field(..., min_length=1, max_length=60)
    category: str = Field(..., min_length=1, max_length=40)
    severity: str = Field("medium", pattern=SEVERITY)


class EnabledIn(Schema):
    enabled: bool


class ImportIn(Schema):
    unit_id: int = Field(..., ge=1, le=BIGINT)
    lines: str = Field(..., max_length=1_000_000, description="term<TAB>category<TAB>severity, one a line")


class ImportOut(Schema):
    created: int
    updated: int
    unchanged: int


class UnitQuery(Schema):
    unit_id: int | None = Field(None, ge=1, le=BIGINT, description="A unit: its own rows and those inherited")


class AllowedOut(Schema):
    id: int
    unit_id: int
    unit_name: str
    value: str
    note: str
    enabled: bool
    created_at: datetime

    @staticmethod
    def resolve_unit_name(obj):
        return obj.unit.name


class AllowedIn(Schema):
    unit_id: int = Field(..., ge=1, le=BIGINT)
    value: str = Field(..., min_length=1, max_length=60)
    note: str = Field("", max_length=100)


@router.get("/lexicon/terms", response=list[TermOut], summary="Terms companies added, per unit")
@paginate(Page)
def list_terms(request, q: Query[UnitQuery]):
    return selectors.terms_visible(viewer(request), q.unit_id)


@router.post("/lexicon/terms", response={201: TermOut}, auth=WRITERS)
def add_term(request, body: TermIn):
    me = viewer(request)
    unit = get_unit(me, body.unit_id)
    term = services.add_term(
        actor=me, unit=unit, text=body.text, category=body.category, severity=body.severity
    )
    return Status(201, term)


@router.patch("/lexicon/terms/{term_id}", response=TermOut, auth=WRITERS, summary="Disable or enable a term")
def patch_term(request, body: EnabledIn, term_id: int = Id):
    me = viewer(request)
    return services.set_term_enabled(actor=me, term=selectors.get_term(me, term_id), enabled=body.enabled)


@router.post("/lexicon/import", response=ImportOut, auth=WRITERS, summary="Import terms for a unit")
def import_terms(request, body: ImportIn):
    me = viewer(request)
    return services.import_terms(actor=me, unit=get_unit(me, body.unit_id), text=body.lines)


@router.get("/lexicon/allowed", response=list[AllowedOut], summary="The company's own channels, never a hit")
@paginate(Page)
def list_allowed(request, q: Query[UnitQuery]):
    return selectors.allowed_visible(viewer(request), q.unit_id)


@router.post("/lexicon/allowed", response={201: AllowedOut}, auth=WRITERS)
def add_allowed(request, body: AllowedIn):
    me = viewer(request)
    return Status(
        201, services.add_allowed(actor=me, unit=get_unit(me, body.unit_id), value=body.value, note=body.note)
    )


@router.patch("/lexicon/allowed/{allowed_id}", response=AllowedOut, auth=WRITERS)
def patch_allowed(request, body: EnabledIn, allowed_id: int = Id):
    me = viewer(request)
    return services.set_allowed_enabled(
        actor=me, allowed=selectors.get_allowed(me, allowed_id), enabled=body.enabled
    )


# --- thresholds ---------------------------------------------------------------------------


class ThresholdOut(Schema):
    key: str
    value: int
    default: int
    unit_id: int | None = Field(None, description="The unit that set it; null for the default")
    unit_name: str | None
    label: str


class ThresholdIn(Schema):
    unit_id: int = Field(..., ge=1, le=BIGINT)
    key: str = Field(..., max_length=60)
    value: int | None = Field(..., ge=0, le=10**9, description="null: inherit from above")


@router.get("/alert-thresholds", response=list[ThresholdOut], summary="A unit's effective rule settings")
def list_thresholds(request, unit_id: int = Query(..., ge=1, le=BIGINT)):
    return list(selectors.thresholds_of(viewer(request), unit_id).values())


@router.post("/alert-thresholds", response=list[ThresholdOut], auth=WRITERS)
def set_threshold(request, body: ThresholdIn):
    me = viewer(request)
    unit = get_unit(me, body.unit_id)
    services.set_threshold(actor=me, unit=unit, key=body.key, value=body.value)
    return list(thresholds.effective(unit.path).values())


# --- webhooks -----------------------------------------------------------------------------


class WebhookOut(Schema):
    id: int
    unit_id: int
    name: str
    kind: str
    url_masked: str
    has_secret: bool
    min_severity: str
    enabled: bool
    created_at: datetime

    @staticmethod
    def resolve_has_secret(obj):
        return bool(obj.secret_encrypted)


class WebhookIn(Schema):
    unit_id: int = Field(..., ge=1, le=BIGINT)
    name: str = Field(..., min_length=1, max_length=60)
    kind: Webhook.Kind
    url: str = Field(..., min_length=8, max_length=1000)
    secret: str = Field(
        "", max_length=200, description="DingTalk sign secret, or the JSON webhook's HMAC key"
    )
    min_severity: str = Field("low", pattern=SEVERITY)


class DeliveryOut(Schema):
    id: int
    alert_id: int | None
    notice_title: str
    event: str
    state: str
    attempts: int
    next_attempt_at: datetime
    last_error: str
    delivered_at: datetime | None


@router.get("/webhooks", response=list[WebhookOut])
def list_webhooks(request):
    return list(selectors.webhooks_visible(viewer(request)))


@router.post("/webhooks", response={201: WebhookOut}, auth=WRITERS)
def create_webhook(request, body: WebhookIn):
    me = viewer(request)
    hook = services.create_webhook(
        actor=me, unit=get_unit(me, body.unit_id), name=body.name, kind=body.kind, url=body.url,
        secret=body.secret, min_severity=body.min_severity,
    )  # fmt: skip
    return Status(201, hook)


@router.patch("/webhooks/{webhook_id}", response=WebhookOut, auth=WRITERS)
def patch_webhook(request, body: EnabledIn, webhook_id: int = Id):
    me = viewer(request)
    return services.set_webhook_enabled(
        actor=me, webhook=selectors.get_webhook(me, webhook_id), enabled=body.enabled
    )


@router.get("/webhooks/{webhook_id}/deliveries", response=list[DeliveryOut])
def list_deliveries(request, webhook_id: int = Id):
    return list(selectors.deliveries_of(viewer(request), webhook_id))
