"""The archive's read model, fed from the ledger: conversations, messages, contacts, groups.

`custos ledger rebuild archive` empties the tables and replays every entry of these kinds, so
nothing here is the record. Handled in entry order; messages are buffered and inserted in bulk,
and flushed before any entry that updates earlier ones (a recall, a deletion, a link).
"""

import json

from custos.archive.models import Conversation, ExternalContact, Group, Message

NAME = "archive"
KINDS = ("message.", "chat.", "call.", "contact.", "group.", "conversation.")
MESSAGE_KINDS = ("message.sent", "message.received")
SYSTEM_KINDS = ("contact.deleted_by_staff", "contact.deleted_by_customer", "contact.added")


def _search_text(*parts) -> str:
    return "\n".join(p for p in parts if p)


class _Batch:
    def __init__(self):
        self.conversations: dict[tuple[int, str], Conversation] = {}
        self.contacts: dict[str, ExternalContact] = {}
        self.groups: dict[str, Group] = {}
        self.pending: list[Message] = []
        self.touched: set[int] = set()

    # --- look-ups, created on first sight ---------------------------------------------

    def contact(self, key: str | None, entry=None) -> ExternalContact | None:
        if not key:
            return None
        found = self.contacts.get(key)
        if found is None:
            found, _created = ExternalContact.objects.get_or_create(
                external_id=key, defaults={"first_seen_at": entry.occurred_at if entry else None}
            )
            self.contacts[key] = found
        if entry is not None and entry.customer_id and found.customer_id is None:
            found.customer_id = entry.customer_id
            found.save(update_fields=["customer_id"])
        return found

    def group(self, key: str | None) -> Group | None:
        if not key:
            return None
        found = self.groups.get(key)
        if found is None:
            found, _created = Group.objects.get_or_create(group_key=key)
            self.groups[key] = found
        return found

    def conversation(self, entry, key: str, contact_key=None, group_key=None) -> Conversation:
        cache_key = (entry.actor_id, key)
        found = self.conversations.get(cache_key)
        if found is None:
            found = Conversation.objects.filter(employee_id=entry.actor_id, key=key).first()
            if found is None:
                contact, group = self.contact(contact_key, entry), self.group(group_key)
                title = (group.name if group else "") or (contact.name if contact else "") or key
                found = Conversation.objects.create(
                    employee_id=entry.actor_id, key=key, contact=contact, group=group, title=title[:200]
                )
            self.conversations[cache_key] = found
        if found.customer_id is None and entry.customer_id and found.group_id is None:
            found.customer_id = entry.customer_id
        if found.last_at is None or entry.occurred_at > found.last_at:
            found.last_at = entry.occurred_at
        self.touched.add(cache_key)
        return found

    # --- writes -------------------------------------------------------------------------

    def add(self, entry, conversation: Conversation | None, **fields) -> None:
        if conversation is not None:
            conversation.messages += 1
        customer = entry.customer_id
        if customer is None and conversation is not None and conversation.group_id is None:
            customer = conversation.customer_id
        self.pending.append(
            Message(
                entry_seq=entry.seq,
                source_id=entry.source_id,
                kind=entry.kind,
                conversation=conversation,
                employee_id=entry.actor_id,
                unit_id=entry.unit_id,
                customer_id=customer,
                occurred_at=entry.occurred_at,
                **fields,
            )
        )

    def flush(self) -> None:
        if self.pending:
            Message.objects.bulk_create(self.pending, batch_size=500)
            self.pending = []
        for key in self.touched:
            c = self.conversations[key]
            c.save(update_fields=["customer_id", "last_at", "messages", "deleted_on_device_at"])
        self.touched = set()


def _message(batch: _Batch, entry, p: dict) -> None:
    attachment = p.get("attachment") or {}
    conversation = batch.conversation(entry, p["conversation"], p.get("contact"), p.get("group"))
    if p.get("contact"):
        batch.contact(p["contact"], entry)
    known = {"msgtype", "conversation", "contact", "group", "text", "attachment", "amount", "sender_role"}
    batch.add(
        entry,
        conversation,
        msgtype=p.get("msgtype", "")[:40],
        contact_key=p.get("contact") or "",
        sender_role=p.get("sender_role", ""),
        text=p.get("text") or "",
        search_text=_search_text(p.get("text"), attachment.get("name")),
        attachment_sha256=attachment.get("sha256", ""),
        attachment_name=attachment.get("name", "")[:255],
        attachment_mime=attachment.get("mime", "")[:100],
        attachment_size=attachment.get("size"),
        amount_fen=p.get("amount"),
        extra={k: v for k, v in p.items() if k not in known},
    )


def _call(batch: _Batch, entry, p: dict) -> None:
    attachment = p.get("attachment") or {}
    key = p.get("contact") or f"tel:{(p.get('number_index') or '')[:24]}"
    conversation = batch.conversation(entry, key, p.get("contact"))
    if conversation.title == key and not p.get("contact"):
        conversation.title = p.get("number_masked", "")
        conversation.save(update_fields=["title"])
    batch.add(
        entry,
        conversation,
        msgtype="call",
        contact_key=p.get("contact") or "",
        sender_role="staff" if p.get("direction") == "out" else "customer",
        text=p.get("note") or "",
        search_text=_search_text(p.get("note"), attachment.get("name")),
        attachment_sha256=attachment.get("sha256", ""),
        attachment_name=attachment.get("name", "")[:255],
        attachment_mime=attachment.get("mime", "")[:100],
        attachment_size=attachment.get("size"),
        extra={k: p.get(k) for k in ("direction", "duration_s", "number_masked")},
    )


def _contact_event(batch: _Batch, entry, p: dict) -> None:
    contact = batch.contact(p["contact"], entry)
    if entry.kind == "contact.added":
        changed = []
        if p.get("name") and not contact.name:
            contact.name, changed = p["name"][:100], [*changed, "name"]
        if p.get("phone_index") and not contact.phone_index:
            contact.phone_index, contact.phone_masked = p["phone_index"], p.get("phone_masked", "")[:40]
            changed += ["phone_index", "phone_masked"]
        if changed:
            contact.save(update_fields=changed)
        Conversation.objects.filter(contact=contact, title=contact.external_id).update(title=contact.name)
    conversation = batch.conversation(entry, p["contact"], p["contact"])
    if conversation.title == p["contact"] and contact.name:
        conversation.title = contact.name
    batch.add(entry, conversation, msgtype="system", contact_key=p["contact"], sender_role="system")


def _recalled(entry, p: dict) -> None:
    Message.objects.filter(employee_id=entry.actor_id, source_id=p["message"], recalled_at__isnull=True).update(
        recalled_at=entry.occurred_at
    )


def _deleted(batch: _Batch, entry, p: dict) -> None:
    conversation = Conversation.objects.filter(employee_id=entry.actor_id, key=p["conversation"]).first()
    if conversation is None:
        return
    Conversation.objects.filter(pk=conversation.pk).update(deleted_on_device_at=entry.occurred_at)
    cached = batch.conversations.get((entry.actor_id, p["conversation"]))
    if cached is not None:
        cached.deleted_on_device_at = entry.occurred_at
    conversation.items.filter(occurred_at__lte=entry.occurred_at).update(deleted_on_device=True)


def _group(batch: _Batch, entry, p: dict) -> None:
    group = batch.group(p["group"])
    if entry.kind == "group.created":
        group.name = (p.get("name") or "")[:200]
        group.members = p.get("members") or []
        group.has_company_observer = bool(p.get("has_company_observer"))
        group.created_at = entry.occurred_at
        Conversation.objects.filter(group=group).update(title=group.name or group.group_key)
    elif entry.kind == "group.member_added":
        if p["member"] not in group.members:
            group.members = [*group.members, p["member"]]
    elif entry.kind == "group.member_removed":
        group.members = [m for m in group.members if m != p["member"]]
    group.save()


def _linked(batch: _Batch, entry, p: dict) -> None:
    contact = batch.contact(p["contact"])
    ExternalContact.objects.filter(pk=contact.pk).update(customer_id=p["customer"])
    contact.customer_id = p["customer"]
    Message.objects.filter(contact_key=p["contact"]).update(customer_id=p["customer"])
    Conversation.objects.filter(contact=contact, group__isnull=True).update(customer_id=p["customer"])
    for c in batch.conversations.values():
        if c.contact_id == contact.pk and c.group_id is None:
            c.customer_id = p["customer"]


def handle(entries: list) -> None:
    batch = _Batch()
    for entry in entries:
        if entry.payload is None or entry.actor_id is None and entry.kind != "conversation.linked":
            continue  # redacted under a retention rule, or not an employee's
        p = json.loads(entry.payload)
        kind = entry.kind
        if kind in MESSAGE_KINDS:
            _message(batch, entry, p)
        elif kind == "call.logged":
            _call(batch, entry, p)
        elif kind in SYSTEM_KINDS:
            _contact_event(batch, entry, p)
        elif kind.startswith("group."):
            _group(batch, entry, p)
        elif kind == "message.recalled":
            batch.flush()
            _recalled(entry, p)
        elif kind == "chat.deleted_on_device":
            batch.flush()
            _deleted(batch, entry, p)
        elif kind == "conversation.linked":
            batch.flush()
            _linked(batch, entry, p)
    batch.flush()


def reset() -> None:
    Message.objects.all().delete()
    Conversation.objects.all().delete()
    Group.objects.all().delete()
    ExternalContact.objects.all().delete()
