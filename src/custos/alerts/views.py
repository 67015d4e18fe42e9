"""Console pages: the alert inbox with its live count, an alert with its evidence highlighted,
the lexicon and allow-list per unit, and a unit's thresholds and webhooks."""

from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from custos.access.policy import may_manage_staff
from custos.access.scope import scope_of
from custos.alerts import selectors, services, thresholds
from custos.alerts.models import Alert, Severity, Webhook
from custos.alerts.rules import CATEGORIES, RULES
from custos.console import words
from custos.console.decorators import console_view
from custos.core.errors import Forbidden, InvalidInput
from custos.core.paging import page_of
from custos.core.query import id_or_none
from custos.org.models import Employee
from custos.org.selectors import get_unit, units_visible

PAGE_SIZE = 30


def _labels(alerts) -> None:
    for a in alerts:
        a.rule_label = RULES.get(a.rule, a.rule)
        a.category_label = CATEGORIES.get(a.category, a.category)


def _reader(me: Employee) -> None:
    if scope_of(me).kind in ("own", "none"):
        raise Forbidden(_("Alerts are for managers, executives, administrators and auditors."))


@console_view
def inbox(request):
    me = request.viewer
    _reader(me)
    params = request.GET
    state = params.get("state", "active")
    filters = selectors.Filters(
        state=state if state in {*Alert.State.values, "active"} else None,
        severity=params.get("severity") if params.get("severity") in Severity.values else None,
        rule=params.get("rule") if params.get("rule") in RULES else None,
        unit_id=id_or_none(params.get("unit")),
    )
    query = params.copy()
    query.pop("page", None)
    page = page_of(selectors.list_alerts(me, filters), PAGE_SIZE, params.get("page"))
    _labels(page)
    context = {
        "page": page,
        "filters": params,
        "state": state,
        "query": query.urlencode(),
        "states": Alert.State.choices,
        "severities": Severity.choices,
        "rules": list(RULES.items()),
        "units": [(u.pk, ("— " * u.depth) + u.name) for u in units_visible(me)],
        "open_count": selectors.open_count(me),
    }
    template = "alerts/_rows.html" if request.htmx else "alerts/inbox.html"
    return render(request, template, context)


@never_cache
@console_view
def badge(request):
    """The nav's live count, polled by htmx every few seconds."""
    me = request.viewer
    if scope_of(me).kind in ("own", "none"):
        return HttpResponse("")
    n = selectors.open_count(me)
    return HttpResponse(f'<span class="count" data-open="{n}">{n}</span>' if n else "")


@console_view
def detail(request, alert_id: int):
    me = request.viewer
    _reader(me)
    alert = selectors.get_alert(me, alert_id)
    _labels([alert])
    items = selectors.evidence(me, alert)
    for item in items:
        for hit in item.hits:
            hit.category_label = CATEGORIES.get(hit.category, hit.category)
    can_handle = may_manage_staff(me) and alert.employee_id != me.pk and not scope_of(me).read_only
    _conversations(me, items)
    names = words.Names(
        me, [{"contact": alert.contact}] if alert.contact else [], customer_ids={alert.customer_id}
    )
    return render(
        request,
        "alerts/detail.html",
        {
            "alert": alert,
            "customer_link": names.customer(alert.customer_id),
            "contact_link": names.external(alert.contact) if alert.contact else None,
            "items": items,
            "recipients": selectors.recipients(alert),
            "candidates": selectors.allow_candidates(me, alert) if can_handle else [],
            "can_handle": can_handle and alert.is_open,
        },
    )


# Evidence that speaks of a whole chat: the page links to it and shows the messages around it.
CHAT_KINDS = ("chat.deleted_on_device", "group.created", "group.member_removed", "message.recalled")


def _conversations(me: Employee, items) -> None:
    from custos.archive import selectors as archive
    from custos.ledger.services import append

    for item in items:
        item.conversation, item.around = None, []
        if item.kind not in CHAT_KINDS:
            continue
        conversation = archive.conversation_of_entry(me, item.actor_id, item.payload or {})
        if conversation is None:
            continue
        item.conversation = conversation
        item.around = archive.messages_around(me, conversation.pk, item.occurred_at)
        # Reading the messages here is reading the chat: recorded as the archive page records it.
        append(
            "access.conversation_viewed",
            {"conversation": conversation.pk, "employee": conversation.employee_id, "key": conversation.key},
            actor_id=me.pk,
            unit_id=me.unit_id,
            customer_id=conversation.customer_id,
            source="console",
            source_id=f"conversation:{me.pk}:{conversation.pk}:{timezone.localdate().isoformat()}",
        )


@require_POST
@console_view
def action(request, alert_id: int, name: str):
    me = request.viewer
    alert = selectors.get_alert(me, alert_id)
    reason = request.POST.get("reason", "")
    if name == "acknowledge":
        services.acknowledge(actor=me, alert=alert, note=reason)
        messages.success(request, _("Alert acknowledged."))
    elif name == "resolve":
        services.resolve(actor=me, alert=alert, reason=reason)
        messages.success(request, _("Alert resolved."))
    elif name == "false_positive":
        services.mark_false_positive(
            actor=me, alert=alert, reason=reason, allow=request.POST.getlist("allow")
        )
        messages.success(request, _("Marked as a false positive."))
    else:
        raise InvalidInput(_("Unknown action."))
    return redirect("alerts:detail", alert_id=alert.pk)


def _unit_for(request, me):
    unit_id = id_or_none(request.GET.get("unit") or request.POST.get("unit"))
    return get_unit(me, unit_id) if unit_id else me.unit


def _forms(engine, term: str) -> list[tuple[str, str]]:
    """(how, example) for each way of writing `term` that `engine` really catches, labelled in words."""
    labels = {
        "written": _("as written"),
        "spaced": _("split by spaces or symbols"),
        "traditional": _("traditional characters"),
        "repeated": _("characters repeated"),
        "homophone": _("a homophone"),
        "pinyin": _("pinyin"),
    }
    return [(labels[kind], example) for kind, example in engine.examples(term)]


def _with_forms(unit, terms) -> list:
    """The unit's terms, each with the ways of writing it that its engine really catches: why a
    message with 私 单 or si dan in it was flagged."""
    from custos.alerts import engines

    engine = engines.engine_for(unit.path, engines.current_version())
    terms = list(terms)
    for term in terms:
        term.forms = _forms(engine, term.text) if term.enabled else []
        term.category_label = CATEGORIES.get(term.category, term.category)
    return terms


TRY_MAX = 500


def _tried(unit, text: str) -> list[dict]:
    """What the unit's engine finds in a message a manager types in, as staff wrote it: each hit
    with its category, what matched and how sure, and for a term the ways of writing it that are
    caught. The shipped lexicon's 780 terms are too many to list; asking is how one reads it."""
    from custos.alerts import engines
    from custos.alerts.models import Confidence

    if len(text) > TRY_MAX:
        raise InvalidInput(_("Try at most %(n)d characters at a time.") % {"n": TRY_MAX})
    engine = engines.engine_for(unit.path, engines.current_version())
    out = []
    for hit in engine.scan(text, "staff"):
        forms = []
        if hit.rule.startswith("term:"):
            forms = _forms(engine, hit.rule[5:])
        out.append(
            {
                "category": CATEGORIES.get(hit.category, hit.category),
                "rule": words.hit_rule(hit.rule),
                "matched": hit.matched,
                "severity": Severity(hit.severity).label,
                "confidence": Confidence(hit.confidence).label,
                "forms": forms,
            }
        )
    return out


@console_view
def lexicon(request):
    me = request.viewer
    _reader(me)
    unit = _unit_for(request, me)
    if request.method == "POST":
        what = request.POST.get("what")
        if what == "term":
            services.add_term(actor=me, unit=unit, text=request.POST.get("text", ""),
                              category=request.POST.get("category", ""), severity=request.POST.get("severity", "medium"))  # fmt: skip
            messages.success(request, _("Term added."))
        elif what == "import":
            counts = services.import_terms(actor=me, unit=unit, text=request.POST.get("lines", ""))
            messages.success(request, _("Imported: %(created)d new, %(updated)d changed.") % counts)
        elif what == "allow":
            services.add_allowed(
                actor=me, unit=unit, value=request.POST.get("value", ""), note=request.POST.get("note", "")
            )
            messages.success(request, _("Channel allowed."))
        elif what == "term_toggle":
            term = selectors.get_term(me, id_or_none(request.POST.get("id")) or 0)
            services.set_term_enabled(actor=me, term=term, enabled=request.POST.get("enabled") == "1")
        elif what == "allow_toggle":
            row = selectors.get_allowed(me, id_or_none(request.POST.get("id")) or 0)
            services.set_allowed_enabled(actor=me, allowed=row, enabled=request.POST.get("enabled") == "1")
        return redirect(f"{request.path}?unit={unit.pk}")
    tried_text = request.GET.get("try", "").strip()
    tried = _tried(unit, tried_text) if tried_text else None
    return render(
        request,
        "alerts/lexicon.html",
        {
            "tried_text": tried_text,
            "tried": tried,
            "unit": unit,
            "units": [(u.pk, ("— " * u.depth) + u.name) for u in units_visible(me)],
            "terms": _with_forms(unit, selectors.terms_visible(me, unit.pk)),
            "allowed": selectors.allowed_visible(me, unit.pk),
            "categories": [(k, v) for k, v in CATEGORIES.items() if k in _WORD_CATEGORIES],
            "severities": Severity.choices,
            "can_edit": may_manage_staff(me),
        },
    )


_WORD_CATEGORIES = (
    "private_deal",
    "contact_diversion",
    "kickback",
    "payment_diversion",
    "poaching",
    "custom",
)


@console_view
def settings_page(request):
    me = request.viewer
    _reader(me)
    unit = _unit_for(request, me)
    if request.method == "POST":
        what = request.POST.get("what")
        if what == "threshold":
            key = request.POST.get("key", "")
            raw = (request.POST.get("value") or "").strip()
            # People write 元; the rule compares 分.
            value = _fen(raw) if key in MONEY_KEYS and raw else None if raw == "" else id_or_none(raw)
            if raw and value is None:
                raise InvalidInput(_("Enter a whole number, or leave it empty to inherit."))
            services.set_threshold(actor=me, unit=unit, key=key, value=value)
            messages.success(request, _("Setting saved."))
        elif what == "webhook":
            form = {k: request.POST.get(k, "") for k in ("name", "kind", "url", "min_severity")}
            try:
                services.create_webhook(
                    actor=me, unit=unit, name=form["name"], kind=form["kind"], url=form["url"],
                    secret=request.POST.get("secret", ""), min_severity=form["min_severity"] or "low",
                )  # fmt: skip
            except InvalidInput as exc:
                # Shown on the form, which keeps what was typed (the secret excepted), with a 400.
                return _settings(request, me, unit, webhook_form=form, webhook_error=exc.message, status=400)
            messages.success(request, _("Webhook added."))
        elif what == "webhook_toggle":
            hook = selectors.get_webhook(me, id_or_none(request.POST.get("id")) or 0)
            services.set_webhook_enabled(actor=me, webhook=hook, enabled=request.POST.get("enabled") == "1")
        return redirect(f"{request.path}?unit={unit.pk}")
    return _settings(request, me, unit)


MONEY_KEYS = {"money_min_fen"}


def _fen(text: str) -> int | None:
    try:
        amount = Decimal(text.replace(",", "").replace("¥", "").replace("元", ""))
    except InvalidOperation:
        return None
    if not amount.is_finite() or amount < 0 or amount > 10**7:
        return None
    return int((amount * 100).to_integral_value())


def _shown(items: list[dict]) -> list[dict]:
    """Thresholds as people read them: amounts in 元, the unit said after the label."""
    for t in items:
        if t["key"] in MONEY_KEYS:
            t["shown"] = words.yuan(t["value"])
            t["label"] = f"{t['label']} ({_('yuan')})"
        else:
            t["shown"] = t["value"]
    return items


def _settings(request, me, unit, *, webhook_form=None, webhook_error="", status=200):
    return render(
        request,
        "alerts/settings.html",
        {
            "unit": unit,
            "units": [(u.pk, ("— " * u.depth) + u.name) for u in units_visible(me)],
            "thresholds": _shown(list(selectors.thresholds_of(me, unit.pk).values())),
            "webhooks": [h for h in selectors.webhooks_visible(me) if unit.path.startswith(h.unit.path)],
            "kinds": Webhook.Kind.choices,
            "severities": Severity.choices,
            "can_edit": may_manage_staff(me),
            "defaults": thresholds.DEFAULTS,
            "webhook_form": webhook_form or {},
            "webhook_error": webhook_error,
        },
        status=status,
    )
