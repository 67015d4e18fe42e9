"""Webhook deliveries: the WeCom group robot, the DingTalk robot, and a signed JSON webhook.

A delivery row is written with its alert; `attempt` sends it after commit. A sender first takes
a short lease on the row with one conditional UPDATE (so two workers never send it twice) and
talks to the receiver outside any transaction (on SQLite a transaction holds the one write lock).
A failure sets the next attempt with exponential backoff, capped at an hour, and never gives up:
the periodic `send_due` picks up whatever is due, so nothing is lost while a receiver is down or
the worker restarts. The one exception is a URL that now leads where webhooks may not go (see
custos.alerts.egress: loopback, link-local, private, ... unless the operator allows it): that
delivery is marked failed with the reason, once, and not tried again.

Formats:
- WeCom (企业微信群机器人): {"msgtype": "markdown", "markdown": {"content": ...}}; errcode 0 is success.
- DingTalk (钉钉自定义机器人): {"msgtype": "markdown", "markdown": {"title", "text"}}; with a secret, the URL
  gets timestamp (ms) and sign = urlencode(base64(HMAC-SHA256(secret, f"{timestamp}\\n{secret}"))).
- generic: a JSON body; X-Custos-Timestamp and X-Custos-Signature: sha256=hex(HMAC-SHA256(secret,
  f"{timestamp}.{body}")), so a receiver can check origin and refuse replays.
"""

import base64
import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request
from datetime import timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from custos.alerts import egress
from custos.alerts.models import Delivery, Webhook
from custos.core.errors import InvalidInput
from custos.core.masking import mask_text

log = logging.getLogger(__name__)

TIMEOUT_S = 5
LEASE = timedelta(seconds=60)
FIRST_RETRY_S = 5
MAX_RETRY_S = 3600
SEVERITY_LABEL = {"low": "低", "medium": "中", "high": "高"}


class DeliveryError(Exception):
    pass


def check_url(url: str) -> str:
    url = (url or "").strip()
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a port that is no number
    except ValueError:
        parts = None
    if (
        parts is None
        or any(ch.isspace() or ord(ch) < 32 for ch in url)
        or parts.scheme not in ("http", "https")
        or not parts.netloc
        or len(url) > 1000
    ):
        raise InvalidInput(_("A webhook URL starts with https:// (or http://) and names a host."))
    egress.vet_on_save(url)
    return url


def mask_url(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{mask_text(parts.path, keep=4)}"[:120] + (
        "?…" if parts.query else ""
    )


def backoff(attempts: int) -> int:
    return min(FIRST_RETRY_S * 2 ** max(attempts - 1, 0), MAX_RETRY_S)


def alert_link(alert) -> str:
    return f"{getattr(settings, 'CUSTOS_BASE_URL', '').rstrip('/')}/alerts/{alert.pk}/"


def shown_summary(alert) -> str:
    """The alert's detail as it may leave the building (a shared number or id was masked when stored)."""
    return alert.summary


def _facts(alert) -> dict:
    from custos.alerts.rules import CATEGORIES, RULES

    return {
        "rule": str(RULES.get(alert.rule, alert.rule)),
        "category": str(CATEGORIES.get(alert.category, alert.category)),
        "employee": alert.employee.name if alert.employee else "",
        "unit": alert.unit.name,
        "summary": shown_summary(alert),
    }


def markdown(alert) -> tuple[str, str]:
    with translation.override(settings.LANGUAGE_CODE):
        f = _facts(alert)
        title = f"【{SEVERITY_LABEL.get(alert.severity, alert.severity)}】{f['rule']}"
        lines = [
            f"### {title}",
            f"> {_('Employee')}: {f['employee'] or '-'} · {f['unit']}",
            f"> {_('Category')}: {f['category']}",
        ]
        if f["summary"]:
            lines.append(f"> {_('Detail')}: {f['summary']}")
        lines.append(f"> {_('Time')}: {timezone.localtime(alert.raised_at):%Y-%m-%d %H:%M}")
        lines.append(f"[{_('Open the alert')}]({alert_link(alert)})")
    return title, "\n".join(lines)


def generic_body(delivery: Delivery) -> dict:
    alert = delivery.alert
    return {
        "event": delivery.event,
        "delivery": delivery.pk,
        "alert": {
            "id": alert.pk,
            "rule": alert.rule,
            "category": alert.category,
            "severity": alert.severity,
            "state": alert.state,
            "employee_id": alert.employee_id,
            "employee": alert.employee.name if alert.employee else None,
            "customer_id": alert.customer_id,
            "unit_id": alert.unit_id,
            "unit": alert.unit.name,
            "summary": shown_summary(alert),
            "evidence": list(alert.evidence),
            "raised_at": alert.raised_at.isoformat(),
            "url": alert_link(alert),
        },
    }


def dingtalk_url(url: str, secret: str, timestamp_ms: int) -> str:
    to_sign = f"{timestamp_ms}\n{secret}".encode()
    sign = base64.b64encode(hmac.new(secret.encode(), to_sign, hashlib.sha256).digest()).decode()
    joiner = "&" if urllib.parse.urlsplit(url).query else "?"
    return f"{url}{joiner}timestamp={timestamp_ms}&sign={urllib.parse.quote_plus(sign)}"


def generic_signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def request_for(delivery: Delivery, now_s: float | None = None) -> urllib.request.Request:
    from custos.alerts.services import open_secret, open_url

    hook = delivery.webhook
    url, secret = open_url(hook), open_secret(hook)
    now_s = time.time() if now_s is None else now_s
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Custos-Alerts/1"}
    if hook.kind == Webhook.Kind.GENERIC:
        body = json.dumps(generic_body(delivery), ensure_ascii=False, separators=(",", ":")).encode()
        stamp = str(int(now_s))
        headers.update({"X-Custos-Timestamp": stamp, "X-Custos-Signature": generic_signature(secret, stamp, body),
                        "X-Custos-Delivery": str(delivery.pk), "X-Custos-Event": delivery.event})  # fmt: skip
    else:
        title, text = markdown(delivery.alert)
        if hook.kind == Webhook.Kind.WECOM:
            payload = {"msgtype": "markdown", "markdown": {"content": text}}
        else:
            payload = {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
            if secret:
                url = dingtalk_url(url, secret, int(now_s * 1000))
        body = json.dumps(payload, ensure_ascii=False).encode()
    return urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (http/https checked)


def send(delivery: Delivery) -> None:
    """Post one delivery. Raises egress.Refused when its URL now leads where webhooks may not go,
    DeliveryError for anything worth trying again later."""
    request = request_for(delivery)
    try:
        target = egress.vet(request.full_url)  # again at every attempt: DNS may have changed
    except egress.Unresolvable as exc:
        raise DeliveryError(str(exc)[:300]) from exc
    try:
        with egress.opener(target).open(request, timeout=TIMEOUT_S) as response:
            raw = response.read(65536)
    except urllib.error.HTTPError as exc:
        if 300 <= exc.code < 400:
            raise DeliveryError(f"HTTP {exc.code}: redirects are not followed") from exc
        raise DeliveryError(f"HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise DeliveryError(str(getattr(exc, "reason", exc))[:300]) from exc
    if delivery.webhook.kind != Webhook.Kind.GENERIC:
        # The robots answer 200 with an error code in the body: a bad key or sign is no success.
        try:
            answer = json.loads(raw or b"{}")
        except ValueError:
            answer = {}
        code = answer.get("errcode", 0) if isinstance(answer, dict) else 0
        if code not in (0, "0"):
            raise DeliveryError(f"errcode {code}: {str(answer.get('errmsg', ''))[:200]}")


def enqueue(ids) -> None:
    from custos.alerts import tasks

    for delivery_id in ids:
        tasks.send_delivery(delivery_id)


def attempt(delivery_id: int, now=None) -> str | None:
    """Send one due delivery if no one else is; returns its new state, or None when not taken."""
    now = now or timezone.now()
    taken = (
        Delivery.objects.filter(pk=delivery_id, state=Delivery.State.PENDING, next_attempt_at__lte=now)
        .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now))
        .update(leased_until=now + LEASE)
    )
    if not taken:
        return None
    delivery = Delivery.objects.select_related("webhook", "alert__employee", "alert__unit").get(
        pk=delivery_id
    )
    if not delivery.webhook.enabled:
        Delivery.objects.filter(pk=delivery_id).update(leased_until=None)
        return None
    attempts = delivery.attempts + 1
    try:
        send(delivery)
    except egress.Refused as exc:
        # A refusal is the company's rule, not a receiver that is down: trying again changes nothing.
        with translation.override(settings.LANGUAGE_CODE):
            reason = str(exc.message)
        log.warning("webhook %s: delivery %s refused: %s", delivery.webhook_id, delivery_id, reason)
        Delivery.objects.filter(pk=delivery_id).update(
            attempts=attempts, state=Delivery.State.FAILED, last_error=reason[:500], leased_until=None,
        )  # fmt: skip
        return Delivery.State.FAILED
    except DeliveryError as exc:
        delay = backoff(attempts)
        Delivery.objects.filter(pk=delivery_id).update(
            attempts=attempts, last_error=str(exc)[:500], leased_until=None,
            next_attempt_at=now + timedelta(seconds=delay),
        )  # fmt: skip
        _retry_later(delivery_id, delay)
        return Delivery.State.PENDING
    Delivery.objects.filter(pk=delivery_id).update(
        attempts=attempts, state=Delivery.State.DELIVERED, delivered_at=timezone.now(), leased_until=None,
        last_error="",
    )  # fmt: skip
    return Delivery.State.DELIVERED


def _retry_later(delivery_id: int, delay: int) -> None:
    from custos.alerts import tasks

    if settings.HUEY.get("immediate"):
        return  # immediate mode (tests) would run it now: send_due is the retry there
    tasks.send_delivery.schedule((delivery_id,), delay=delay)


def send_due(now=None, limit: int = 200) -> dict[str, int]:
    """Attempt every pending delivery that is due; what the periodic task runs every minute."""
    now = now or timezone.now()
    due = list(
        Delivery.objects.filter(state=Delivery.State.PENDING, next_attempt_at__lte=now, webhook__enabled=True)
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    counts = {"delivered": 0, "pending": 0, "failed": 0}
    for delivery_id in due:
        state = attempt(delivery_id, now=now)
        if state is not None:
            counts[str(state)] += 1
    return counts
