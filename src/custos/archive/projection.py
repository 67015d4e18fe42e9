"""The archive's read model, fed from the ledger: conversations, messages, contacts, groups.

`custos ledger rebuild archive` empties the tables and replays every entry of these kinds, so
nothing here is the record. Handled in entry order; messages are buffered and inserted in bulk,
and flushed before any entry that updates earlier ones (a recall, a deletion, a link).
"""

import json
from collections.abc import Callable

from django.db import connection

from custos.archive import consent, pseudonym, search_keys
from custos.archive.models import Conversation, ExternalContact, Group, Message
from custos.core.sealed import SealedTextField

NAME = "archive"
# Only what handle() reads: a prefix wider than that would feed it (and make it parse) entries it
# ignores, such as a connector's own chat.* kinds.
KINDS = ("message.", "chat.deleted_on_device", "call.", "contact.", "group.", "conversation.")
MESSAGE_KINDS = ("message.sent", "message.received")
SYSTEM_KINDS = ("contact.deleted_by_staff", "contact.deleted_by_customer", "contact.added")


def _call_key(p: dict) -> str:
    return p.get("contact") or f"tel:{(p.get('number_index') or '')[:24]}"


class _Batch:
    """One handle() call. prepare() reads or creates every contact, group and conversation the
    batch names in a few queries (appends are serialised by the ledger lock, so nothing else
    creates them meanwhile); flush() writes messages and conversation counters in bulk."""

    def __init__(self):
        self.conversations: dict[tuple[int, str], Conversation] = {}
        self.contacts: dict[str, ExternalContact] = {}
        self.groups: dict[str, Group] = {}
        self.pending: list[Message] = []
        self.touched: set[tuple[int, str]] = set()
        self.dirty_contacts: dict[int, ExternalContact] = {}

    def prepare(self, parsed: list) -> None:
        contact_keys: dict[str, object] = {}
        wechat_ids: dict[str, str] = {}
        group_keys: set[str] = set()
        names: dict[str, str] = {}
        group_names: dict[str, str] = {}
        wanted: dict[tuple[int, str], tuple] = {}
        for entry, p in parsed:
            kind = entry.kind
            if p.get("wechat_id") and p.get("contact"):
                wechat_ids.setdefault(p["contact"], p["wechat_id"][:64])
            if kind in MESSAGE_KINDS:
                spec = (p.get("contact"), p.get("group"), conversation_key(p), conversation_key(p))
            elif kind == "call.logged":
                key = _call_key(p)
                spec = (p.get("contact"), None, key, p.get("number_masked") or key)
            elif kind in SYSTEM_KINDS:
                spec = (p["contact"], None, p["contact"], p["contact"])
                if kind == "contact.added" and p.get("name"):
                    names.setdefault(p["contact"], p["name"][:100])
            else:
                if kind.startswith("group."):
                    group_keys.add(p["group"])
                    if kind == "group.created" and p.get("name"):
                        group_names[p["group"]] = p["name"][:200]
                elif kind == "conversation.linked":
                    contact_keys.setdefault(p["contact"], None)
                continue
            contact_key, group_key, conv_key, fallback_title = spec
            if contact_key:
                contact_keys.setdefault(contact_key, entry.occurred_at)
            if group_key:
                group_keys.add(group_key)
            wanted.setdefault((entry.actor_id, conv_key), (contact_key, group_key, fallback_title))
        if contact_keys:
            self.contacts = {
                c.external_id: c for c in ExternalContact.objects.filter(external_id__in=list(contact_keys))
            }
            new = [
                ExternalContact(external_id=k, first_seen_at=at, wechat_id=wechat_ids.get(k, ""))
                for k, at in contact_keys.items()
                if k not in self.contacts
            ]
            for c in self.contacts.values():
                if not c.wechat_id and wechat_ids.get(c.external_id):
                    c.wechat_id = wechat_ids[c.external_id]
                    c.save(update_fields=["wechat_id"])
            for c in ExternalContact.objects.bulk_create(new, batch_size=500):
                self.contacts[c.external_id] = c
        if group_keys:
            self.groups = {g.group_key: g for g in Group.objects.filter(group_key__in=list(group_keys))}
            new = [Group(group_key=k) for k in group_keys if k not in self.groups]
            for g in Group.objects.bulk_create(new, batch_size=500):
                self.groups[g.group_key] = g
        if wanted:
            actors = {a for a, _k in wanted}
            keys = {k for _a, k in wanted}
            for c in Conversation.objects.filter(employee_id__in=actors, key__in=keys):
                if (c.employee_id, c.key) in wanted:
                    self.conversations[(c.employee_id, c.key)] = c
            new = []
            for (actor, key), (contact_key, group_key, fallback) in wanted.items():
                if (actor, key) in self.conversations:
                    continue
                group = self.groups.get(group_key) if group_key else None
                # A group chat is the group's, not its first speaker's.
                contact = self.contacts.get(contact_key) if contact_key and group is None else None
                if group is not None:
                    title = group.name or group_names.get(group_key) or fallback
                else:
                    title = (contact.name if contact else "") or names.get(contact_key or "") or fallback
                new.append(
                    Conversation(employee_id=actor, key=key, contact=contact, group=group, title=title[:200])
                )
            for c in Conversation.objects.bulk_create(new, batch_size=500):
                self.conversations[(c.employee_id, c.key)] = c

    # --- look-ups, all prepared -------------------------------------------------------

    def contact(self, key: str | None, entry=None) -> ExternalContact | None:
        if not key:
            return None
        found = self.contacts[key]
        if entry is not None and entry.customer_id and found.customer_id is None:
            found.customer_id = entry.customer_id
            self.dirty_contacts[found.pk] = found
        return found

    def group(self, key: str | None) -> Group | None:
        return self.groups[key] if key else None

    def conversation(self, entry, key: str, contact_key=None, group_key=None) -> Conversation:
        cache_key = (entry.actor_id, key)
        found = self.conversations[cache_key]
        if found.customer_id is None and entry.customer_id and found.group_id is None:
            found.customer_id = entry.customer_id
        if found.last_at is None or entry.occurred_at > found.last_at:
            found.last_at = entry.occurred_at
        self.touched.add(cache_key)
        return found

    # --- writes -------------------------------------------------------------------------

    def add(self, entry, conversation: Conversation | None, words: list[str] = (), **fields) -> None:
        if conversation is not None:
            conversation.messages += 1
        customer = entry.customer_id
        if customer is None and conversation is not None and conversation.group_id is None:
            customer = conversation.customer_id
        row = {
            **_DEFAULTS,
            **fields,
            "entry_seq": entry.seq,
            "source_id": entry.source_id,
            "kind": entry.kind,
            "conversation_id": conversation.pk if conversation is not None else None,
            "employee_id": entry.actor_id,
            "unit_id": entry.unit_id,
            "customer_id": customer,
            "occurred_at": entry.occurred_at,
        }
        row["search_keys"] = search_keys.stored(search_keys.row_keys(row, list(words)))
        self.pending.append(row)

    def flush(self) -> None:
        # Plain executemany rather than the ORM's bulk paths: this runs inside every append of
        # chat messages, and bulk_update's CASE WHEN per row costs more than the ledger itself.
        if self.pending:
            _insert_messages(self.pending)
            self.pending = []
        if self.touched:
            adapt = connection.ops.adapt_datetimefield_value
            rows = [
                (c.customer_id, adapt(c.last_at), c.messages, adapt(c.deleted_on_device_at), c.title, c.pk)
                for c in (self.conversations[k] for k in self.touched)
            ]
            with connection.cursor() as cursor:
                cursor.executemany(
                    "UPDATE archive_conversation SET customer_id = %s, last_at = %s, messages = %s,"
                    " deleted_on_device_at = %s, title = %s WHERE id = %s",
                    rows,
                )
            self.touched = set()
        if self.dirty_contacts:
            with connection.cursor() as cursor:
                cursor.executemany(
                    "UPDATE archive_externalcontact SET customer_id = %s WHERE id = %s",
                    [(c.customer_id, c.pk) for c in self.dirty_contacts.values()],
                )
            self.dirty_contacts = {}


_COLUMNS = [f.column for f in Message._meta.concrete_fields if not f.primary_key]
_DEFAULTS = {
    "msgtype": "", "contact_key": "", "sender_role": "", "text": "", "search_keys": [], "attachment_sha256": "",
    "attachment_name": "", "attachment_mime": "", "attachment_size": None, "amount_fen": None,
    "recalled_at": None, "deleted_on_device": False, "extra": {},
}  # fmt: skip
COPY_FROM = 16  # rows; as the ledger does, COPY pays off past a handful


_SEALED = [f for f in Message._meta.concrete_fields if isinstance(f, SealedTextField)]


def _sealer() -> Callable[[dict], None]:
    """Seals a row's body columns as the table keeps them (custos.core.sealed), the raw insert
    being past the fields that would seal them; made once per batch."""
    seals = [(field.column, field.sealer()) for field in _SEALED]

    def seal(row: dict) -> None:
        for column, seal_one in seals:
            row[column] = seal_one(row[column])

    return seal


def _insert_messages(rows: list[dict]) -> None:
    """Rows straight to the table: COPY on PostgreSQL, one executemany elsewhere."""
    q = connection.ops.quote_name
    columns = ", ".join(q(c) for c in _COLUMNS)
    _seal = _sealer()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and len(rows) >= COPY_FROM:
            with (
                connection.wrap_database_errors,
                cursor.cursor.copy(f"COPY archive_message ({columns}) FROM STDIN") as copy,
            ):
                for row in rows:
                    _seal(row)
                    copy.write_row([row[c] for c in _COLUMNS])
            return
        adapt = connection.ops.adapt_datetimefield_value
        values = []
        for row in rows:
            _seal(row)
            row["occurred_at"], row["recalled_at"] = adapt(row["occurred_at"]), adapt(row["recalled_at"])
            values.append([row[c] for c in _COLUMNS])
        marks = ", ".join(["%s"] * len(_COLUMNS))
        cursor.executemany(f"INSERT INTO archive_message ({columns}) VALUES ({marks})", values)  # noqa: S608


def conversation_key(p: dict) -> str:
    """One customer's one-to-one chats with one employee are one conversation, whichever source
    reported them: the work phone names it by the contact, WeCom's archive as single:USER:CONTACT.
    So a chat with a contact and no group is keyed by the contact; a group chat by its own key."""
    contact = p.get("contact")
    if contact and not p.get("group"):
        return contact
    return p["conversation"]


def _message(batch: _Batch, entry, p: dict) -> None:
    attachment = p.get("attachment") or {}
    conversation = batch.conversation(entry, conversation_key(p), p.get("contact"), p.get("group"))
    if p.get("contact"):
        contact = batch.contact(p["contact"], entry)
        word = {consent.AGREE: consent.AGREED, consent.DISAGREE: consent.REFUSED}.get(p.get("msgtype"))
        if word and consent.record(contact, word, entry.occurred_at):
            ExternalContact.objects.filter(pk=contact.pk).update(consent=word, consent_at=entry.occurred_at)
    known = {"msgtype", "conversation", "contact", "wechat_id", "group", "text", "attachment", "amount", "sender_role"}
    batch.add(
        entry,
        conversation,
        msgtype=p.get("msgtype", "")[:40],
        contact_key=p.get("contact") or "",
        sender_role=p.get("sender_role", ""),
        text=p.get("text") or "",
        words=search_keys.text_keys(p.get("text"), attachment.get("name")),
        attachment_sha256=attachment.get("sha256", ""),
        attachment_name=attachment.get("name", "")[:255],
        attachment_mime=attachment.get("mime", "")[:100],
        attachment_size=attachment.get("size"),
        amount_fen=p.get("amount"),
        extra={k: v for k, v in p.items() if k not in known},
    )


def _call(batch: _Batch, entry, p: dict) -> None:
    attachment = p.get("attachment") or {}
    conversation = batch.conversation(entry, _call_key(p), p.get("contact"))
    batch.add(
        entry,
        conversation,
        msgtype="call",
        contact_key=p.get("contact") or "",
        sender_role="staff" if p.get("direction") == "out" else "customer",
        text=p.get("note") or "",
        words=search_keys.text_keys(p.get("note"), attachment.get("name")),
        attachment_sha256=attachment.get("sha256", ""),
        attachment_name=attachment.get("name", "")[:255],
        attachment_mime=attachment.get("mime", "")[:100],
        attachment_size=attachment.get("size"),
        extra={k: p.get(k) for k in ("direction", "duration_s", "number_masked")},
    )


def _contact_event(batch: _Batch, entry, p: dict) -> None:
    contact = batch.contact(p["contact"], entry)
    conversation = batch.conversation(entry, p["contact"], p["contact"])
    if entry.kind == "contact.added":
        changed = []
        if p.get("name") and not contact.name:
            contact.name, changed = p["name"][:100], [*changed, "name"]
        if p.get("phone_index") and not contact.phone_index:
            contact.phone_index, contact.phone_masked = p["phone_index"], p.get("phone_masked", "")[:40]
            changed += ["phone_index", "phone_masked"]
        if changed:
            contact.save(update_fields=changed)
        if contact.name:
            # Conversations other staff or earlier batches opened before the name was known.
            Conversation.objects.filter(contact=contact, title=contact.external_id).update(title=contact.name)
            for c in batch.conversations.values():
                if c.contact_id == contact.pk and c.title == contact.external_id:
                    c.title = contact.name
    batch.add(entry, conversation, msgtype="system", contact_key=p["contact"], sender_role="system")


def _recalled(entry, p: dict) -> None:
    Message.objects.filter(
        employee_id=entry.actor_id, source_id=p["message"], recalled_at__isnull=True
    ).update(recalled_at=entry.occurred_at)


def _deleted(batch: _Batch, entry, p: dict) -> None:
    key = conversation_key(p)
    conversation = Conversation.objects.filter(employee_id=entry.actor_id, key=key).first()
    if conversation is None:
        return
    Conversation.objects.filter(pk=conversation.pk).update(deleted_on_device_at=entry.occurred_at)
    cached = batch.conversations.get((entry.actor_id, key))
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
        for c in batch.conversations.values():
            if c.group_id == group.pk:
                c.title = group.name or group.group_key
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
    _relink_keys(p["contact"], p["customer"])
    Message.objects.filter(contact_key=p["contact"]).update(customer_id=p["customer"])
    Conversation.objects.filter(contact=contact, group__isnull=True).update(customer_id=p["customer"])
    for c in batch.conversations.values():
        if c.contact_id == contact.pk and c.group_id is None:
            c.customer_id = p["customer"]


def handle(entries: list) -> None:
    parsed = [
        # entries an older Custos appended name WeChat contacts by their ids: by pseudonyms here too
        (entry, pseudonym.payload(json.loads(entry.payload)))
        for entry in entries
        # redacted under a retention rule, or not an employee's
        if entry.payload is not None and (entry.actor_id is not None or entry.kind == "conversation.linked")
    ]
    batch = _Batch()
    batch.prepare(parsed)
    for entry, p in parsed:
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


def _relink_keys(contact_key: str, customer: int) -> None:
    """PostgreSQL: the messages' customer key follows their new customer (SQLite's index holds
    no filters: they are columns there)."""
    if connection.vendor != "postgresql":
        return
    new = search_keys.filter_key("c", customer)
    olds = set(Message.objects.filter(contact_key=contact_key).values_list("customer_id", flat=True).distinct())
    with connection.cursor() as cursor:
        for old in olds - {customer}:
            drop = [search_keys.filter_key("c", old)] if old is not None else []
            cursor.execute(
                "UPDATE archive_message SET search_keys = array_append("
                "ARRAY(SELECT k FROM unnest(search_keys) AS k WHERE k <> ALL(%s::text[])), %s)"
                " WHERE contact_key = %s AND customer_id IS NOT DISTINCT FROM %s",
                [drop, new, contact_key, old],
            )


def clear_redacted(seqs: list[int]) -> None:
    """Retention redacted these entries' bodies in the ledger: the read model's copies go too.

    The row stays (the conversation keeps its shape: who wrote when), only what was said goes.
    Its search keys keep only its filters' (PostgreSQL); updating them also clears SQLite's FTS
    index through its trigger.
    """
    for i in range(0, len(seqs), 900):
        rows = Message.objects.filter(entry_seq__in=seqs[i : i + 900])
        rows.update(text="", attachment_name="", extra={})
        if connection.vendor != "postgresql":
            rows.update(search_keys=[])
            continue
        kept = [
            (search_keys.filter_keys(kind, msgtype, employee, customer), pk)
            for pk, kind, msgtype, employee, customer in rows.values_list(
                "pk", "kind", "msgtype", "employee_id", "customer_id"
            )
        ]
        with connection.cursor() as cursor:
            cursor.executemany("UPDATE archive_message SET search_keys = %s WHERE id = %s", kept)
