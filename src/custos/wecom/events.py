"""WeCom's callback events as ledger entries (docs/events.md), the ones detection and the archive read.

| WeCom event (ChangeType)                         | entry                                          |
| change_external_contact add_external_contact     | contact.added                                  |
|   add_half_external_contact                      | contact.added (half: the customer added staff, not yet accepted) |
|   edit_external_contact                          | contact.updated                                |
|   del_external_contact                           | contact.deleted_by_staff (by_transfer when WeCom's Source is DELETE_BY_TRANSFER) |
|   del_follow_user                                | contact.deleted_by_customer                    |
|   transfer_fail                                  | contact.transfer_failed                        |
| change_external_chat create                      | group.created (members read from WeCom)        |
|   update add_member / del_member                 | group.member_added / group.member_removed, one per member |
|   update change_owner / change_name / others     | group.owner_changed / group.renamed / group.updated |
|   dismiss                                        | group.dismissed                                |
| change_external_tag                              | wecom.tag_changed, and the corp's tags synced again |
| msgaudit_notify                                  | none: the archive's pull is started            |

Each entry's source is `wecom` and its source_id comes from the callback's own fields, so WeCom's
retries of one callback are one entry. The employee is the member the event names (UserID), found
through the directory's links; a callback naming a member Custos does not know yet waits for the
next directory sync instead of being dropped.
"""

import logging
from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone

from custos.archive import matching
from custos.ledger.models import Entry
from custos.ledger.services import Event, append_batch
from custos.org.models import Employee
from custos.wecom.models import Callback, Connection, MemberLink

log = logging.getLogger(__name__)
SOURCE = "wecom"
DELETE_BY_TRANSFER = "DELETE_BY_TRANSFER"


class UnknownMember(Exception):
    def __init__(self, userid: str):
        super().__init__(userid)
        self.userid = userid


def callback_key(data: dict) -> str:
    """The same event sent twice (WeCom retries a slow answer) has the same key."""
    parts = [data.get(k, "") for k in ("Event", "ChangeType", "UserID", "ExternalUserID", "ChatId", "Id", "TagType", "CreateTime", "UpdateDetail", "Token")]
    members = changed_members(data)
    if members:
        parts.append(",".join(members))
    return ":".join(str(p) for p in parts)[:300]


def changed_members(data: dict) -> list[str]:
    """MemChangeList's <Item>s, whether WeCom sent one or several."""
    value = data.get("MemChangeList") or []
    if isinstance(value, dict):
        value = value.get("Item") or []
    if isinstance(value, str):
        value = [value]
    return [str(v) for v in value if v]


def employee_for(userid: str) -> Employee:
    """The employee a WeCom member is; an unlinked member with the same number or user name is linked now."""
    if not userid:
        raise UnknownMember("")
    link = MemberLink.objects.select_related("employee__unit").filter(userid=userid).first()
    if link is not None and link.employee is not None:
        return link.employee
    employee = (
        Employee.objects.select_related("unit").filter(employee_no=userid).first()
        or Employee.objects.select_related("unit").filter(user__username=userid).first()
    )
    if employee is None:
        raise UnknownMember(userid)
    MemberLink.objects.update_or_create(userid=userid, defaults={"employee": employee})
    return employee


def _member_keys(userids) -> dict[str, str]:
    """Each linked member's employee number, in one query (unlinked members keep their userid)."""
    rows = MemberLink.objects.filter(userid__in=list(userids), employee__isnull=False).values_list("userid", "employee__employee_no")
    return dict(rows)


def _member_key(userid: str) -> str:
    return _member_keys([userid]).get(userid, userid)


def _when(data: dict) -> datetime:
    try:
        return datetime.fromtimestamp(int(data.get("CreateTime") or 0), tz=UTC) if data.get("CreateTime") else timezone.now()
    except (OverflowError, ValueError, OSError):
        return timezone.now()


@dataclass
class Plan:
    """What a callback becomes: entries to append, or a note why nothing is appended."""

    events: list[Event]
    note: str = ""


def _event(kind: str, payload: dict, employee: Employee, data: dict, suffix: str = "") -> Event:
    return Event(
        kind=kind,
        payload=payload,
        actor_id=employee.pk,
        unit_id=employee.unit_id,
        source=SOURCE,
        source_id=(callback_key(data) + suffix)[:200],
        occurred_at=_when(data),
    )


def _contact_name(client, external_userid: str) -> str:
    """The customer's WeCom name, when WeCom can tell us; an entry is not held back for it."""
    from custos.wecom.client import WeComError

    if client is None:
        return ""
    try:
        found = client.get("/cgi-bin/externalcontact/get", external_userid=external_userid)
    except WeComError as exc:
        log.info("wecom: no name for a contact (%s)", exc.errcode)
        return ""
    return str((found.get("external_contact") or {}).get("name") or "")[:100]


def _contact(data: dict, client) -> Plan:
    change, ext = data.get("ChangeType", ""), data.get("ExternalUserID", "")
    if not ext:
        return Plan([], "没有 ExternalUserID")
    employee = employee_for(data.get("UserID", ""))
    if change in ("add_external_contact", "add_half_external_contact"):
        payload = {"contact": ext, "name": _contact_name(client, ext), "via": "wecom"}
        if change == "add_half_external_contact":
            payload["half"] = True
        if data.get("State"):
            payload["state"] = str(data["State"])[:64]
        return Plan([_event("contact.added", payload, employee, data)])
    if change == "edit_external_contact":
        return Plan([_event("contact.updated", {"contact": ext}, employee, data)])
    if change == "del_external_contact":
        by_transfer = data.get("Source") == DELETE_BY_TRANSFER
        return Plan([_event("contact.deleted_by_staff", {"contact": ext, "by_transfer": by_transfer}, employee, data)])
    if change == "del_follow_user":
        return Plan([_event("contact.deleted_by_customer", {"contact": ext}, employee, data)])
    if change == "transfer_fail":
        reason = str(data.get("FailReason") or "")[:64]
        from custos.wecom import transfers

        transfers.failed_by_callback(ext, data.get("UserID", ""), reason)
        return Plan([_event("contact.transfer_failed", {"contact": ext, "reason": reason, "takeover": employee.employee_no}, employee, data)])
    return Plan([], f"未处理的客户事件 {change}")


def _group_members(chat: dict, observers: set[str]) -> tuple[list[dict], bool]:
    members, observed = [], False
    keys = _member_keys(str(m.get("userid") or "") for m in chat.get("member_list") or [] if int(m.get("type") or 0) != 2)
    for m in chat.get("member_list") or []:
        uid = str(m.get("userid") or "")
        if not uid:
            continue
        if int(m.get("type") or 0) == 2:
            members.append({"contact": uid})
        else:
            members.append({"employee": keys.get(uid, uid)})
            observed = observed or (uid in observers and uid != chat.get("owner"))
    return members, observed


def _last_owner(chat_id: str) -> Employee | None:
    """Who owned a group WeCom no longer describes (dismissed): the owner its last entry named."""
    # Payloads are sealed at rest, so the group is looked for in the opened ones (a few per group).
    entries = (
        Entry.objects.filter(source=SOURCE, kind__in=["group.created", "group.owner_changed"], payload__isnull=False)
        .order_by("-seq")
        .values_list("actor_id", "payload")
    )
    seq_actor = next((actor for actor, payload in entries.iterator() if f'"{chat_id}"' in payload), None)
    return Employee.objects.select_related("unit").filter(pk=seq_actor).first() if seq_actor else None


def _group(data: dict, client, connection: Connection) -> Plan:
    from custos.wecom.client import WeComError

    chat_id, change = data.get("ChatId", ""), data.get("ChangeType", "")
    if not chat_id:
        return Plan([], "没有 ChatId")
    chat: dict = {}
    if client is not None and change != "dismiss":
        try:
            chat = client.post("/cgi-bin/externalcontact/groupchat/get", {"chat_id": chat_id, "need_name": 1}).get("group_chat") or {}
        except WeComError as exc:
            if change == "create":
                raise  # the group's members decide whether it is an alert: try again later
            log.info("wecom: group details unavailable (%s)", exc.errcode)
    owner = chat.get("owner") or data.get("UserID") or ""
    employee = employee_for(owner) if owner else _last_owner(chat_id)
    if employee is None:
        raise UnknownMember(owner)
    if change == "create":
        members, observed = _group_members(chat, set(connection.observers or []))
        payload = {"group": chat_id, "name": str(chat.get("name") or "")[:200], "members": members, "has_company_observer": observed}
        return Plan([_event("group.created", payload, employee, data)])
    if change == "dismiss":
        return Plan([_event("group.dismissed", {"group": chat_id}, employee, data)])
    detail = data.get("UpdateDetail", "")
    if detail in ("add_member", "del_member"):
        kind = "group.member_added" if detail == "add_member" else "group.member_removed"
        changed = changed_members(data)
        internal = {str(m.get("userid")) for m in chat.get("member_list") or [] if int(m.get("type") or 0) == 1}
        known = set(MemberLink.objects.filter(userid__in=changed).values_list("userid", flat=True))
        keys = _member_keys(changed)
        events = []
        for uid in changed:
            member = {"employee": keys.get(uid, uid)} if uid in internal or uid in known else {"contact": uid}
            events.append(_event(kind, {"group": chat_id, "member": member}, employee, data, suffix=f":{uid}"))
        return Plan(events, "" if events else "没有成员变化")
    if detail == "change_owner":
        return Plan([_event("group.owner_changed", {"group": chat_id, "owner": _member_key(owner)}, employee, data)])
    if detail == "change_name":
        return Plan([_event("group.renamed", {"group": chat_id, "name": str(chat.get("name") or "")[:200]}, employee, data)])
    return Plan([_event("group.updated", {"group": chat_id, "detail": str(detail)[:40]}, employee, data)])


def _tag(data: dict) -> Plan:
    from custos.wecom import tasks

    transaction.on_commit(lambda: tasks.sync_tags_task())
    payload = {"tag_type": str(data.get("TagType") or "")[:20], "change_type": str(data.get("ChangeType") or "")[:20], "id": str(data.get("Id") or "")[:64]}
    return Plan([Event(kind="wecom.tag_changed", payload=payload, source=SOURCE, source_id=callback_key(data)[:200], occurred_at=_when(data))])


def plan_for(data: dict, client, connection: Connection) -> Plan:
    event = data.get("Event", "")
    if event == "change_external_contact":
        return _contact(data, client)
    if event == "change_external_chat":
        return _group(data, client, connection)
    if event == "change_external_tag":
        return _tag(data)
    if event == "msgaudit_notify":
        from custos.wecom import tasks

        transaction.on_commit(lambda: tasks.archive_notice())
        return Plan([], "会话存档有新消息：已开始拉取")
    return Plan([], f"不处理的事件 {event or data.get('MsgType', '')}")


def handle(callback: Callback, client=None) -> Callback:
    """Turn one stored callback into its entries, in one transaction with the callback's new status."""
    from custos.wecom.client import WeComError

    connection = Connection.objects.filter(pk=1).first() or Connection()
    with transaction.atomic():
        row = Callback.objects.select_for_update().get(pk=callback.pk)
        if row.status in (Callback.Status.DONE, Callback.Status.IGNORED, Callback.Status.REFUSED):
            return row
        row.attempts += 1
        try:
            with transaction.atomic():
                plan = plan_for(row.data, client, connection)
                if plan.events:
                    matching.match_customers(plan.events)
                    appended = append_batch(plan.events)
                    row.entry_seqs = [a.seq for a in appended]
        except UnknownMember as exc:
            row.status, row.outcome = Callback.Status.WAITING_MEMBER, f"企业微信成员 {exc.userid or '(空)'} 还没有对应的员工：同步通讯录后自动处理"
        except WeComError as exc:
            row.status, row.outcome = Callback.Status.FAILED, exc.message[:300]
        else:
            row.status = Callback.Status.DONE if plan.events else Callback.Status.IGNORED
            row.outcome = plan.note[:300] or f"记入台账 {len(plan.events)} 条"
        row.handled_at = timezone.now()
        row.save(update_fields=["status", "outcome", "entry_seqs", "attempts", "handled_at"])
    return row
