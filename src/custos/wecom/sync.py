"""Bringing WeCom's directory and customers into Custos: matched, never destructive, resumable.

Directory: every department becomes (or is linked to) a unit under its parent's unit; every
member is linked to the employee with the same number or user name, or hired as a salesperson
with no password (an admin gives them one). A member or department gone from WeCom is flagged
with the time it went missing; nothing in Custos is deleted or moved for it.

Contacts: every member who may follow customers (get_follow_user_list), page by page (cursor),
gives their external contacts; each becomes a customer owned by the member who added it first
(its WeCom id sealed as a contact, so the archive and the blind index find it), and each member's
side of the relation (remark, description, tags, how and when they added it) is kept. A run's
position is saved with each page in the same transaction, so a run stopped anywhere goes on from
the page it stopped at; the same run again adds only what is missing.
"""

import logging
import secrets as pysecrets
from datetime import UTC, datetime, timedelta

from django.db import transaction
from django.utils import timezone

from custos.core.errors import Conflict, DomainError
from custos.customers import contacts
from custos.customers import services as customer_services
from custos.customers.models import CustomerContact
from custos.org import services as org_services
from custos.org.models import Employee, Role, Unit
from custos.wecom.client import WeComClient
from custos.wecom.models import CorpTag, DepartmentLink, FollowRelation, MemberLink, SyncRun

log = logging.getLogger(__name__)
STALE = timedelta(minutes=5)  # a running sync that has not moved for this long crashed: resume it
PAGE = 100


def start(kind: str, actor: Employee | None = None) -> SyncRun:
    """The running sync of this kind if it is alive, else a new one (a crashed one is resumed)."""
    with transaction.atomic():
        running = SyncRun.objects.select_for_update().filter(kind=kind, status=SyncRun.Status.RUNNING).first()
        if running is not None:
            if running.heartbeat_at and running.heartbeat_at > timezone.now() - STALE:
                raise Conflict("同步正在进行中，请稍候。", code="sync_running")
            return running
        return SyncRun.objects.create(kind=kind, started_by=actor, heartbeat_at=timezone.now())


def run(run_id: int, client: WeComClient | None = None) -> SyncRun:
    row = SyncRun.objects.get(pk=run_id)
    try:
        client = client or WeComClient()
        if row.kind == SyncRun.Kind.DIRECTORY:
            _directory(row, client)
        else:
            sync_tags(client)
            _contacts(row, client)
    except DomainError as exc:
        SyncRun.objects.filter(pk=row.pk).update(status=SyncRun.Status.FAILED, error=exc.message[:500], finished_at=timezone.now())
        log.warning("wecom sync %s failed: %s", row.kind, exc.message)
    else:
        SyncRun.objects.filter(pk=row.pk).update(status=SyncRun.Status.DONE, finished_at=timezone.now(), error="")
        if row.kind == SyncRun.Kind.DIRECTORY:
            from custos.wecom import services

            services.retry_waiting()
    return SyncRun.objects.get(pk=row.pk)


def _bump(row: SyncRun, **counts) -> None:
    row.counts = {**row.counts, **{k: row.counts.get(k, 0) + v for k, v in counts.items()}}


# --- directory -------------------------------------------------------------------------------


def _root_unit() -> Unit:
    root = Unit.objects.filter(parent__isnull=True).order_by("id").first()
    if root is None:
        root = org_services.create_unit(actor=None, name="总部", kind=Unit.Kind.HQ, parent=None)
    return root


def _link_department(dept: dict, by_id: dict, links: dict, row: SyncRun) -> Unit:
    did = int(dept["id"])
    if did in links:
        link = links[did]
        if link.missing_since or link.name != dept.get("name", ""):
            DepartmentLink.objects.filter(pk=link.pk).update(missing_since=None, name=str(dept.get("name", ""))[:100])
        return link.unit
    parent = by_id.get(int(dept.get("parentid") or 0))
    if parent is None:
        unit = _root_unit()
    else:
        parent_unit = _link_department(parent, by_id, links, row)
        name = str(dept.get("name") or f"部门{did}")[:100]
        unit = Unit.objects.filter(parent=parent_unit, name=name).first()
        if unit is None:
            unit = org_services.create_unit(actor=None, name=name, kind=Unit.Kind.DEPARTMENT, parent=parent_unit)
            _bump(row, units_created=1)
    links[did] = DepartmentLink.objects.create(department_id=did, unit=unit, name=str(dept.get("name", ""))[:100], parent_id=dept.get("parentid"))
    return unit


def _hire(user: dict, unit: Unit) -> Employee:
    employee = org_services.create_employee(
        actor=None,
        name=str(user.get("name") or user["userid"])[:60],
        username=user["userid"],
        password=pysecrets.token_urlsafe(24),
        unit=unit,
        role=Role.SALES,
        employee_no=user["userid"][:30],
    )
    # Nobody knows that password: an admin sets one before they first sign in.
    employee.user.set_unusable_password()
    employee.user.save(update_fields=["password"])
    return employee


def _directory(row: SyncRun, client: WeComClient) -> None:
    departments = client.get("/cgi-bin/department/list").get("department") or []
    by_id = {int(d["id"]): d for d in departments}
    root = next((d for d in departments if int(d.get("parentid") or 0) not in by_id), None)
    users = client.get("/cgi-bin/user/list", department_id=int(root["id"]) if root else 1, fetch_child=1).get("userlist") or []
    row.total = len(departments) + len(users)
    now = timezone.now()
    with transaction.atomic():
        links = {link.department_id: link for link in DepartmentLink.objects.select_related("unit")}
        for dept in departments:
            _link_department(dept, by_id, links, row)
        DepartmentLink.objects.exclude(department_id__in=list(by_id)).filter(missing_since__isnull=True).update(missing_since=now)
        row.done = len(departments)
        row.heartbeat_at = now
        row.save(update_fields=["done", "counts", "total", "heartbeat_at"])
    seen = set()
    for user in users:
        userid = str(user.get("userid") or "")
        if not userid:
            continue
        seen.add(userid)
        with transaction.atomic():
            link = MemberLink.objects.select_for_update().filter(userid=userid).first()
            employee = link.employee if link and link.employee_id else None
            if employee is None:
                employee = Employee.objects.filter(employee_no=userid).first() or Employee.objects.filter(user__username=userid).first()
                if employee is not None:
                    _bump(row, members_matched=1)
            if employee is None:
                dept = links.get(int(user.get("main_department") or (user.get("department") or [0])[0]))
                try:
                    employee = _hire(user, dept.unit if dept else _root_unit())
                    _bump(row, members_created=1)
                except Conflict as exc:
                    _bump(row, members_unmatched=1)
                    log.info("wecom sync: member %s not hired: %s", userid, exc.message)
            MemberLink.objects.update_or_create(
                userid=userid,
                defaults={
                    "employee": employee,
                    "name": str(user.get("name") or "")[:100],
                    "departments": user.get("department") or [],
                    "status": int(user.get("status") or 1),
                    "missing_since": None,
                    "synced_at": now,
                },
            )
            row.done += 1
            row.heartbeat_at = timezone.now()
            row.save(update_fields=["done", "counts", "heartbeat_at"])
    gone = MemberLink.objects.exclude(userid__in=list(seen)).filter(missing_since__isnull=True)
    _bump(row, members_missing=gone.count())
    gone.update(missing_since=now)
    SyncRun.objects.filter(pk=row.pk).update(counts=row.counts)


# --- customer tags and contacts --------------------------------------------------------------


def sync_tags(client: WeComClient | None = None) -> int:
    client = client or WeComClient()
    groups = client.post("/cgi-bin/externalcontact/get_corp_tag_list", {}).get("tag_group") or []
    seen = set()
    with transaction.atomic():
        for group in groups:
            for tag in group.get("tag") or []:
                seen.add(str(tag["id"]))
                CorpTag.objects.update_or_create(
                    tag_id=str(tag["id"]),
                    defaults={"name": str(tag.get("name") or "")[:40], "group_id": str(group.get("group_id") or ""),
                              "group_name": str(group.get("group_name") or "")[:40], "deleted": bool(tag.get("deleted"))},
                )  # fmt: skip
        CorpTag.objects.exclude(tag_id__in=list(seen)).update(deleted=True)
    return len(seen)


def _when(ts) -> datetime | None:
    try:
        return datetime.fromtimestamp(int(ts), tz=UTC) if ts else None
    except (OverflowError, ValueError, OSError):
        return None


def _customer_for(ext: dict, follow: dict, employee: Employee | None, tag_names: dict, row: SyncRun) -> int | None:
    external_userid = str(ext["external_userid"])
    try:
        blind = contacts.index(CustomerContact.Kind.WECOM, contacts.normalise(CustomerContact.Kind.WECOM, external_userid))
    except DomainError:
        return None
    found = CustomerContact.objects.filter(kind=CustomerContact.Kind.WECOM, blind_index=blind, removed_at__isnull=True).values_list("customer_id", flat=True).first()
    if found is not None:
        return found
    if employee is None:
        return None
    name = (str(follow.get("remark") or "") or str(ext.get("name") or "") or external_userid)[:100]
    tags = [tag_names[t][:20] for t in follow.get("tag_id") or [] if t in tag_names][:20]
    try:
        with transaction.atomic():
            customer = customer_services.create_customer(
                actor=None, name=name, owner=employee, unit=employee.unit, source="企业微信", tags=tags,
                contacts_in=[customer_services.NewContact(CustomerContact.Kind.WECOM, external_userid, "企业微信")],
                ledger_source="wecom",
            )  # fmt: skip
    except DomainError as exc:
        _bump(row, customers_refused=1)
        log.info("wecom sync: contact not added as a customer: %s", exc.message)
        return None
    _bump(row, customers_created=1)
    return customer.pk


def _contacts(row: SyncRun, client: WeComClient) -> None:
    state = dict(row.state or {})
    if "users" not in state:
        state = {"users": sorted(client.get("/cgi-bin/externalcontact/get_follow_user_list").get("follow_user") or []), "index": 0, "cursor": ""}
        row.total, row.done, row.state = len(state["users"]), 0, state
        row.save(update_fields=["total", "done", "state"])
    tag_names = dict(CorpTag.objects.filter(deleted=False).values_list("tag_id", "name"))
    links = {m.userid: m.employee for m in MemberLink.objects.select_related("employee__unit").filter(employee__isnull=False)}
    while state["index"] < len(state["users"]):
        userid = state["users"][state["index"]]
        page = client.post("/cgi-bin/externalcontact/batch/get_by_user", {"userid_list": [userid], "cursor": state["cursor"], "limit": PAGE})
        now = timezone.now()
        with transaction.atomic():
            for item in page.get("external_contact_list") or []:
                ext, follow = item.get("external_contact") or {}, item.get("follow_info") or {}
                if not ext.get("external_userid"):
                    continue
                customer_id = _customer_for(ext, follow, links.get(userid), tag_names, row)
                _, created = FollowRelation.objects.update_or_create(
                    external_userid=ext["external_userid"],
                    userid=userid,
                    defaults={
                        "customer_id": customer_id,
                        "remark": str(follow.get("remark") or "")[:100],
                        "description": str(follow.get("description") or "")[:300],
                        "tag_ids": list(follow.get("tag_id") or []),
                        "add_way": follow.get("add_way"),
                        "added_at": _when(follow.get("createtime")),
                        "state": str(follow.get("state") or "")[:64],
                        "deleted_at": None,
                        "synced_at": now,
                    },
                )
                _bump(row, relations=1, relations_new=int(created))
            cursor = str(page.get("next_cursor") or "")
            if cursor:
                state["cursor"] = cursor
            else:
                # Every page of this member read: a relation this run did not see is gone in WeCom
                # (a deletion whose callback never came). Marked, never deleted.
                gone = FollowRelation.objects.filter(userid=userid, deleted_at__isnull=True).exclude(synced_at__gte=row.started_at)
                _bump(row, relations_gone=gone.update(deleted_at=now))
                state["index"], state["cursor"] = state["index"] + 1, ""
                row.done = state["index"]
            row.state, row.heartbeat_at = state, now
            row.save(update_fields=["state", "done", "counts", "heartbeat_at"])
