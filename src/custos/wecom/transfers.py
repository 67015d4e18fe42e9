"""Moving the WeCom contacts when Custos moves the customers: 离职继承 and 在职继承.

A committed handover or transfer plan (handover.signals.plan_committed) makes one Transfer row
per customer whose WeCom contact the previous owner holds, in the plan's own transaction. The
worker sends them to WeCom (at most 100 customers a call), then polls WeCom's transfer results:
WeCom moves a customer only after 24 hours in which the customer may refuse, and in service a
customer may be moved at most twice in 90 days. A row is "done" only when WeCom says so. For a
departure, the leaver's customer groups are handed to the receiver who got most of the customers.

Each settled transfer is a `wecom.transfer_settled` entry on the customer's timeline.
"""

import logging
from collections import Counter, defaultdict
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from custos.access import policy
from custos.core.errors import Conflict, Forbidden
from custos.ledger.services import Event, append_batch
from custos.org.models import Employee
from custos.wecom import errcodes
from custos.wecom.client import WeComClient, WeComError
from custos.wecom.models import Connection, FollowRelation, MemberLink, Transfer

log = logging.getLogger(__name__)
BATCH = 100
POLL_EVERY = timedelta(minutes=30)
MAX_ATTEMPTS = 5
# transfer_result's status: 1 done, 2 waiting, 3 refused, 4 the receiver's customers at their cap, 5 no record
RESULT = {1: Transfer.Status.DONE, 2: Transfer.Status.WAITING, 3: Transfer.Status.REFUSED, 4: Transfer.Status.FAILED, 5: Transfer.Status.FAILED}
RESULT_REASON = {3: "客户拒绝了接替", 4: "接替成员的客户数已达上限", 5: "企业微信没有这次接替的记录"}
FAIL_REASON = {"customer_refused": "客户拒绝了接替", "customer_limit_exceed": "接替成员的客户数已达上限"}
PATHS = {
    Transfer.Kind.ONJOB: ("/cgi-bin/externalcontact/transfer_customer", "/cgi-bin/externalcontact/transfer_result"),
    Transfer.Kind.RESIGNED: ("/cgi-bin/externalcontact/resigned/transfer_customer", "/cgi-bin/externalcontact/resigned/transfer_result"),
    Transfer.Kind.GROUP_ONJOB: ("/cgi-bin/externalcontact/groupchat/onjob_transfer", None),
    Transfer.Kind.GROUP_RESIGNED: ("/cgi-bin/externalcontact/groupchat/transfer", None),
}


def active() -> Connection | None:
    return Connection.objects.filter(pk=1, enabled=True, transfers_enabled=True).first()


def _userids(employee_ids) -> dict[int, str]:
    return dict(MemberLink.objects.filter(employee_id__in=list(employee_ids)).values_list("employee_id", "userid"))


def on_plan_committed(sender, plan, moves, **kwargs) -> None:
    """Inside the plan's transaction: a Transfer for each moved customer WeCom knows as the old owner's."""
    if active() is None:
        return
    userids = _userids({m.from_employee_id for m in moves} | {m.to_employee_id for m in moves})
    relations = defaultdict(list)
    for rel in FollowRelation.objects.filter(customer_id__in=[m.customer_id for m in moves], deleted_at__isnull=True):
        relations[(rel.customer_id, rel.userid)].append(rel.external_userid)
    left_wecom = set(MemberLink.objects.filter(userid__in=list(userids.values()), status=5).values_list("userid", flat=True))
    rows = []
    for m in moves:
        handover, takeover = userids.get(m.from_employee_id), userids.get(m.to_employee_id)
        if not handover:
            continue
        departed = m.from_employee.status == Employee.Status.DEPARTED or handover in left_wecom
        for ext in relations.get((m.customer_id, handover), []):
            rows.append(Transfer(
                plan_id=plan.pk, case_id=plan.case_id, customer_id=m.customer_id, external_userid=ext,
                kind=Transfer.Kind.RESIGNED if departed else Transfer.Kind.ONJOB,
                handover_userid=handover, takeover_userid=takeover or "",
                status=Transfer.Status.PENDING if takeover else Transfer.Status.FAILED,
                reason="" if takeover else "接替人不是企业微信成员：先同步通讯录",
            ))  # fmt: skip
    Transfer.objects.bulk_create(rows)
    if plan.case_id:
        receivers = Counter(userids.get(m.to_employee_id) for m in moves if userids.get(m.to_employee_id))
        leaver = userids.get(plan.case.employee_id) if plan.case_id else None
        if leaver and receivers:
            _queue_groups(plan, leaver, receivers.most_common(1)[0][0])
    from custos.wecom import tasks

    transaction.on_commit(lambda: tasks.submit_transfers(plan.pk))


def _queue_groups(plan, leaver: str, new_owner: str) -> None:
    """The leaver's customer groups go with the customers; read from WeCom when the plan is sent."""
    Transfer.objects.create(
        plan_id=plan.pk, case_id=plan.case_id, kind=Transfer.Kind.GROUP_ONJOB, chat_id="*",
        handover_userid=leaver, takeover_userid=new_owner, status=Transfer.Status.PENDING,
    )  # fmt: skip


def _settled(rows: list[Transfer]) -> None:
    events = [
        Event(
            kind="wecom.transfer_settled",
            payload={"transfer": t.pk, "plan": t.plan_id, "kind": t.kind, "status": t.status, "contact": t.external_userid,
                     "group": t.chat_id, "handover": t.handover_userid, "takeover": t.takeover_userid,
                     "errcode": t.errcode, "reason": t.reason},
            customer_id=t.customer_id, source="wecom", source_id=f"transfer:{t.pk}:{t.status}:{t.attempts}",
        )  # fmt: skip
        for t in rows
    ]
    if events:
        append_batch(events)


def _fail(t: Transfer, exc_or_code, now) -> None:
    code = exc_or_code.errcode if isinstance(exc_or_code, WeComError) else exc_or_code
    t.errcode = code
    t.attempts += 1
    if (code is None or code in errcodes.RETRYABLE) and t.attempts < MAX_ATTEMPTS:
        # WeCom busy or unreachable: the same request later, with growing pauses.
        t.status, t.next_check_at = Transfer.Status.PENDING, now + timedelta(minutes=5 * 2**t.attempts)
        t.reason = (errcodes.describe(code) if code is not None else str(exc_or_code))[:300]
    else:
        t.status, t.settled_at = Transfer.Status.FAILED, now
        t.reason = errcodes.describe(code)[:300] if code is not None else str(exc_or_code)[:300]


def _expand_groups(client: WeComClient, marker: Transfer) -> list[Transfer]:
    """The "*" row of a departure becomes one row per group the leaver owns in WeCom."""
    found = client.post("/cgi-bin/externalcontact/groupchat/list", {"status_filter": 0, "owner_filter": {"userid_list": [marker.handover_userid]}, "limit": 1000})
    left = MemberLink.objects.filter(userid=marker.handover_userid, status=5).exists()
    kind = Transfer.Kind.GROUP_RESIGNED if left else Transfer.Kind.GROUP_ONJOB
    rows = [
        Transfer(plan_id=marker.plan_id, case_id=marker.case_id, kind=kind, chat_id=g["chat_id"],
                 handover_userid=marker.handover_userid, takeover_userid=marker.takeover_userid)
        for g in found.get("group_chat_list") or [] if g.get("chat_id")
    ]  # fmt: skip
    with transaction.atomic():
        Transfer.objects.filter(pk=marker.pk).delete()
        return Transfer.objects.bulk_create(rows)


def submit(plan_id: int | None = None, client: WeComClient | None = None) -> int:
    """Send what is pending (of one plan, or all that are due). Returns how many were sent."""
    if active() is None:
        return 0
    client = client or WeComClient()
    now = timezone.now()
    pending = Transfer.objects.filter(status=Transfer.Status.PENDING).exclude(next_check_at__gt=now)
    if plan_id is not None:
        pending = pending.filter(plan_id=plan_id)
    for marker in [t for t in pending if t.chat_id == "*"]:
        try:
            _expand_groups(client, marker)
        except WeComError as exc:
            _fail(marker, exc, now)
            marker.save()
    groups = defaultdict(list)
    for t in pending.exclude(chat_id="*"):
        groups[(t.kind, t.handover_userid, t.takeover_userid)].append(t)
    sent = 0
    for (kind, handover, takeover), rows in groups.items():
        for i in range(0, len(rows), BATCH):
            chunk = rows[i : i + BATCH]
            sent += _send(client, kind, handover, takeover, chunk, now)
    return sent


def _send(client, kind, handover, takeover, chunk: list[Transfer], now) -> int:
    path = PATHS[kind][0]
    group = kind in (Transfer.Kind.GROUP_ONJOB, Transfer.Kind.GROUP_RESIGNED)
    if group:
        body = {"chat_id_list": [t.chat_id for t in chunk], "new_owner": takeover}
    else:
        body = {"handover_userid": handover, "takeover_userid": takeover, "external_userid": [t.external_userid for t in chunk]}
    try:
        answer = client.post(path, body)
    except WeComError as exc:
        for t in chunk:
            _fail(t, exc, now)
        with transaction.atomic():
            Transfer.objects.bulk_update(chunk, ["status", "errcode", "reason", "attempts", "next_check_at", "settled_at"])
            _settled([t for t in chunk if t.status == Transfer.Status.FAILED])
        return 0
    if group:
        failed = {f.get("chat_id"): int(f.get("errcode") or 0) for f in answer.get("failed_chat_list") or []}
        codes = {t.chat_id: failed.get(t.chat_id, 0) for t in chunk}
    else:
        codes = {c.get("external_userid"): int(c.get("errcode") or 0) for c in answer.get("customer") or []}
    done = []
    for t in chunk:
        code = codes.get(t.chat_id if group else t.external_userid, 0)
        t.sent_at = now
        if code:
            _fail(t, code, now)
        elif group:
            # A group's owner changes at once; WeCom has no waiting period for it.
            t.attempts += 1
            t.status, t.settled_at, t.errcode, t.reason = Transfer.Status.DONE, now, 0, ""
        else:
            t.attempts += 1
            t.status, t.errcode, t.reason, t.next_check_at = Transfer.Status.WAITING, 0, "", now + POLL_EVERY
        if t.status in (Transfer.Status.DONE, Transfer.Status.FAILED):
            done.append(t)
    with transaction.atomic():
        Transfer.objects.bulk_update(chunk, ["status", "errcode", "reason", "attempts", "sent_at", "next_check_at", "settled_at"])
        _settled(done)
    return len(chunk)


def poll(client: WeComClient | None = None, *, force: bool = False) -> int:
    """Ask WeCom how the waiting transfers went; returns how many settled."""
    if active() is None:
        return 0
    client = client or WeComClient()
    now = timezone.now()
    waiting = Transfer.objects.filter(status=Transfer.Status.WAITING, kind__in=[Transfer.Kind.ONJOB, Transfer.Kind.RESIGNED])
    if not force:
        waiting = waiting.exclude(next_check_at__gt=now)
    pairs = defaultdict(dict)
    for t in waiting:
        pairs[(t.kind, t.handover_userid, t.takeover_userid)][t.external_userid] = t
    settled = 0
    for (kind, handover, takeover), rows in pairs.items():
        statuses, cursor = {}, ""
        try:
            while True:
                page = client.post(PATHS[kind][1], {"handover_userid": handover, "takeover_userid": takeover, "cursor": cursor})
                for c in page.get("customer") or []:
                    statuses[c.get("external_userid")] = int(c.get("status") or 0)
                cursor = str(page.get("next_cursor") or "")
                if not cursor:
                    break
        except WeComError as exc:
            log.info("wecom: transfer results unavailable (%s)", exc.errcode)
            continue
        changed, done = [], []
        for ext, t in rows.items():
            status = RESULT.get(statuses.get(ext, 2), Transfer.Status.WAITING)
            t.next_check_at = now + POLL_EVERY
            if status != Transfer.Status.WAITING:
                t.status, t.settled_at = status, now
                t.reason = RESULT_REASON.get(statuses.get(ext), "")
                done.append(t)
            changed.append(t)
        with transaction.atomic():
            Transfer.objects.bulk_update(changed, ["status", "settled_at", "reason", "next_check_at"])
            _settled(done)
            for t in done:
                if t.status == Transfer.Status.DONE:
                    FollowRelation.objects.filter(external_userid=t.external_userid, userid=t.handover_userid).update(deleted_at=now)
        settled += len(done)
    return settled


def failed_by_callback(external_userid: str, takeover: str, reason: str) -> None:
    """WeCom's transfer_fail callback: the customer refused, or the receiver is full."""
    now = timezone.now()
    rows = list(Transfer.objects.select_for_update().filter(external_userid=external_userid, takeover_userid=takeover, status=Transfer.Status.WAITING))
    for t in rows:
        t.status = Transfer.Status.REFUSED if reason == "customer_refused" else Transfer.Status.FAILED
        t.reason, t.settled_at = FAIL_REASON.get(reason, reason or "接替失败"), now
    Transfer.objects.bulk_update(rows, ["status", "reason", "settled_at"])
    _settled(rows)


@transaction.atomic
def retry(*, actor: Employee, transfer: Transfer) -> Transfer:
    """Ask WeCom again for a failed or refused transfer (WeCom's own limits still apply)."""
    policy.require_staff_manager(actor)
    t = Transfer.objects.select_for_update().get(pk=transfer.pk)
    if t.status not in (Transfer.Status.FAILED, Transfer.Status.REFUSED):
        raise Conflict("只有失败或被拒绝的转接可以重试。")
    if t.case_id:
        from custos.handover.models import DepartureCase

        case = DepartureCase.objects.select_related("employee").get(pk=t.case_id)
        if not policy.may_manage(actor, case.employee):
            raise Forbidden("无权处理该交接。")
    if not t.takeover_userid:
        raise Conflict("接替人不是企业微信成员：先同步通讯录。")
    t.status, t.next_check_at, t.errcode, t.reason, t.settled_at = Transfer.Status.PENDING, None, None, "", None
    t.save(update_fields=["status", "next_check_at", "errcode", "reason", "settled_at"])
    from custos.wecom import tasks

    transaction.on_commit(lambda: tasks.submit_transfers(t.plan_id))
    return t
