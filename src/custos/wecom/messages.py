"""Messages to staff through the company's WeCom app (应用消息): alerts to managers, tasks to receivers.

Besides the group-robot webhooks of the alerts app, a manager linked to a WeCom member gets each
alert of their units in WeCom itself, and whoever receives customers in a handover is told which
ones to contact. Messages are queued in the transaction that caused them and sent by the worker,
retried with growing pauses; a message never carries a customer's contact details.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from custos.customers.models import Customer
from custos.org.models import Employee, Role, Unit
from custos.wecom.client import WeComClient, WeComError
from custos.wecom.models import AppMessage, Connection, MemberLink

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 6
MAX_BYTES = 2048  # WeCom's markdown content limit for app messages


def active() -> Connection | None:
    return Connection.objects.filter(pk=1, enabled=True, app_messages_enabled=True).exclude(agent_id="").first()


def _truncate(text: str) -> str:
    raw = text.encode()
    if len(raw) <= MAX_BYTES:
        return text
    return raw[: MAX_BYTES - 3].decode(errors="ignore") + "…"


def _queue(userids: list[str], content: str, reason: str) -> AppMessage | None:
    if not userids:
        return None
    message, created = AppMessage.objects.get_or_create(
        reason=reason[:64], defaults={"userids": sorted(set(userids)), "content": _truncate(content)}
    )
    if created:
        from custos.wecom import tasks

        transaction.on_commit(lambda: tasks.send_app_message(message.pk))
    return message


def managers_of(unit: Unit) -> list[Employee]:
    """Managers and admins over a unit: its own, its region's, headquarters'."""
    ancestors = [int(p) for p in unit.path.strip("/").split("/") if p]
    return list(
        Employee.objects.filter(unit_id__in=ancestors, role__in=[Role.MANAGER, Role.ADMIN], status=Employee.Status.ACTIVE, frozen_at__isnull=True)
    )


def on_alerts_raised(sender, alerts, **kwargs) -> None:
    if active() is None or not alerts:
        return
    from custos.alerts.delivery import markdown

    for alert in alerts:
        people = [e for e in managers_of(alert.unit) if e.pk != alert.employee_id]
        userids = list(MemberLink.objects.filter(employee__in=people, missing_since__isnull=True).values_list("userid", flat=True))
        _title, body = markdown(alert)
        _queue(userids, body, f"alert:{alert.pk}")


def on_plan_committed(sender, plan, moves, **kwargs) -> None:
    if active() is None:
        return
    per_receiver: dict[int, list] = {}
    for m in moves:
        per_receiver.setdefault(m.to_employee_id, []).append(m)
    links = dict(MemberLink.objects.filter(employee_id__in=list(per_receiver)).values_list("employee_id", "userid"))
    names_of = dict(Customer.objects.filter(pk__in=[m.customer_id for m in moves]).values_list("pk", "name"))
    base = getattr(settings, "CUSTOS_BASE_URL", "").rstrip("/")
    for employee_id, mine in per_receiver.items():
        if employee_id not in links:
            continue
        names = "、".join(names_of.get(m.customer_id, "") for m in mine[:10]) + (" 等" if len(mine) > 10 else "")
        content = (
            f"### 您接手了 {len(mine)} 位客户\n> {names}\n"
            f"> 请在 24 小时内逐一联系，并在 Custos 中完成联系任务。\n[打开我的联系任务]({base}/handover/tasks/)"
        )
        _queue([links[employee_id]], content, f"tasks:{plan.pk}:{employee_id}")


def on_reminders_sent(sender, run, reminders, **kwargs) -> None:
    """Each owner whose customers go back to the pool soon hears it in WeCom, once per run."""
    if active() is None or not reminders:
        return
    per_owner: dict[int, list] = {}
    for r in reminders:
        per_owner.setdefault(r.owner_id, []).append(r)
    links = dict(MemberLink.objects.filter(employee_id__in=list(per_owner), missing_since__isnull=True).values_list("employee_id", "userid"))
    base = getattr(settings, "CUSTOS_BASE_URL", "").rstrip("/")
    for owner_id, mine in per_owner.items():
        if owner_id not in links:
            continue
        names = "、".join(r.customer for r in mine[:10]) + (" 等" if len(mine) > 10 else "")
        first = min(r.due_on for r in mine)
        content = (
            f"### {len(mine)} 位客户即将收回公海\n> {names}\n"
            f"> 最早 {first:%m-%d} 收回；在此之前跟进一次即可保留。\n[查看即将收回的客户]({base}/pool/#notices)"
        )
        _queue([links[owner_id]], content, f"pool-remind:{run.pk}:{owner_id}")


def send(message_id: int, client: WeComClient | None = None) -> AppMessage | None:
    conn = active()
    message = AppMessage.objects.filter(pk=message_id, status=AppMessage.Status.PENDING).first()
    if message is None or conn is None:
        return message
    now = timezone.now()
    try:
        answer = (client or WeComClient(conn)).post(
            "/cgi-bin/message/send",
            {"touser": "|".join(message.userids), "msgtype": "markdown", "agentid": int(conn.agent_id), "markdown": {"content": message.content}},
        )
    except WeComError as exc:
        message.attempts += 1
        message.error = exc.message[:300]
        if exc.retryable and message.attempts < MAX_ATTEMPTS:
            message.next_attempt_at = now + timedelta(minutes=2**message.attempts)
        else:
            message.status = AppMessage.Status.FAILED
        message.save(update_fields=["attempts", "error", "next_attempt_at", "status"])
        return message
    message.attempts += 1
    message.status, message.sent_at = AppMessage.Status.SENT, now
    invalid = str(answer.get("invaliduser") or "")
    message.error = f"企业微信未找到成员：{invalid[:200]}" if invalid else ""
    message.save(update_fields=["attempts", "status", "sent_at", "error"])
    return message


def send_due() -> int:
    now = timezone.now()
    ids = list(
        AppMessage.objects.filter(status=AppMessage.Status.PENDING).exclude(next_attempt_at__gt=now).values_list("pk", flat=True)[:500]
    )
    for pk in ids:
        send(pk)
    return len(ids)
