"""Every write to a customer record. Each runs in one transaction with its ledger entry.

Ownership changes only through `change_owner`; nothing is deleted (archive, remove a contact
and merge all keep the rows). `actor` None is the system (demo); everything a person does
names them.
"""

import contextlib
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access import policy
from custos.access.scope import scope_of
from custos.core import crypto
from custos.core.errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from custos.customers import completeness, contacts, names, product_lines, profiles, rules
from custos.customers.models import Customer, CustomerContact, Feedback, FollowUp, Purchase, Tag
from custos.ledger.services import Event, append_batch
from custos.org.models import Employee, Unit

SOURCE = "console"
MAX_TAGS = 20
UNSET = object()


@dataclass(frozen=True)
class NewContact:
    kind: str
    value: str
    label: str = ""


def grades() -> list[str]:
    return list(getattr(settings, "CUSTOS_CUSTOMER_GRADES", ["A", "B", "C", "D"]))


def _event(kind: str, actor: Employee | None, customer: Customer, payload: dict, source: str) -> Event:
    return Event(
        kind=kind,
        payload=payload,
        actor_id=actor.pk if actor else None,
        unit_id=customer.unit_id,
        customer_id=customer.pk,
        source=source,
    )


def record(
    kind: str, actor: Employee | None, customer: Customer, payload: dict, source: str = SOURCE
) -> None:
    append_batch([_event(kind, actor, customer, payload, source)])


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput(_("A customer needs a name."))
    if len(name) > 100 or "\x00" in name:
        raise InvalidInput(_("A customer's name is at most 100 characters."))
    profiles.refuse_phone_numbers(name)
    return name


def _clean_grade(grade: str) -> str:
    grade = (grade or "").strip().upper()
    if grade not in grades():
        raise InvalidInput(
            _("Unknown grade %(grade)s; grades are %(all)s.") % {"grade": grade, "all": ", ".join(grades())}
        )
    return grade


def _clean_source(source: str) -> str:
    source = " ".join((source or "").split())
    if len(source) > 50 or "\x00" in source:
        raise InvalidInput(_("The source is at most 50 characters."))
    return source


def _tag_names(names: Iterable[str]) -> list[str]:
    clean = []
    for name in names or ():
        name = " ".join(str(name).split())
        if not name:
            continue
        if len(name) > 20 or "\x00" in name:
            raise InvalidInput(_("A tag is at most 20 characters."))
        if name not in clean:
            clean.append(name)
    if len(clean) > MAX_TAGS:
        raise InvalidInput(_("At most %(n)d tags.") % {"n": MAX_TAGS})
    return clean


def check_own_fields(*, name: str, source: str = "", tags: Iterable[str] = ()) -> None:
    """The checks create_customer(s) make of a customer's name, source and tags, without the
    database: an importer's dry run makes them, so a row it accepts is not refused half-way."""
    _clean_name(name)
    _clean_source(source)
    _tag_names(tags)


def _tag_objects(clean: Iterable[str]) -> dict[str, Tag]:
    """Tags by name, made where missing (names already checked by _tag_names)."""
    clean = list(clean)
    if not clean:
        return {}
    existing = {t.name: t for t in Tag.objects.filter(name__in=clean)}
    missing = [Tag(name=n) for n in clean if n not in existing]
    if missing:
        Tag.objects.bulk_create(missing, ignore_conflicts=True)
        existing = {t.name: t for t in Tag.objects.filter(name__in=clean)}
    return existing


def _tags(names: Iterable[str]) -> list[Tag]:
    clean = _tag_names(names)
    objects = _tag_objects(clean)
    return [objects[n] for n in clean]


def _refresh_completeness(customer: Customer) -> None:
    customer.completeness = completeness.score_of(customer)
    Customer.objects.filter(pk=customer.pk).update(completeness=customer.completeness)


def require_live(customer: Customer) -> None:
    if customer.status == Customer.Status.ARCHIVED:
        raise Conflict(_("This customer is archived; restore it first."))


# --- contacts ---------------------------------------------------------------------------


def holder_units(kind: str, blinds: Iterable[str]) -> dict[str, str]:
    """For blind indexes of `kind` in use, the name of the unit whose customer holds each."""
    found: dict[str, str] = {}
    blinds = list(blinds)
    for i in range(0, len(blinds), 500):
        rows = (
            CustomerContact.objects.filter(
                kind=kind, blind_index__in=blinds[i : i + 500], removed_at__isnull=True
            )
            .order_by()
            .values_list("blind_index", "customer__unit__name")
        )
        found.update(rows)
    return found


def duplicate_conflict(kind: str, unit_name: str) -> Conflict:
    """The Conflict for a contact in use: it names the unit, never who holds it or the number."""
    label = CustomerContact.Kind(kind).label
    return Conflict(
        _("This %(kind)s already belongs to a customer of %(unit)s.") % {"kind": label, "unit": unit_name},
        code="duplicate_contact",
    )


def _holder_conflict(kind: str, blind: str, actor: Employee | None = None) -> Conflict | None:
    """The Conflict for a contact in use. A holder the actor may see is named, so they can open
    that record (merge it, or ask its owner); any other is only said to be a unit's."""
    holder = (
        CustomerContact.objects.filter(kind=kind, blind_index=blind, removed_at__isnull=True)
        .select_related("customer", "customer__unit")
        .first()
    )
    if holder is None:
        return None
    customer = holder.customer
    if actor is not None and rules.in_scope(actor, customer):
        label = CustomerContact.Kind(kind).label
        conflict = Conflict(
            _("This %(kind)s already belongs to your customer %(name)s (%(unit)s).")
            % {"kind": label, "name": customer.name, "unit": customer.unit.name},
            code="duplicate_contact",
        )
        conflict.customer_id = customer.pk
        return conflict
    return duplicate_conflict(kind, customer.unit.name)


def check_contact_free(kind: str, value: str, actor: Employee | None = None) -> str:
    """Normalise `value` and make sure no customer uses it; returns the normalised value."""
    normalised = contacts.normalise(kind, value)
    blind = contacts.index(kind, normalised)
    if blind and (conflict := _holder_conflict(kind, blind, actor)):
        raise conflict
    return normalised


def _insert_contact(actor: Employee | None, customer: Customer, new: NewContact) -> CustomerContact:
    normalised = check_contact_free(new.kind, new.value, actor)
    label = " ".join((new.label or "").split())
    if len(label) > 40 or "\x00" in label:
        raise InvalidInput(_("A contact label is at most 40 characters."))
    profiles.refuse_phone_numbers(label)
    sealed = contacts.seal(customer.pk, new.kind, normalised)
    try:
        with transaction.atomic():
            return CustomerContact.objects.create(
                customer=customer,
                kind=new.kind,
                label=label,
                value_encrypted=sealed.value_encrypted,
                blind_index=sealed.blind_index,
                tail_index=sealed.tail_index,
                masked=sealed.masked,
                created_by=actor,
            )
    except IntegrityError as exc:
        # Someone added the same number a moment ago: the unique index caught it.
        raise _holder_conflict(new.kind, sealed.blind_index, actor) or Conflict(
            _("This contact is already in use.")
        ) from exc


def _contact_payload(contact: CustomerContact) -> dict:
    return {"contact": contact.pk, "kind": contact.kind, "label": contact.label, "masked": contact.masked}


@transaction.atomic
def add_contact(
    *,
    actor: Employee,
    customer: Customer,
    kind: str,
    value: str,
    label: str = "",
    ledger_source: str = SOURCE,
) -> CustomerContact:
    rules.require_editor(actor, customer)
    require_live(customer)
    contact = _insert_contact(actor, customer, NewContact(kind, value, label))
    _refresh_completeness(customer)
    record("customer.contact_added", actor, customer, _contact_payload(contact), ledger_source)
    return contact


@transaction.atomic
def remove_contact(
    *,
    actor: Employee,
    customer: Customer,
    contact: CustomerContact,
    reason: str = "",
    ledger_source: str = SOURCE,
) -> CustomerContact:
    """Take a contact out of use. The encrypted value stays: a number wiped by someone about to
    leave can still be recovered by a manager.

    Always with a reason; a phone number only by a manager, since a salesperson removing the
    numbers of their customers is how a departure empties the files (issue 23)."""
    rules.require_editor(actor, customer)
    require_live(customer)
    if contact.customer_id != customer.pk:
        raise InvalidInput(_("This contact belongs to another customer."))
    if contact.kind == CustomerContact.Kind.PHONE and not rules.may_manage(actor):
        raise Forbidden(_("Only a manager may remove a phone number."))
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput(_("Say why this contact is removed."))
    if contact.removed:
        raise Conflict(_("This contact was already removed."))
    contact.removed_at, contact.removed_by = timezone.now(), actor
    contact.save(update_fields=["removed_at", "removed_by"])
    _refresh_completeness(customer)
    record(
        "customer.contact_removed",
        actor,
        customer,
        {**_contact_payload(contact), "reason": reason[:200]},
        ledger_source,
    )
    return contact


# --- create and update ------------------------------------------------------------------


def _resolve_owner_and_unit(
    actor: Employee | None, owner: Employee | None, unit: Unit | None
) -> tuple[Employee, Unit]:
    if actor is None:
        if owner is None:
            raise InvalidInput(_("A customer needs an owner."))
        return owner, unit or owner.unit
    owner = owner or actor
    if owner.pk != actor.pk and actor.role not in rules.MANAGERS:
        raise Forbidden(_("Only managers may create customers for someone else."))
    rules.require_may_own(actor, owner)
    unit = unit or owner.unit
    scope = scope_of(actor)
    if unit.pk != actor.unit_id and not scope.covers_unit(unit):
        raise NotFound(_("Unit not found."))
    return owner, unit


@transaction.atomic
def create_customer(
    *,
    actor: Employee | None,
    name: str,
    kind: str = Customer.Kind.PERSON,
    owner: Employee | None = None,
    unit: Unit | None = None,
    grade: str = "C",
    source: str = "",
    tags: Iterable[str] = (),
    profile: dict | None = None,
    contacts_in: Iterable[NewContact] = (),
    ledger_source: str = SOURCE,
) -> Customer:
    """Create a customer owned by `owner` (default: the actor) in `unit` (default: the owner's).

    A phone, WeChat or WeCom id already used by any customer of the company is refused with a
    Conflict naming the unit that holds it.
    """
    if actor is not None:
        policy.require_writer(actor)
    if kind not in Customer.Kind.values:
        raise InvalidInput(_("Unknown customer kind: %(kind)s") % {"kind": kind})
    owner, unit = _resolve_owner_and_unit(actor, owner, unit)
    product_lines.require_grade_in_reach(actor, _clean_grade(grade))
    customer = Customer.objects.create(
        kind=kind,
        name=_clean_name(name),
        owner=owner,
        unit=unit,
        grade=_clean_grade(grade),
        source=_clean_source(source),
        profile=profiles.clean(kind, profile or {}),
        created_by=actor,
    )
    tag_objects = _tags(tags)
    if tag_objects:
        customer.tags.add(*tag_objects)
    product_lines.give_actors_lines(actor, customer)
    added = [_insert_contact(actor, customer, c) for c in contacts_in]
    # The contacts just added are all it has: no need to read them back.
    customer.completeness = completeness.score(kind, customer.profile, {c.kind for c in added})
    Customer.objects.filter(pk=customer.pk).update(completeness=customer.completeness)
    record("customer.created", actor, customer, _created_payload(customer, tag_objects, added), ledger_source)
    return customer


def _created_payload(customer: Customer, tag_objects: list[Tag], added: list[CustomerContact]) -> dict:
    return {
        "customer": customer.pk,
        "kind": customer.kind,
        "name": customer.name,
        "owner": customer.owner_id,
        "unit": customer.unit_id,
        "grade": customer.grade,
        "source": customer.source,
        "tags": [t.name for t in tag_objects],
        "profile": customer.profile,
        "contacts": [_contact_payload(c) for c in added],
    }


def _build_one(
    actor: Employee, item: dict, number: int, resolved: dict, taken: dict
) -> tuple[Customer, list[str], list[tuple[NewContact, str | None]]]:
    """create_customers' checks of one item: the unsaved customer, its tag names and contacts."""
    kind = item.get("kind", Customer.Kind.PERSON)
    if kind not in Customer.Kind.values:
        raise InvalidInput(_("Unknown customer kind: %(kind)s") % {"kind": kind})
    key = (getattr(item.get("owner"), "pk", None), getattr(item.get("unit"), "pk", None))
    if key not in resolved:
        resolved[key] = _resolve_owner_and_unit(actor, item.get("owner"), item.get("unit"))
    owner, unit = resolved[key]
    wanted = []
    for new in item.get("contacts_in", ()):
        normalised = contacts.normalise(new.kind, new.value)
        label = " ".join((new.label or "").split())
        if len(label) > 40 or "\x00" in label:
            raise InvalidInput(_("A contact label is at most 40 characters."))
        profiles.refuse_phone_numbers(label)
        blind = contacts.index(new.kind, normalised)
        if blind is not None:
            if (new.kind, blind) in taken:
                raise Conflict(
                    _("The same %(kind)s is given twice.") % {"kind": CustomerContact.Kind(new.kind).label}
                )
            taken[(new.kind, blind)] = number
        wanted.append((NewContact(new.kind, normalised, label), blind))
    profile = profiles.clean(kind, item.get("profile") or {})
    name = _clean_name(item.get("name", ""))
    customer = Customer(
        kind=kind,
        name=name,
        search_key=names.search_key(name),  # bulk_create does not call save()
        owner=owner,
        unit=unit,
        grade=_clean_grade(item.get("grade", "C")),
        source=_clean_source(item.get("source", "")),
        profile=profile,
        completeness=completeness.score(kind, profile, {c.kind for c, _b in wanted}),
        created_by=actor,
    )
    return customer, _tag_names(item.get("tags", ())), wanted


@transaction.atomic
def create_customers(*, actor: Employee, items: list[dict], ledger_source: str = SOURCE) -> list[Customer]:
    """Create many customers at once (an import): the checks of create_customer for every item,
    then one insert per table and one ledger batch. All or nothing: one bad item, a number
    already in use, or the same number twice, and nothing is created.

    Each item holds create_customer's keyword arguments (name, kind, owner, unit, grade, source,
    tags, profile, contacts_in), and may hold product_lines (ids; default: a line-limited actor's own).
    """
    policy.require_writer(actor)
    built: list[tuple[Customer, list[str], list[tuple[NewContact, str]]]] = []
    resolved: dict[tuple, tuple[Employee, Unit]] = {}
    taken: dict[tuple[str, str], int] = {}
    lines: list[list[int]] = []  # each item's product lines: named, or the actor's own
    for number, item in enumerate(items):
        try:
            built.append(_build_one(actor, item, number, resolved, taken))
            lines.append(product_lines.lines_for_new(actor, item.get("product_lines")))
        except DomainError as exc:
            exc.item = number  # which item was wrong: an importer names its row
            raise
    for kind in contacts.INDEXED:
        held = holder_units(kind, [b for (k, b) in taken if k == kind])
        if held:
            blind, unit_name = next(iter(held.items()))
            conflict = duplicate_conflict(kind, unit_name)
            conflict.item = taken[(kind, blind)]
            raise conflict

    tag_objects = _tag_objects({name for _c, names, _w in built for name in names})
    made = Customer.objects.bulk_create([c for c, _n, _w in built], batch_size=500)
    rows = []
    for customer, _names, wanted in built:
        for new, blind in wanted:
            sealed = contacts.seal(customer.pk, new.kind, new.value)
            rows.append(
                CustomerContact(
                    customer=customer,
                    kind=new.kind,
                    label=new.label,
                    value_encrypted=sealed.value_encrypted,
                    blind_index=blind,
                    tail_index=sealed.tail_index,
                    masked=sealed.masked,
                    created_by=actor,
                )
            )
    try:
        with transaction.atomic():
            CustomerContact.objects.bulk_create(rows, batch_size=1000)
    except IntegrityError as exc:
        # Someone added one of these numbers since the check above.
        raise Conflict(_("This contact is already in use.")) from exc
    through = Customer.tags.through
    through.objects.bulk_create(
        [
            through(customer_id=c.pk, tag_id=tag_objects[" ".join(n.split())].pk)
            for c, names, _w in built
            for n in names
        ],
        batch_size=1000,
    )
    line_through = Customer.product_lines.through
    line_through.objects.bulk_create(
        [
            line_through(customer_id=c.pk, productline_id=line_id)
            for (c, _n, _w), ids in zip(built, lines, strict=True)
            for line_id in ids
        ],
        batch_size=1000,
    )
    by_customer: dict[int, list[CustomerContact]] = {}
    for row in rows:
        by_customer.setdefault(row.customer_id, []).append(row)
    append_batch(
        [
            _event(
                "customer.created",
                actor,
                c,
                _created_payload(
                    c,
                    [tag_objects[" ".join(n.split())] for n in dict.fromkeys(names)],
                    by_customer.get(c.pk, []),
                ),
                ledger_source,
            )
            for c, names, _w in built
        ]
    )
    return made


@transaction.atomic
def update_customer(
    *,
    actor: Employee,
    customer: Customer,
    name: str | None = None,
    grade: str | None = None,
    source: str | None = None,
    tags: Iterable[str] | None = None,
    profile: dict | None = None,
    next_follow_up_on=UNSET,
    ledger_source: str = SOURCE,
) -> Customer:
    """Change the file. `profile` is applied section by section: a section given replaces that
    section, a section given as null removes it, sections not given stay."""
    rules.require_editor(actor, customer)
    require_live(customer)
    changed: dict = {}

    def change(field: str, value):
        old = getattr(customer, field)
        if value != old:
            changed[field] = {
                "from": old.isoformat() if isinstance(old, date) else old,
                "to": value.isoformat() if isinstance(value, date) else value,
            }
            setattr(customer, field, value)

    if name is not None:
        change("name", _clean_name(name))
    if grade is not None:
        product_lines.require_grade_in_reach(actor, _clean_grade(grade))
        change("grade", _clean_grade(grade))
    if source is not None:
        change("source", _clean_source(source))
    if next_follow_up_on is not UNSET:
        change("next_follow_up_on", next_follow_up_on)
    if profile is not None:
        new_profile = profiles.merged(customer.kind, customer.profile, profile)
        if new_profile != customer.profile:
            sections = sorted(
                k
                for k in set(new_profile) | set(customer.profile)
                if new_profile.get(k) != customer.profile.get(k)
            )
            changed["profile"] = {k: new_profile.get(k) for k in sections}
            customer.profile = new_profile
    if tags is not None:
        tag_objects = _tags(tags)
        old_tags = sorted(customer.tags.values_list("name", flat=True))
        if sorted(t.name for t in tag_objects) != old_tags:
            customer.tags.set(tag_objects)
            changed["tags"] = {"from": old_tags, "to": [t.name for t in tag_objects]}
    if not changed:
        return customer
    customer.save()
    _refresh_completeness(customer)
    record("customer.updated", actor, customer, {"changed": changed}, ledger_source)
    return customer


# --- ownership --------------------------------------------------------------------------

ASSIGN, TRANSFER, CLAIM, RECYCLE = "assign", "transfer", "claim", "recycle"
# Transfers made by the handover app: a leaver's customers, or a rotation's (轮岗).
HANDOVER, ROTATION = "handover", "rotation"
OWNER_CHANGES = (ASSIGN, TRANSFER, CLAIM, RECYCLE, HANDOVER, ROTATION)
MOVES = (TRANSFER, HANDOVER, ROTATION)


def _claimable(actor: Employee, customer: Customer) -> bool:
    """A pool customer of the actor's own unit (or below it) may be claimed by them."""
    return customer.status == Customer.Status.IN_POOL and customer.unit.path.startswith(actor.unit.path)


@transaction.atomic
def change_owner(
    *,
    actor: Employee,
    customer: Customer,
    kind: str,
    to: Employee | None = None,
    reason: str = "",
    ledger_source: str = SOURCE,
    pool_checked: bool = False,
    extra: dict | None = None,
) -> Customer:
    """The one way a customer changes hands.

    assign    a manager gives a pool customer to someone (分配)
    transfer  a manager moves an owned customer to someone else (在职/离职继承)
    claim     someone takes a pool customer of their unit for themselves (领取)
    recycle   the owner or a manager puts the customer back into the pool (回收)
    handover, rotation   a transfer made by a departure case or a rotation (custos.handover)

    pool_checked: custos.pool has already decided that the actor may claim from this customer's
    pool (a region's or the company's pool reaches beyond the actor's own unit).
    extra: more payload keys for the entry (the pool's: `pool`, `allocation`).
    """
    policy.require_writer(actor)
    if kind not in OWNER_CHANGES:
        raise InvalidInput(_("Unknown ownership change: %(kind)s") % {"kind": kind})
    reason = " ".join((reason or "").split())[:200]
    if customer.status == Customer.Status.ARCHIVED:
        raise Conflict(_("This customer is archived; restore it first."))
    old_owner_id, old_unit_id = customer.owner_id, customer.unit_id

    if kind == CLAIM:
        if not (pool_checked or _claimable(actor, customer) or rules.in_scope(actor, customer)):
            raise NotFound(_("Customer not found."))
        if customer.status != Customer.Status.IN_POOL:
            raise Conflict(_("Only a customer in the pool can be claimed."))
        rules.require_may_own(actor, actor)
        to = actor
    elif kind == RECYCLE:
        rules.require_in_scope(actor, customer)
        if customer.owner_id != actor.pk and actor.role not in rules.MANAGERS:
            raise Forbidden(_("Only the owner or a manager may put a customer back into the pool."))
        if customer.status == Customer.Status.IN_POOL:
            raise Conflict(_("This customer is already in the pool."))
        to = None
    else:
        rules.require_manager(actor, customer)
        if to is None:
            raise InvalidInput(_("Say who the customer goes to."))
        rules.require_may_own(actor, to)
        if kind == ASSIGN and customer.status != Customer.Status.IN_POOL:
            raise Conflict(_("Only a customer in the pool can be assigned; transfer an owned one."))
        if kind in MOVES and customer.status == Customer.Status.IN_POOL:
            raise Conflict(_("This customer is in the pool; assign it instead."))
        if to.pk == customer.owner_id:
            raise Conflict(_("%(name)s already owns this customer.") % {"name": to.name})

    if to is None:
        customer.owner, customer.status = None, Customer.Status.IN_POOL
    else:
        # A customer belongs to the unit of the person who works with them.
        customer.owner, customer.unit, customer.status = to, to.unit, Customer.Status.ACTIVE
    customer.save(update_fields=["owner", "unit", "status", "updated_at"])
    record(
        "customer.owner_changed",
        actor,
        customer,
        {
            "change": kind,
            "from": old_owner_id,
            "to": customer.owner_id,
            "from_unit": old_unit_id,
            "to_unit": customer.unit_id,
            "reason": reason,
            **(extra or {}),
        },
        ledger_source,
    )
    return customer


@dataclass(frozen=True)
class Recycle:
    """One customer the pool's job takes back: from whom (it moves only if still theirs), why."""

    customer_id: int
    owner_id: int
    reason: str
    extra: dict


def _recycle_rows(wanted: dict, now) -> list[tuple[int, int, int]]:
    """Move the rows still owned as the rule saw them; returns (customer, old owner, unit) of each moved."""
    from django.db import connection

    table = connection.ops.quote_name(Customer._meta.db_table)
    if connection.vendor == "postgresql":
        # One statement: the UPDATE locks each row, re-checks it after any concurrent change
        # (READ COMMITTED re-evaluates the WHERE on the new row) and says which rows it moved.
        ids = sorted(wanted)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS c SET owner_id = NULL, status = %s, updated_at = %s "  # noqa: S608 - names from the model
                "FROM unnest(%s::bigint[], %s::bigint[]) AS m(id, owner) "
                # The id range as well: the unnest's size is unknown to the planner, which
                # otherwise may scan the whole table for each batch (slower the bigger the table).
                "WHERE c.id = m.id AND c.id BETWEEN %s AND %s AND c.owner_id = m.owner AND c.status = %s "
                "RETURNING c.id, m.owner, c.unit_id",
                [
                    Customer.Status.IN_POOL.value,
                    now,
                    ids,
                    [wanted[i].owner_id for i in ids],
                    ids[0],
                    ids[-1],
                    Customer.Status.ACTIVE.value,
                ],
            )
            return sorted(cursor.fetchall())
    rows = list(
        Customer.objects.select_for_update()
        .filter(pk__in=list(wanted), status=Customer.Status.ACTIVE)
        .order_by("pk")
        .values_list("pk", "owner_id", "unit_id")
    )
    done = [
        (pk, owner, unit) for pk, owner, unit in rows if owner is not None and owner == wanted[pk].owner_id
    ]
    if done:
        Customer.objects.filter(pk__in=[pk for pk, _o, _u in done]).update(
            owner=None, status=Customer.Status.IN_POOL, updated_at=now
        )
    return done


def recycle_many(moves: list[Recycle], *, ledger_source: str = "pool", day: date | None = None) -> list[dict]:
    """Put many customers back into the pool at once, for the pool's recycle job (no actor: the rules).

    The per-customer path (change_owner) costs a few queries each; at a million customers the
    nightly job needs set-based writes: the rows are locked in id order, only those still owned
    by the owner the rule saw move (so a run repeated or racing a claim moves each once), one
    UPDATE, one ledger batch with a `customer.owner_changed` (change recycle) per customer.
    Returns the moves made: {customer, from, unit, reason, extra}.
    """
    if not moves:
        return []
    day = day or timezone.localdate()
    wanted = {m.customer_id: m for m in moves}
    with transaction.atomic():
        done = _recycle_rows(wanted, timezone.now())
        if not done:
            return []
        events, out = [], []
        for pk, owner, unit in done:
            m = wanted[pk]
            payload = {
                "change": RECYCLE,
                "from": owner,
                "to": None,
                "from_unit": unit,
                "to_unit": unit,
                "reason": m.reason,
                **m.extra,
            }
            events.append(
                Event(
                    kind="customer.owner_changed",
                    payload=payload,
                    actor_id=None,
                    unit_id=unit,
                    customer_id=pk,
                    source=ledger_source,
                    # One move per customer, owner and day: a retried batch appends nothing twice.
                    source_id=f"recycle:{pk}:{owner}:{day.isoformat()}",
                )
            )
            out.append({"customer": pk, "from": owner, "unit": unit, "reason": m.reason, "extra": m.extra})
        append_batch(events)
    return out


# --- archive, restore, merge ------------------------------------------------------------


def _reason(reason: str) -> str:
    reason = " ".join((reason or "").split())
    if not reason:
        raise InvalidInput(_("Give a reason."))
    return reason[:200]


@transaction.atomic
def archive(*, actor: Employee, customer: Customer, reason: str, ledger_source: str = SOURCE) -> Customer:
    rules.require_manager(actor, customer)
    reason = _reason(reason)
    if customer.status == Customer.Status.ARCHIVED:
        raise Conflict(_("This customer is already archived."))
    old = customer.status
    customer.status = Customer.Status.ARCHIVED
    customer.save(update_fields=["status", "updated_at"])
    record("customer.archived", actor, customer, {"from_status": old, "reason": reason}, ledger_source)
    return customer


@transaction.atomic
def restore(
    *, actor: Employee, customer: Customer, reason: str = "", ledger_source: str = SOURCE
) -> Customer:
    rules.require_manager(actor, customer)
    if customer.status != Customer.Status.ARCHIVED:
        raise Conflict(_("This customer is not archived."))
    if customer.merged_into_id:
        raise Conflict(_("This record was merged into another customer and stays archived."))
    owner = customer.owner
    customer.status = Customer.Status.ACTIVE if owner and owner.may_sign_in else Customer.Status.IN_POOL
    if customer.status == Customer.Status.IN_POOL:
        customer.owner = None
    customer.save(update_fields=["status", "owner", "updated_at"])
    payload = {"to_status": customer.status, "reason": (reason or "")[:200]}
    record("customer.restored", actor, customer, payload, ledger_source)
    return customer


def _reseal(contact: CustomerContact, survivor: Customer) -> None:
    value = contacts.open_value(contact)
    contact.value_encrypted = crypto.encrypt(value, aad=contacts.aad(survivor.pk, contact.kind))
    contact.customer = survivor
    contact.save(update_fields=["value_encrypted", "customer"])


@transaction.atomic
def merge(
    *, actor: Employee, survivor: Customer, duplicate: Customer, reason: str, ledger_source: str = SOURCE
) -> Customer:
    """Fold `duplicate` into `survivor`: its contacts, follow-ups, purchases, feedback, tags and
    whatever its profile knew that the survivor's did not. The duplicate is archived, pointing
    at the survivor; both get a ledger entry."""
    rules.require_manager(actor, survivor)
    rules.require_manager(actor, duplicate)
    reason = _reason(reason)
    if survivor.pk == duplicate.pk:
        raise InvalidInput(_("A customer cannot be merged into itself."))
    if duplicate.merged_into_id or survivor.merged_into_id:
        raise Conflict(_("One of these records was already merged."))
    require_live(survivor)
    if survivor.kind != duplicate.kind:
        raise InvalidInput(_("A person and a company cannot be merged."))

    moved_contacts = list(duplicate.contacts.filter(removed_at__isnull=True))
    for contact in moved_contacts:
        _reseal(contact, survivor)
    moved = {
        "contacts": len(moved_contacts),
        "follow_ups": FollowUp.objects.filter(customer=duplicate).update(customer=survivor),
        "purchases": Purchase.objects.filter(customer=duplicate).update(customer=survivor),
        "feedback": Feedback.objects.filter(customer=duplicate).update(customer=survivor),
    }
    survivor.tags.add(*duplicate.tags.all())
    # Should the two together exceed a limit (say, too many styles), the survivor's file wins.
    with contextlib.suppress(InvalidInput):
        survivor.profile = profiles.clean(
            survivor.kind, profiles.fill_gaps(survivor.profile, duplicate.profile)
        )
    times = [t for t in (survivor.last_contact_at, duplicate.last_contact_at) if t]
    survivor.last_contact_at = max(times) if times else None
    dues = [d for d in (survivor.next_follow_up_on, duplicate.next_follow_up_on) if d]
    survivor.next_follow_up_on = min(dues) if dues else None
    survivor.save()
    _refresh_completeness(survivor)

    duplicate.status, duplicate.merged_into = Customer.Status.ARCHIVED, survivor
    duplicate.save(update_fields=["status", "merged_into", "updated_at"])
    append_batch(
        [
            _event(
                "customer.merged",
                actor,
                survivor,
                {"duplicate": duplicate.pk, "reason": reason, "moved": moved},
                ledger_source,
            ),
            _event(
                "customer.merged_into",
                actor,
                duplicate,
                {"survivor": survivor.pk, "reason": reason},
                ledger_source,
            ),
        ]
    )
    return survivor
