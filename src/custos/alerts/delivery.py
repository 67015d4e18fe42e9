"""Webhook deliveries: the WeCom group robot, the DingTalk robot, and a signed JSON webhook.

A delivery row is written with its alert; `attempt` sends it after commit. A sender first takes
a short lease on the row with one conditional UPDATE (so two workers never send it twice) and
talks to the receiver outside any transaction (on SQLite a transaction holds the one write lock).
A failure sets the next attempt with exponential backoff, capped at an hour, and never gives up:
the periodic `send_due` picks up whatever is due, so nothing is lost while a receiver is down or
the worker restarts. The one exception is a URL that now leads where webhooks may not go (see
custos.alerts.egress: loopback, link-local, private, ... unless the operator allows it): that
delivery is marked failed with the reason, once, and not tried again.

The WeCom group robot takes at most 20 messages a minute and markdown of at most 4096 bytes
(企业微信群机器人: 每个机器人发送的消息不能超过20条/分钟; markdown 内容最长不超过4096个字节). So a
robot's deliveries go out together: whoever sends one takes every delivery of that robot still
pending, and posts them as one message (one alert as it is, several as a summary listing each
with its link) unless the robot's minute is full, in which case they all wait for the next free
slot, and the next message carries them. A message that would pass 4096 bytes is cut at a UTF-8
boundary with the alert's link kept (a summary instead lists what fits and leaves the rest
pending for the next message). Nothing is dropped: a delivery is marked delivered only once the
message naming it was accepted.

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
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from custos.alerts import egress
from custos.alerts.models import SEVERITY_RANK, Delivery, RobotPost, Webhook
from custos.core.errors import InvalidInput
from custos.core.masking import mask_text

log = logging.getLogger(__name__)

TIMEOUT_S = 5
LEASE = timedelta(seconds=60)
FIRST_RETRY_S = 5
MAX_RETRY_S = 3600
SEVERITY_LABEL = {"low": "低", "medium": "中", "high": "高"}
# The WeCom group robot's limits (its documentation, 群机器人配置说明).
ROBOT_PER_MINUTE = 20
ROBOT_MAX_BYTES = 4096
ROBOT_WINDOW = timedelta(seconds=60)
ROBOT_BATCH = 200  # deliveries one message may take: far more than 4096 bytes can list
SUMMARY_DETAIL = 80  # characters of an alert's detail on its line of a summary


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


def fit(text: str, limit: int, link: str) -> str:
    """`text` in at most `limit` UTF-8 bytes: cut at a character boundary (at a line's end when
    one is near, so no markdown link is left half open) and closed with `link`."""
    if len(text.encode()) <= limit:
        return text
    tail = f"\n…\n{link}"
    room = max(limit - len(tail.encode()), 0)
    cut = text.encode()[:room].decode("utf-8", "ignore")  # a character cut in two is dropped whole
    line_end = cut.rfind("\n")
    if line_end > len(cut) // 2:
        cut = cut[:line_end]
    return (cut + tail).encode()[:limit].decode("utf-8", "ignore")


def robot_message(alerts: list, limit: int | None = None) -> tuple[str, int]:
    """The content of one robot message for these alerts (oldest first) and how many of them it
    carries: one alert as markdown() has it, several as a summary, a line and a link each, as
    many as fit; the rest wait for the next message."""
    limit = limit or ROBOT_MAX_BYTES
    with translation.override(settings.LANGUAGE_CODE):
        open_one = _("Open the alert")
        if len(alerts) == 1:
            _title, text = markdown(alerts[0])
            return fit(text, limit, f"[{open_one}]({alert_link(alerts[0])})"), 1
        lines = []
        for alert in alerts:
            f = _facts(alert)
            detail = f["summary"][:SUMMARY_DETAIL] + ("…" if len(f["summary"]) > SUMMARY_DETAIL else "")
            parts = [f["rule"], f["employee"] or "-", f["unit"]]
            lines.append(
                f"> 【{SEVERITY_LABEL.get(alert.severity, alert.severity)}】{' · '.join(parts)}"
                + (f": {detail}" if detail else "")
                + f" [{_('View')}]({alert_link(alert)})"
            )
        inbox = f"[{_('All alerts')}]({getattr(settings, 'CUSTOS_BASE_URL', '').rstrip('/')}/alerts/)"

        def frame(shown: int, rest: int) -> tuple[str, str]:
            top = max(alerts[:shown] or alerts, key=lambda a: SEVERITY_RANK.get(a.severity, 0))
            head = f"### 【{SEVERITY_LABEL.get(top.severity, top.severity)}】" + ngettext(
                "%(n)s new alert", "%(n)s new alerts", shown
            ) % {"n": shown}
            more = ngettext("%(n)s more alert follows.", "%(n)s more alerts follow.", rest) % {"n": rest}
            return head, "\n".join([more, inbox] if rest else [inbox])

        # Room for the frame at its longest (the most alerts, some left for later): it only gets
        # shorter once the lines are counted.
        head, foot = frame(len(alerts), len(alerts))
        room = limit - len(head.encode()) - len(foot.encode()) - 2
        shown, used = 0, 0
        for line in lines:
            size = len(line.encode()) + 1
            if used + size > room and shown:
                break
            shown, used = shown + 1, used + size
        head, foot = frame(shown, len(alerts) - shown)
        text = "\n".join([head, *lines[:shown], foot])
        return fit(text, limit, inbox), shown


def notice_markdown(delivery: Delivery) -> str:
    text = f"### {delivery.notice_title}\n{delivery.notice_text}".rstrip()
    if delivery.notice_link:
        with translation.override(settings.LANGUAGE_CODE):
            text += f"\n[{_('Open in Custos')}]({delivery.notice_link})"
    return text


def generic_body(delivery: Delivery) -> dict:
    alert = delivery.alert
    if alert is None:
        return {
            "event": delivery.event,
            "delivery": delivery.pk,
            "notice": {
                "title": delivery.notice_title,
                "text": delivery.notice_text,
                "url": delivery.notice_link,
                "created_at": delivery.created_at.isoformat(),
            },
        }
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
        if delivery.alert is None:
            title, text = delivery.notice_title, fit(notice_markdown(delivery), ROBOT_MAX_BYTES, delivery.notice_link)
        else:
            title, text = markdown(delivery.alert)
        if hook.kind == Webhook.Kind.WECOM:
            content = text if delivery.alert is None else robot_message([delivery.alert])[0]
            payload = {"msgtype": "markdown", "markdown": {"content": content}}
        else:
            payload = {"msgtype": "markdown", "markdown": {"title": title, "text": text}}
            if secret:
                url = dingtalk_url(url, secret, int(now_s * 1000))
        body = json.dumps(payload, ensure_ascii=False).encode()
    return urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310 (http/https checked)


def robot_request(hook: Webhook, content: str) -> urllib.request.Request:
    from custos.alerts.services import open_url

    body = json.dumps({"msgtype": "markdown", "markdown": {"content": content}}, ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json; charset=utf-8", "User-Agent": "Custos-Alerts/1"}
    return urllib.request.Request(open_url(hook), data=body, headers=headers, method="POST")  # noqa: S310


def send(delivery: Delivery) -> None:
    """Post one delivery. Raises egress.Refused when its URL now leads where webhooks may not go,
    DeliveryError for anything worth trying again later."""
    post(delivery.webhook, request_for(delivery))


def post(hook: Webhook, request: urllib.request.Request) -> None:
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
    if hook.kind != Webhook.Kind.GENERIC:
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
    if delivery.webhook.kind == Webhook.Kind.WECOM:
        return _attempt_robot(delivery, now)
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


def _take_robot_batch(delivery: Delivery, now) -> list[int] | datetime:
    """Claim every pending delivery of this robot (this one first among equals, oldest first) for
    one message; or, when the robot's minute is full, the time its next slot frees. The robot's
    row is locked meanwhile, so two senders never count the same free slot."""
    hook = delivery.webhook
    with transaction.atomic():
        Webhook.objects.select_for_update().filter(pk=hook.pk).first()
        RobotPost.objects.filter(webhook=hook, sent_at__lt=now - timedelta(hours=1)).delete()
        recent = list(
            RobotPost.objects.filter(webhook=hook, sent_at__gt=now - ROBOT_WINDOW, sent_at__lte=now)
            .order_by("-sent_at")
            .values_list("sent_at", flat=True)[:ROBOT_PER_MINUTE]
        )
        if len(recent) >= ROBOT_PER_MINUTE:
            free_at = recent[-1] + ROBOT_WINDOW  # the oldest of the minute's messages leaves it then
            Delivery.objects.filter(pk=delivery.pk).update(leased_until=None, next_attempt_at=free_at)
            return free_at
        if delivery.alert_id is None:
            ids = [delivery.pk]  # a notice is a message of its own
        else:
            ids = list(
                Delivery.objects.filter(webhook=hook, state=Delivery.State.PENDING, alert__isnull=False)
                .filter(Q(leased_until__isnull=True) | Q(leased_until__lt=now) | Q(pk=delivery.pk))
                .order_by("created_at", "id")
                .values_list("pk", flat=True)[:ROBOT_BATCH]
            )
        Delivery.objects.filter(pk__in=ids).update(leased_until=now + LEASE)
        RobotPost.objects.create(webhook=hook, sent_at=now, deliveries=len(ids))
    return ids


def _attempt_robot(delivery: Delivery, now) -> str:
    """Send this robot everything pending for it in one message (see the module's docstring)."""
    taken = _take_robot_batch(delivery, now)
    if isinstance(taken, datetime):
        _retry_later(delivery.pk, max(int((taken - now).total_seconds()) + 1, 1))
        return Delivery.State.PENDING
    rows = list(
        Delivery.objects.select_related("alert__employee", "alert__unit").filter(pk__in=taken).order_by("created_at", "id")
    )
    if delivery.alert_id is None:
        content, shown = fit(notice_markdown(delivery), ROBOT_MAX_BYTES, delivery.notice_link), 1
    else:
        content, shown = robot_message([row.alert for row in rows])
    carried, waiting = rows[:shown], rows[shown:]
    if waiting:
        # Next in line: released now, sent with the next message the robot's minute allows.
        Delivery.objects.filter(pk__in=[row.pk for row in waiting]).update(leased_until=None, next_attempt_at=now)
        _retry_later(waiting[0].pk, 1)
    state = Delivery.State.DELIVERED
    try:
        post(delivery.webhook, robot_request(delivery.webhook, content))
    except egress.Refused as exc:
        with translation.override(settings.LANGUAGE_CODE):
            reason = str(exc.message)
        log.warning("webhook %s: robot message refused: %s", delivery.webhook_id, reason)
        for row in carried:
            Delivery.objects.filter(pk=row.pk).update(
                attempts=row.attempts + 1, state=Delivery.State.FAILED, last_error=reason[:500], leased_until=None
            )
        state = Delivery.State.FAILED
    except DeliveryError as exc:
        for row in carried:
            delay = backoff(row.attempts + 1)
            Delivery.objects.filter(pk=row.pk).update(
                attempts=row.attempts + 1, last_error=str(exc)[:500], leased_until=None,
                next_attempt_at=now + timedelta(seconds=delay),
            )  # fmt: skip
        _retry_later(delivery.pk, backoff(delivery.attempts + 1))
        state = Delivery.State.PENDING
    else:
        delivered = timezone.now()
        for row in carried:
            Delivery.objects.filter(pk=row.pk).update(
                attempts=row.attempts + 1, state=Delivery.State.DELIVERED, delivered_at=delivered,
                leased_until=None, last_error="",
            )  # fmt: skip
    mine = next((row for row in carried if row.pk == delivery.pk), None)
    return state if mine is not None else Delivery.State.PENDING


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
