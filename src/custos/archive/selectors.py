"""Reads of the archive, always through the viewer's scope.

own      sales and service staff: their own conversations
subtree  managers: the conversations of staff in their unit and below
all      executives, admins, auditors

Scope follows the employee who held the conversation (their current unit). Outside it, a
conversation, message or contact does not exist for the viewer (NotFound).
These are also the reads other apps build on (alerts, evidence, retention): messages by
customer, by employee, by time.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from custos.access.scope import Scope, scope_of
from custos.archive import pseudonym, search_keys, windows
from custos.archive.models import Conversation, ExternalContact, Message
from custos.core import paging
from custos.core.errors import NotFound
from custos.org.models import Employee
from custos.org.selectors import get_unit

# A search's hits fetched by its words before the page is ordered (PostgreSQL), and so how far
# ahead a search's pager counts: "more than 300 hits" says to narrow it down as well as any figure.
HITS_CAP = 300
FEW_STAFF = 64  # a scope with more staff than this is not worth an index scan of their messages
# The most candidates a search for a long word opens to confirm it (PostgreSQL; SQLite opens them all).
CONFIRM_CAP = 2000


def contact_names(keys) -> dict[str, str]:
    """The names people gave WeCom or phone contacts (wm..., tel_...), for lists that hold only the key."""
    return dict(
        ExternalContact.objects.filter(external_id__in=set(keys)).exclude(name="").values_list("external_id", "name")
    )


def unanswered(viewer: Employee, employee_id: int, since, limit: int = 10) -> list[Conversation]:
    """The employee's one-to-one chats active since `since` whose last message is the customer's,
    oldest wait first: what a salesperson still owes an answer (their workbench)."""
    from django.db.models import OuterRef, Subquery

    last_role = Message.objects.filter(conversation=OuterRef("pk")).order_by("-occurred_at", "-pk").values("sender_role")[:1]
    return list(
        conversations_visible(viewer)
        .filter(employee_id=employee_id, group__isnull=True, last_at__gte=since)
        .annotate(last_role=Subquery(last_role))
        .filter(last_role="customer")
        .order_by("last_at")[:limit]
    )


def conversation_of_entry(viewer: Employee, employee_id: int | None, payload: dict) -> Conversation | None:
    """The archived conversation a deleted-chat or group entry speaks of, if the viewer may read it:
    the employee's chat of that key, or the chat of that group."""
    if employee_id is None or not isinstance(payload, dict):
        return None
    qs = conversations_visible(viewer).filter(employee_id=employee_id)
    group = payload.get("group")
    if isinstance(group, str) and group:
        return conversations_visible(viewer).filter(group__group_key=group).order_by("pk").first()
    keys = [k for k in (payload.get("conversation"), payload.get("contact")) if isinstance(k, str) and k]
    keys += [pseudonym.of(k) for k in keys]  # an entry an older Custos appended names the WeChat id
    return qs.filter(key__in=keys).order_by("pk").first() if keys else None


def messages_around(viewer: Employee, conversation_id: int, at, before: int = 8, after: int = 4) -> list[Message]:
    """The messages of a conversation just before and after a moment, oldest first."""
    qs = messages_of(viewer, conversation_id)
    earlier = list(qs.filter(occurred_at__lte=at).order_by("-occurred_at", "-entry_seq")[:before])
    later = list(qs.filter(occurred_at__gt=at).order_by("occurred_at", "entry_seq")[:after])
    return [*reversed(earlier), *later]


def conversations_visible(viewer: Employee) -> QuerySet[Conversation]:
    qs = Conversation.objects.select_related("employee", "employee__unit", "contact", "group")
    return scope_of(viewer).filter(qs, owner="employee_id", unit_path="employee__unit__path")


def messages_visible(viewer: Employee) -> QuerySet[Message]:
    return scope_of(viewer).limit_customers(_visible(_scope_staff(viewer)))


def _visible(staff: list[int] | None, indexed: bool = True) -> QuerySet[Message]:
    """Messages of these staff (None: everyone's)."""
    qs = Message.objects.select_related("employee", "conversation")
    return qs if staff is None else _by_staff(qs, staff, indexed)


def get_conversation(viewer: Employee, conversation_id: int) -> Conversation:
    found = conversations_visible(viewer).filter(pk=conversation_id).first()
    if found is None:
        raise NotFound(_("Conversation not found."))
    return found


def get_message(viewer: Employee, message_id: int) -> Message:
    found = messages_visible(viewer).filter(pk=message_id).first()
    if found is None:
        raise NotFound(_("Message not found."))
    return found


def messages_of(viewer: Employee, conversation_id: int) -> QuerySet[Message]:
    return get_conversation(viewer, conversation_id).items.order_by("occurred_at", "entry_seq")


def get_contact(viewer: Employee, contact_id: int) -> ExternalContact:
    """A contact the viewer sees a conversation with."""
    visible = conversations_visible(viewer).filter(contact_id=contact_id)
    found = ExternalContact.objects.filter(pk=contact_id, conversations__in=visible).first()
    if found is None:
        raise NotFound(_("Contact not found."))
    return found


def messages_for_customer(viewer: Employee, customer_id: int, since=None, until=None) -> QuerySet[Message]:
    return _between(messages_visible(viewer).filter(customer_id=customer_id), since, until)


def messages_for_employee(viewer: Employee, employee_id: int, since=None, until=None) -> QuerySet[Message]:
    return _between(messages_visible(viewer).filter(employee_id=employee_id), since, until)


def _between(qs, since, until):
    if since:
        qs = qs.filter(occurred_at__gte=since)
    if until:
        qs = qs.filter(occurred_at__lt=until)
    return qs


@dataclass
class SearchFilters:
    q: str = ""
    employee_id: int | None = None
    customer_id: int | None = None
    unit_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None
    kind: str | None = None  # message.sent | message.received | call.logged | a msgtype
    # The viewer's scope when it has line or grade limits (set by search(); access.scope).
    within: Scope | None = None


def _match(qs: QuerySet[Message], term: str, keyed: bool) -> QuerySet[Message]:
    """Messages holding every key of the term (search_keys.py): on SQLite through FTS5, on
    PostgreSQL through search_keys, whose containment _keys puts beside the filters' (keyed).
    A term longer than two characters is then confirmed on the opened rows (search())."""
    keys = search_keys.term_keys(term)
    if connection.vendor == "sqlite":
        match = " ".join(f'"{k}"' for k in keys)
        ids = RawSQL("SELECT rowid FROM archive_message_fts WHERE archive_message_fts MATCH %s", [match])
        return qs.filter(id__in=ids)
    if keyed:
        return qs
    return qs.filter(RawSQL("archive_message.search_keys @> %s::text[]", [keys], output_field=BooleanField()))


def _keys(f: SearchFilters, staff: list[int] | None) -> list[RawSQL]:
    """PostgreSQL: conditions on search_keys (migrations 0005, 0009) that one GIN index scan
    answers by intersecting its lists: the keys of every word, of the kind, the employee and the
    customer asked for, and a small scope's staff (any of them). Each holds for every hit of the
    search as a whole, so they only ever narrow; none when there is no word."""
    words = _terms(f)
    if connection.vendor != "postgresql" or not words:
        return []
    tokens = sorted({k for term in words for k in search_keys.term_keys(term)})
    if f.kind:
        tokens.append(search_keys.filter_key("k" if "." in f.kind else "t", f.kind))
    if f.employee_id:
        tokens.append(search_keys.filter_key("e", f.employee_id))
    if f.customer_id:
        tokens.append(search_keys.filter_key("c", f.customer_id))
    # Behind a sub-SELECT, which the index still serves, the planner takes the containment for a
    # common one (it multiplied the keys' frequencies into one row and so would not AND the
    # words' index with the time's).
    conditions = [RawSQL("archive_message.search_keys @> (SELECT %s::text[])", [tokens], output_field=BooleanField())]
    if staff is not None and len(staff) <= FEW_STAFF:
        any_of = [search_keys.filter_key("e", pk) for pk in staff]
        conditions.append(RawSQL("archive_message.search_keys && %s::text[]", [any_of], output_field=BooleanField()))
    return conditions


def holds(message_text: str, attachment_name: str, terms: Sequence[str]) -> bool:
    """Whether an opened message holds every term (case aside), in its text or its file name."""
    text, name = (message_text or "").upper(), (attachment_name or "").upper()
    return all(term.upper() in text or term.upper() in name for term in terms)


def _confirmed(rows, terms: Sequence[str]) -> list[int]:
    """The pks of (pk, text, attachment_name) rows, opened, that hold every term."""
    return [pk for pk, text, name in rows if holds(text, name, terms)]


def _scope_staff(viewer: Employee) -> list[int] | None:
    """The ids of the staff whose messages the viewer sees; None for everyone's.

    The staff's ids rather than a join on their units' paths: given the list, the planner can
    put a search's index beside it; through the join it walked every message of each employee
    in turn (a region's search with a kind filter: 300+ ms at a million messages)."""
    scope = scope_of(viewer)
    if scope.kind == "all":
        return None
    if scope.kind == "subtree":
        return _staff_under(scope.unit_path)
    return [scope.employee_id] if scope.kind == "own" else []


def _unit_staff(viewer: Employee, f: SearchFilters) -> list[int] | None:
    """The staff of the unit a search is narrowed to (None: no unit asked for)."""
    return _staff_under(get_unit(viewer, f.unit_id).path) if f.unit_id else None


def _by_staff(qs: QuerySet[Message], staff: list[int], indexed: bool) -> QuerySet[Message]:
    if indexed or len(staff) <= FEW_STAFF:
        return qs.filter(employee_id__in=staff)
    # Hundreds of staff hold a large share of all messages: as an index scan, building that
    # bitmap cost more than the search it was meant to narrow (120 ms at 10M messages).
    return qs.filter(RawSQL("archive_message.employee_id + 0 = ANY(%s)", [staff], output_field=BooleanField()))


def _staff_under(path: str) -> list[int]:
    return list(Employee.objects.filter(unit__path__startswith=path).order_by().values_list("pk", flat=True))


def _filtered(
    qs: QuerySet[Message],
    f: SearchFilters,
    unit_staff: list[int] | None,
    *,
    keys: Sequence[RawSQL] = (),
    staff_indexed: bool = True,
) -> QuerySet[Message]:
    """qs narrowed to f. keys (_keys): the containment on search_keys (PostgreSQL), for a search
    that fetches its hits by the index; not otherwise, for the planner, which estimates the
    containment of several bigrams at one row whatever the truth, and then reads every hit of a
    common phrase to sort them instead of walking the newest messages for a page."""
    for term in _terms(f):
        qs = _match(qs, term, bool(keys))
    for condition in keys:
        qs = qs.filter(condition)
    if f.employee_id:
        qs = qs.filter(employee_id=f.employee_id)
    if f.customer_id:
        qs = qs.filter(customer_id=f.customer_id)
    if f.within is not None:
        qs = f.within.limit_customers(qs)
    if unit_staff is not None:
        qs = _by_staff(qs, unit_staff, staff_indexed)
    if f.kind:
        # An entry kind is namespaced (call.logged), a WeCom msgtype never is (image, redpacket):
        # the value says which column it is. One column, not an OR of two, which no index serves
        # and which the planner mis-estimated into reading every message of a region's staff.
        qs = qs.filter(kind=f.kind) if "." in f.kind else qs.filter(msgtype=f.kind)
    return _between(qs, f.since, f.until)


def _limited(viewer: Employee, f: SearchFilters) -> SearchFilters:
    scope = scope_of(viewer)
    return replace(f, within=scope) if scope.limited else f


def _terms(f: SearchFilters) -> list[str]:
    return [term[:100] for term in f.q.split()[:5]]


def words_first(viewer: Employee, f: SearchFilters) -> QuerySet:
    """The ids of the candidates, unordered, as search() fetches them first by the words' keys
    (before confirming a long word on them)."""
    f = _limited(viewer, f)
    staff, unit_staff = _scope_staff(viewer), _unit_staff(viewer, f)
    if connection.vendor != "postgresql":
        return _filtered(_visible(staff), f, unit_staff).order_by().values_list("pk", flat=True)
    return _by_words(f, staff, unit_staff).order_by().values_list("pk", flat=True)


def _by_words(f: SearchFilters, staff: list[int] | None, unit_staff: list[int] | None) -> QuerySet[Message]:
    """The hits as the words' index finds them (PostgreSQL): a large scope checked on the rows,
    where no index serves it."""
    return _filtered(_visible(staff, indexed=False), f, unit_staff, keys=_keys(f, staff), staff_indexed=False)


def search(viewer: Employee, f: SearchFilters) -> QuerySet[Message]:
    """Messages, files and call notes in scope matching every word of f.q, newest first.

    The index finds the messages holding every key of the words (search_keys.py); a word of
    more than two characters is confirmed on those messages, opened. On PostgreSQL they are
    opened newest first, as far as the page and the pager's count (HITS_CAP + 1) need and at
    most CONFIRM_CAP of them: beyond, the pager says "more than" what it found."""
    f = _limited(viewer, f)
    staff, unit_staff = _scope_staff(viewer), _unit_staff(viewer, f)
    confirm = [term for term in _terms(f) if search_keys.needs_confirming(term)]
    if connection.vendor != "postgresql" or not _terms(f):
        found = _filtered(_visible(staff), f, unit_staff).order_by(*windows.ORDER)
        if not confirm:
            return found
        hits = _confirmed(found.values_list("pk", "text", "attachment_name"), confirm)
        return paging.known_count(_visible(None).filter(pk__in=hits).order_by(*windows.ORDER), len(hits), exact=True)
    # Words first. Left to itself, the planner guesses how many messages hold the words and
    # then either walks every message newest first looking for them (seconds, when the guess
    # was thousands and the truth is none: 顺丰 in call notes) or reads them all to count them.
    # So the hits are fetched through the index of the words and the kind (bitmap scans only:
    # beside it, at most the index of a few staff's messages), every other condition checked
    # on the rows it finds, at most HITS_CAP + 1 of them. Fewer: they are the result and its
    # exact count. More: a page of them is read from the newest window of time that holds it
    # (windows.py), and the pager knows there are more than HITS_CAP without counting them again.
    by_words = _by_words(f, staff, unit_staff)
    if confirm:
        return _search_confirmed(by_words, confirm, f)
    with windows.planner():
        hits = list(by_words.order_by().values_list("pk", flat=True)[: HITS_CAP + 1])
    if len(hits) > HITS_CAP:
        large = staff is None or len(staff) > FEW_STAFF
        newest = windows.newest_first(by_words, walk=large, since=f.since, until=f.until)
        return paging.known_count(newest, HITS_CAP + 1, exact=False)
    found = _visible(None).filter(pk__in=hits).order_by(*windows.ORDER)
    return paging.known_count(found, len(hits), exact=True)


def _search_confirmed(by_words: QuerySet[Message], confirm: list[str], f: SearchFilters) -> QuerySet[Message]:
    """PostgreSQL, a word of more than two characters: the candidates its keys find, opened newest
    first and confirmed (search()), as far as a page or a count needs and at most CONFIRM_CAP."""
    found = windows.kept_newest_first(
        _visible(None), by_words, ("pk", "text", "attachment_name"), lambda row: holds(row[1], row[2], confirm),
        cap=CONFIRM_CAP, since=f.since, until=f.until,
    )  # fmt: skip
    hits, state = found.kept(HITS_CAP + 1)
    return paging.known_count(found, len(hits), exact=state == "all")


def entries_not_linked_outside(scope) -> Q:
    """For ledger reads of a viewer limited to product lines or grades (ledger.selectors.register_limit):
    entries that are not messages of a customer outside the limits through the archive. A message
    recorded before its contact was linked to a customer names no customer on its (immutable)
    entry; the archive's copy (Message.customer_id) knows the customer since the link."""
    from django.db.models import Exists, OuterRef

    from custos.customers.models import Customer

    allowed = Customer.objects.filter(scope.q_customer()).values("pk")
    linked_outside = Message.objects.filter(entry_seq=OuterRef("seq"), customer_id__isnull=False).exclude(
        customer_id__in=allowed
    )
    return Q(customer_id__isnull=False) | ~Exists(linked_outside)
