"""Reads of the archive, always through the viewer's scope.

own      sales and service staff: their own conversations
subtree  managers: the conversations of staff in their unit and below
all      executives, admins, auditors

Scope follows the employee who held the conversation (their current unit). Outside it, a
conversation, message or contact does not exist for the viewer (NotFound).
These are also the reads other apps build on (alerts, evidence, retention): messages by
customer, by employee, by time.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection
from django.db.models import BooleanField, QuerySet
from django.db.models.expressions import RawSQL
from django.utils.translation import gettext as _

from custos.access.scope import scope_of
from custos.archive.models import Conversation, ExternalContact, Message
from custos.core.errors import NotFound
from custos.org.models import Employee
from custos.org.selectors import get_unit

TRIGRAM = 3  # FTS5's trigram tokenizer and pg_trgm both need three characters to use the index
BIGRAM = 2  # PostgreSQL's index of bigrams (migration 0004) serves two-character terms


def conversations_visible(viewer: Employee) -> QuerySet[Conversation]:
    qs = Conversation.objects.select_related("employee", "employee__unit", "contact", "group")
    return scope_of(viewer).filter(qs, owner="employee_id", unit_path="employee__unit__path")


def messages_visible(viewer: Employee) -> QuerySet[Message]:
    qs = Message.objects.select_related("employee", "conversation")
    scope = scope_of(viewer)
    if scope.kind == "subtree":
        # The staff's ids rather than a join on their units' paths: given the list, the planner
        # can put a search's index beside it; through the join it walked every message of each
        # employee in turn (a region's search with a kind filter: 300+ ms at a million messages).
        staff = Employee.objects.filter(unit__path__startswith=scope.unit_path).order_by().values_list("pk", flat=True)
        return qs.filter(employee_id__in=list(staff))
    return scope.filter(qs, owner="employee_id", unit_path="employee__unit__path")


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


def _fts_phrase(term: str) -> str:
    return '"' + term.replace('"', '""') + '"'


def _match(qs: QuerySet[Message], term: str) -> QuerySet[Message]:
    if len(term) >= TRIGRAM and connection.vendor == "sqlite":
        ids = RawSQL("SELECT rowid FROM archive_message_fts WHERE archive_message_fts MATCH %s", [_fts_phrase(term)])
        return qs.filter(id__in=ids)
    if len(term) == BIGRAM and len(term.upper()) == BIGRAM and connection.vendor == "postgresql":
        # Two characters: the term is one bigram, so "its bigram is among the message's" is the
        # same as UPPER(search_text) LIKE '%term%', and the GIN index answers it. Only that: a
        # LIKE beside it would make the planner multiply two estimates of the same thing.
        return qs.filter(
            RawSQL(
                "archive_message.search_bigrams @> custos_bigrams(upper(%s))",
                [term],
                output_field=BooleanField(),
            )
        )
    # Three characters or more: UPPER(search_text) LIKE, which the pg_trgm index serves. One
    # character (a surname) falls back to a scan of the already filtered rows.
    return qs.filter(search_text__icontains=term)


def search(viewer: Employee, f: SearchFilters) -> QuerySet[Message]:
    """Messages, files and call notes in scope matching every word of f.q, newest first."""
    qs = messages_visible(viewer)
    for term in f.q.split()[:5]:
        qs = _match(qs, term[:100])
    if f.employee_id:
        qs = qs.filter(employee_id=f.employee_id)
    if f.customer_id:
        qs = qs.filter(customer_id=f.customer_id)
    if f.unit_id:
        qs = qs.filter(employee__unit__path__startswith=get_unit(viewer, f.unit_id).path)
    if f.kind:
        # An entry kind is namespaced (call.logged), a WeCom msgtype never is (image, redpacket):
        # the value says which column it is. One column, not an OR of two, which no index serves
        # and which the planner mis-estimated into reading every message of a region's staff.
        qs = qs.filter(kind=f.kind) if "." in f.kind else qs.filter(msgtype=f.kind)
    return _between(qs, f.since, f.until).order_by("-occurred_at", "-entry_seq")
