"""Reads of customer records, always through the viewer's scope.

own      sales and service staff: the customers they own
subtree  managers: customers whose home unit is theirs or below it
all      executives, admins and auditors

The public pool is the one widening: anyone may see the pool customers of their own unit, so
they can claim them (services.change_owner "claim").
"""

from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime

from django.db import connections
from django.db.models import Avg, Count, Exists, F, Func, OuterRef, Prefetch, Q, QuerySet, TextField
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access.scope import scope_of
from custos.core.errors import NotFound
from custos.customers import contacts, names
from custos.customers.models import Customer, CustomerContact, Feedback, FollowUp, Purchase, Tag
from custos.org.models import Employee, Unit
from custos.org.selectors import get_unit


def _in_use() -> QuerySet[CustomerContact]:
    return CustomerContact.objects.filter(removed_at__isnull=True)


def _base() -> QuerySet[Customer]:
    return Customer.objects.select_related("owner", "unit").prefetch_related(
        "tags", Prefetch("contacts", queryset=_in_use(), to_attr="contacts_in_use")
    )


def customers_visible(viewer: Employee) -> QuerySet[Customer]:
    scope = scope_of(viewer)
    if scope.kind == "subtree":
        # The units' ids rather than a join on their paths: with a store's id in hand the database
        # reads a page straight off the (unit, updated_at) index; through the join a deep page of a
        # store of 160,000 customers took 40+ ms.
        units = list(Unit.objects.filter(scope.q_units()).values_list("pk", flat=True))
        return scope.limit_customers(_base().filter(unit_id__in=units))
    return scope.filter(_base(), owner="owner_id", unit_path="unit__path")


def pool_visible(viewer: Employee) -> QuerySet[Customer]:
    """Pool customers the viewer may claim or manage: their scope's, or their own unit's."""
    scope = scope_of(viewer)
    if scope.kind == "own":
        scope = replace(scope, kind="subtree")
    if scope.kind == "none":
        return Customer.objects.none()
    return scope.filter(_base(), owner="owner_id", unit_path="unit__path").filter(
        status=Customer.Status.IN_POOL
    )


SEARCH_CONTAINS_FROM = 2  # characters; one alone matches from the start


@dataclass
class Filters:
    tag: str | None = None
    grade: str | None = None
    owner_id: int | None = None
    unit_id: int | None = None
    status: str | None = None
    kind: str | None = None
    contacted_before: datetime | None = None
    contacted_after: datetime | None = None
    follow_up_due: bool | None = None
    q: str | None = None
    phone: str | None = None
    phone_tail: str | None = None  # the last four digits (尾号)


def list_customers(viewer: Employee, filters: Filters | None = None) -> QuerySet[Customer]:
    """Customers in scope, newest change first. Archived ones only when asked for by status."""
    f = filters or Filters()
    qs = customers_visible(viewer)
    if f.status == Customer.Status.IN_POOL and scope_of(viewer).kind == "own":
        # Pool customers have no owner, so none is in an owner's own scope; said outright, the
        # database need not walk the whole table to find that out.
        return qs.none()
    qs = qs.filter(status=f.status) if f.status else qs.exclude(status=Customer.Status.ARCHIVED)
    if f.unit_id:
        qs = qs.filter(unit__path__startswith=get_unit(viewer, f.unit_id).path)
    if f.owner_id:
        qs = qs.filter(owner_id=f.owner_id)
    if f.grade:
        qs = qs.filter(grade=f.grade)
    if f.kind:
        qs = qs.filter(kind=f.kind)
    if f.tag:
        # The tag's id first, then EXISTS on the link table: joining through the tag name made
        # PostgreSQL walk every link of the tag and fetch each customer (300 ms at a million).
        tag_id = Tag.objects.filter(name=f.tag).values_list("pk", flat=True).first()
        if tag_id is None:
            return qs.none()
        links = Customer.tags.through.objects.filter(customer_id=OuterRef("pk"), tag_id=tag_id)
        qs = qs.filter(Exists(links))
    if f.contacted_before:
        qs = qs.filter(last_contact_at__lt=f.contacted_before)
    if f.contacted_after:
        qs = qs.filter(last_contact_at__gte=f.contacted_after)
    if f.follow_up_due is True:
        qs = qs.filter(next_follow_up_on__lte=timezone.localdate())
    elif f.follow_up_due is False:
        qs = qs.filter(Q(next_follow_up_on__isnull=True) | Q(next_follow_up_on__gt=timezone.localdate()))
    if f.q and (key := names.normalise(f.q)):
        # The stored key holds the name, its pinyin and initials (names.py): 宏达, hongda and hd
        # all find 宏达建材. One character matches from the start only (a surname), since "holds
        # 王" is half the company; two (宏达, 丽华) anywhere, as people expect.
        qs = (
            _name_contains(qs, key)
            if len(key) >= SEARCH_CONTAINS_FROM
            else qs.filter(search_key__startswith=key)
        )
    if f.phone:
        # Exact look-up through the blind index: the database never sees the number.
        blind = contacts.index(CustomerContact.Kind.PHONE, contacts.normalise_phone(f.phone))
        qs = qs.filter(
            pk__in=_in_use().filter(kind=CustomerContact.Kind.PHONE, blind_index=blind).values("customer_id")
        )
    if f.phone_tail:
        tail = contacts.tail_index(CustomerContact.Kind.PHONE, f.phone_tail)
        qs = qs.filter(
            pk__in=_in_use().filter(kind=CustomerContact.Kind.PHONE, tail_index=tail).values("customer_id")
        )
    return qs


def _name_contains(qs: QuerySet[Customer], key: str) -> QuerySet[Customer]:
    """Customers whose search key holds `key`. On PostgreSQL the rows holding every two-character
    piece of it come off the index customer_search_key_bigrams (migration 0009) and the LIKE confirms
    them: a trigram index can't serve a name of two characters, the commonest search."""
    qs = qs.filter(search_key__contains=key)
    if connections[qs.db].vendor != "postgresql":
        return qs
    from django.contrib.postgres.fields import ArrayField

    pieces = Func(F("search_key"), function="custos_bigrams", output_field=ArrayField(TextField()))
    return qs.alias(key_pieces=pieces).filter(key_pieces__contains=names.bigrams(key))


_ROW_FIELDS = (
    "id", "kind", "name", "grade", "status", "source", "owner_id", "unit_id", "completeness",
    "last_contact_at", "next_follow_up_on", "created_at", "updated_at",
)  # fmt: skip


def page_rows(customers: QuerySet[Customer], offset: int, limit: int) -> list[dict]:
    """A page of a customer list as plain rows (schemas.CustomerRow), in three queries.

    Model instances, with their owner and unit and prefetched tags and contacts, cost more than
    the database did on a page of 50; so does the profile, which a list does not show.
    """
    rows = list(
        customers.prefetch_related(None).values(
            *_ROW_FIELDS, owner_name=F("owner__name"), unit_name=F("unit__name")
        )[offset : offset + limit]
    )
    if not rows:
        return rows
    ids = [row["id"] for row in rows]
    tags: dict[int, list[str]] = defaultdict(list)
    links = Customer.tags.through.objects.filter(customer_id__in=ids).order_by("tag__name")
    for customer_id, name in links.values_list("customer_id", "tag__name"):
        tags[customer_id].append(name)
    phones: dict[int, str] = {}
    first_phones = _in_use().filter(customer_id__in=ids, kind=CustomerContact.Kind.PHONE).order_by("-id")
    for customer_id, masked in first_phones.values_list("customer_id", "masked"):
        phones[customer_id] = masked  # the lowest id wins, as on the customer's page
    for row in rows:
        row["tags"] = tags.get(row["id"], [])
        row["phone"] = phones.get(row["id"])
    return rows


def get_customer(viewer: Employee, customer_id: int) -> Customer:
    customer = customers_visible(viewer).filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("Customer not found."))
    return customer


def get_claimable(viewer: Employee, customer_id: int) -> Customer:
    customer = pool_visible(viewer).filter(pk=customer_id).first()
    if customer is None:
        raise NotFound(_("Customer not found."))
    return customer


def contacts_of(
    viewer: Employee, customer_id: int, *, include_removed: bool = False
) -> QuerySet[CustomerContact]:
    customer = get_customer(viewer, customer_id)
    qs = customer.contacts.select_related("customer")
    return qs if include_removed else qs.filter(removed_at__isnull=True)


def get_contact(viewer: Employee, customer_id: int, contact_id: int) -> CustomerContact:
    contact = contacts_of(viewer, customer_id, include_removed=True).filter(pk=contact_id).first()
    if contact is None:
        raise NotFound(_("Contact not found."))
    return contact


def follow_ups(viewer: Employee, customer_id: int) -> QuerySet[FollowUp]:
    return get_customer(viewer, customer_id).follow_ups.select_related("author")


def purchases(viewer: Employee, customer_id: int) -> QuerySet[Purchase]:
    return get_customer(viewer, customer_id).purchases.all()


def feedback(viewer: Employee, customer_id: int) -> QuerySet[Feedback]:
    return get_customer(viewer, customer_id).feedback.all()


def completeness_by_owner(viewer: Employee) -> list[dict]:
    """Per owner in scope: how many live customers, and how complete their files are on average."""
    rows = (
        customers_visible(viewer)
        .exclude(status=Customer.Status.ARCHIVED)
        .filter(owner__isnull=False)
        .order_by()
        .values("owner_id", "owner__name", "owner__unit__name")
        .annotate(customers=Count("id"), average=Avg("completeness"))
        .order_by("average", "owner__name")
    )
    return [
        {
            "owner_id": r["owner_id"],
            "owner_name": r["owner__name"],
            "unit_name": r["owner__unit__name"],
            "customers": r["customers"],
            "average": round(r["average"] or 0),
        }
        for r in rows
    ]


def home_counts(viewer: Employee) -> dict:
    live = customers_visible(viewer).exclude(status=Customer.Status.ARCHIVED).order_by()
    return {
        "customers": live.count(),
        "due": live.filter(next_follow_up_on__lte=timezone.localdate()).count(),
        "pool": pool_visible(viewer).order_by().count(),
    }
