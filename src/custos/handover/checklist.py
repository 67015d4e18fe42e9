"""The departure checklist, made from the data and ticked by it.

`refresh` works out what is still pending for the leaver now, creates items for anything new and
marks done every item whose condition no longer holds (the customer was handed over, the
follow-up was logged, the file was completed, the customer got an answer, someone else joined the
group). Nobody ticks an item by hand; a manager may waive one, with a reason (services.waive).

Open deals and orders: Custos has no deals table yet, so an "open item" is a customer with a
follow-up planned in the future (a deal in progress) or a purchase in the last
CUSTOS_HANDOVER_RECENT_PURCHASE_DAYS days (an order still in delivery or after-sales). Either is
carried on once the customer has a new owner.
"""

from datetime import timedelta

from django.utils import timezone
from django.utils.translation import gettext as _

from custos.access.scope import scope_of
from custos.archive import selectors as archive_selectors
from custos.customers.models import Customer, Purchase
from custos.handover import config, conversation_facts
from custos.handover.models import ChecklistItem, DepartureCase

K = ChecklistItem.Kind
# Items that apps above handover add (the work phones to lock and wipe): kind → (label, pending),
# pending(case) giving {(kind, ref): {"label", "customer_id", "detail"}} as `pending` does.
_sources: dict[str, tuple] = {}


def register(kind: str, label, pending_items) -> None:
    _sources[kind] = (label, pending_items)


def kinds() -> list[tuple[str, str]]:
    return [*K.choices, *((kind, label) for kind, (label, _p) in _sources.items())]


def pending(case: DepartureCase) -> dict[tuple[str, str], dict]:
    """Every item that is not done now: (kind, ref) → label, customer id and details."""
    leaver_id = case.employee_id
    today = timezone.localdate()
    threshold = config.completeness_min()
    owned = list(
        Customer.objects.filter(owner_id=leaver_id).exclude(status=Customer.Status.ARCHIVED).order_by("id")
    )
    owned_ids = {c.pk for c in owned}
    recent = dict(
        Purchase.objects.filter(customer_id__in=owned_ids, purchased_on__gte=today - timedelta(days=config.recent_purchase_days()))
        .order_by("customer_id", "purchased_on")
        .values_list("customer_id", "purchased_on")
    )
    out: dict[tuple[str, str], dict] = {}

    def add(kind, ref, label, customer_id=None, **detail):
        out[(kind, str(ref))] = {"label": str(label)[:200], "customer_id": customer_id, "detail": detail}

    for c in owned:
        add(K.CUSTOMER, c.pk, c.name, c.pk, completeness=c.completeness, grade=c.grade)
        future = c.next_follow_up_on and c.next_follow_up_on > today
        if future or c.pk in recent:
            add(
                K.OPEN_ITEM,
                c.pk,
                c.name,
                c.pk,
                next_follow_up_on=c.next_follow_up_on.isoformat() if future else None,
                last_purchase_on=recent[c.pk].isoformat() if c.pk in recent else None,
            )
        if c.next_follow_up_on and c.next_follow_up_on <= today:
            add(K.FOLLOW_UP, c.pk, c.name, c.pk, due_on=c.next_follow_up_on.isoformat(), overdue=c.next_follow_up_on < today)
    # A file stays on the fill-in list after the handover: what only the leaver knew is lost once
    # they are gone, so it is done only when the file is complete enough (or a manager waives it).
    listed = set(case.items.filter(kind=K.FILL_IN).values_list("customer_id", flat=True))
    for c in Customer.objects.filter(pk__in=owned_ids | listed, completeness__lt=threshold).order_by("id"):
        add(K.FILL_IN, c.pk, c.name, c.pk, completeness=c.completeness, threshold=threshold)
    names = {c.pk: c.name for c in owned}
    unanswered = conversation_facts.unanswered(leaver_id)
    # A contact with no customer record yet is named as WeCom or the phone book had it, never by its key.
    contact_names = archive_selectors.contact_names(u.contact for u in unanswered if u.contact)
    for u in unanswered:
        if u.customer_id is None or u.customer_id in owned_ids:
            label = names.get(u.customer_id) or contact_names.get(u.contact) or _unnamed(u.contact)
            add(K.UNANSWERED, u.conversation, label, u.customer_id, last_at=u.last_at.isoformat())
    for g in conversation_facts.groups(leaver_id):
        if not g.covered:
            add(K.GROUP, g.group, g.name, None, created_at=g.created_at.isoformat())
    for _label, pending_items in _sources.values():
        out.update(pending_items(case))
    return out


def _unnamed(contact: str) -> str:
    return _("A caller with no customer record") if contact.startswith("tel_") else _("A WeCom contact with no customer record")


def refresh(case: DepartureCase, viewer=None) -> dict:
    """Bring the stored checklist in line with the data; returns counts by state (the viewer's:
    see `summary`)."""
    if not case.is_live:
        return summary(case, viewer)
    now = timezone.now()
    wanted = pending(case)
    existing = {(i.kind, i.ref): i for i in case.items.all()}
    new = [
        ChecklistItem(case=case, kind=kind, ref=ref, customer_id=v["customer_id"], label=v["label"], detail=v["detail"])
        for (kind, ref), v in wanted.items()
        if (kind, ref) not in existing
    ]
    ChecklistItem.objects.bulk_create(new)
    for key, item in existing.items():
        if key in wanted:
            v = wanted[key]
            if item.done_at is not None or item.detail != v["detail"] or item.label != v["label"]:
                item.done_at, item.detail, item.label = None, v["detail"], v["label"]
                item.save(update_fields=["done_at", "detail", "label"])
        elif item.done_at is None:
            item.done_at = now
            item.save(update_fields=["done_at"])
    DepartureCase.objects.filter(pk=case.pk).update(checked_at=now)
    case.checked_at = now
    return summary(case, viewer)


def summary(case: DepartureCase, viewer=None) -> dict:
    """Counts by state; given the viewer, of the items they may see (a viewer limited to product
    lines or grades does not count the other customers' items)."""
    counts = {"total": 0, "done": 0, "waived": 0, "open": 0}
    by_kind: dict[str, dict] = {k: {"total": 0, "open": 0} for k, _label in kinds()}
    items = case.items.all()
    if viewer is not None:
        items = scope_of(viewer).limit_customers(items)
    for kind, done_at, waived_at in items.values_list("kind", "done_at", "waived_at"):
        counts["total"] += 1
        by_kind[kind]["total"] += 1
        if done_at is not None:
            counts["done"] += 1
        elif waived_at is not None:
            counts["waived"] += 1
        else:
            counts["open"] += 1
            by_kind[kind]["open"] += 1
    counts["by_kind"] = by_kind
    return counts
