"""Another store of the chain (连锁门店通用服务, seed 004): a customer of store A walks into store B.

Store B's staff find the customer company-wide by the full phone number (through the blind index:
the database never sees it) or the member card number, and see what serving them needs: grade,
home store, preferences and sizes, purchases, feedback and the kinds and dates of earlier
service. Never the contact fields, never the chats; the customer stays store A's. Each look-up,
found or not, is a `customer.chain_looked_up` ledger entry (the number itself is not in it,
only masked), which is also what lets the person open the customer's card for the next hours;
a day's look-ups per person are capped, so probing numbers one by one stops soon and shows.
"""

from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from custos.access.scope import scope_of
from custos.core.errors import Forbidden, InvalidInput, NotFound
from custos.customers import contacts
from custos.customers.models import Customer, CustomerContact, FollowUp
from custos.customers.selectors import customers_visible
from custos.customers.services import record
from custos.ledger.models import Entry
from custos.ledger.services import Event, append_batch
from custos.org.models import Employee, Role

KIND = "customer.chain_looked_up"
WHO_MAY = {Role.SALES, Role.SERVICE, Role.MANAGER}
OPEN_FOR = timedelta(hours=8)
SHOWN = 20
PREFERENCE_LABELS = {
    "sizes": gettext_lazy("Sizes"),
    "styles": gettext_lazy("Styles"),
    "colors": gettext_lazy("Colours"),
    "brands": gettext_lazy("Brands"),
    "budget": gettext_lazy("Budget"),
}


def per_day() -> int:
    return int(getattr(settings, "CUSTOS_CHAIN_LOOKUPS_PER_DAY", 50))


@dataclass
class ChainCard:
    customer_id: int
    name: str
    grade: str
    home_unit: str
    member_no: str
    in_scope: bool
    preferences: list[tuple[str, str]] = field(default_factory=list)
    purchases: list[dict] = field(default_factory=list)
    feedback: list[dict] = field(default_factory=list)
    service: list[dict] = field(default_factory=list)
    total_spent: Decimal = Decimal("0")
    last_purchase: date | None = None


def _require(viewer: Employee) -> None:
    if viewer.role not in WHO_MAY:
        raise Forbidden(_("Looking up another store's customer is for staff serving in a store."))


def _active() -> object:
    return CustomerContact.objects.filter(kind=CustomerContact.Kind.PHONE, removed_at__isnull=True)


def within_limits(viewer: Employee):
    """The company's customers within the viewer's product line and grade limits (any store): a
    line-limited buyer does not look up another line's customer; outside the limits is not found."""
    return scope_of(viewer).limit_customers(Customer.objects.all())


def look_up(*, viewer: Employee, phone: str = "", member_no: str = "") -> Customer:
    """The company's customer with this full phone number or member card; NotFound otherwise.
    Recorded either way."""
    _require(viewer)
    phone, member_no = (phone or "").strip(), (member_no or "").strip()
    if bool(phone) == bool(member_no):
        raise InvalidInput(_("Give either the customer's full phone number or their member card number."))
    since = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0)
    if Entry.objects.filter(kind=KIND, actor_id=viewer.pk, occurred_at__gte=since).count() >= per_day():
        raise Forbidden(
            _("You have looked up %(n)s customers of other stores today, the most a day allows. Ask your manager.")
            % {"n": per_day()}
        )
    customer, shown = None, ""
    if phone:
        normalised = contacts.normalise_phone(phone)  # InvalidInput says what is wrong with it
        shown = contacts.mask(CustomerContact.Kind.PHONE, normalised)
        blind = contacts.index(CustomerContact.Kind.PHONE, normalised)
        ids = _active().filter(blind_index=blind).values("customer_id")
        customer = within_limits(viewer).filter(pk__in=ids).exclude(status=Customer.Status.ARCHIVED).order_by("pk").first()
    else:
        shown = member_no[:2] + "***" + member_no[-2:] if len(member_no) > 4 else "***"
        customer = within_limits(viewer).filter(member_no=member_no).exclude(status=Customer.Status.ARCHIVED).first()
    append_batch(
        [
            Event(
                kind=KIND,
                payload={"by": "phone" if phone else "member_no", "shown": shown, "found": customer is not None,
                         "home_unit": customer.unit_id if customer else None, "viewer_unit": viewer.unit_id},
                actor_id=viewer.pk,
                unit_id=viewer.unit_id,
                customer_id=customer.pk if customer else None,
                source="console",
            )
        ]
    )  # fmt: skip
    if customer is None:
        raise NotFound(_("No customer of the company has this number."))
    return customer


def card(viewer: Employee, customer_id: int) -> ChainCard:
    """What store B may see of a customer this viewer looked up in the last hours."""
    in_scope = customers_visible(viewer).filter(pk=customer_id).exists()
    if not in_scope:
        _require(viewer)
        recent = Entry.objects.filter(
            kind=KIND, actor_id=viewer.pk, customer_id=customer_id, occurred_at__gte=timezone.now() - OPEN_FOR
        )
        if not recent.exists() or not within_limits(viewer).filter(pk=customer_id).exists():
            raise NotFound(_("Customer not found."))
    customer = Customer.objects.select_related("unit").get(pk=customer_id)
    profile = customer.profile or {}
    purchases = list(customer.purchases.order_by("-purchased_on", "-id").values("product", "amount", "purchased_on")[:SHOWN])
    totals = [p["amount"] for p in customer.purchases.values("amount")]
    return ChainCard(
        customer_id=customer.pk,
        name=customer.name,
        grade=customer.grade,
        home_unit=customer.unit.name,
        member_no=customer.member_no or "",
        in_scope=in_scope,
        preferences=[
            (str(PREFERENCE_LABELS.get(k, k)), "、".join(v) if isinstance(v, list) else str(v))
            for k, v in (profile.get("preferences") or {}).items()
            if v
        ],
        purchases=purchases,
        feedback=list(customer.feedback.order_by("-created_at").values("rating", "complaint", "created_at")[:SHOWN]),
        # The service record as kinds and dates: what staff wrote may hold what store B may not read.
        service=[
            {"kind": str(FollowUp.Kind(kind).label) if kind in FollowUp.Kind.values else kind, "occurred_at": at}
            for kind, at in customer.follow_ups.order_by("-occurred_at").values_list("kind", "occurred_at")[:SHOWN]
        ],
        total_spent=sum(totals, Decimal("0")),
        last_purchase=purchases[0]["purchased_on"] if purchases else None,
    )


def set_member_no(*, actor: Employee, customer: Customer, member_no: str) -> Customer:
    """Give a customer their member card number (unique in the company)."""
    from custos.customers import rules

    rules.require_editor(actor, customer)
    value = (member_no or "").strip() or None
    if value is not None and (len(value) > 40 or not value.isprintable() or " " in value):
        raise InvalidInput(_("A member card number is at most 40 letters and digits, without spaces."))
    if value and Customer.objects.filter(member_no=value).exclude(pk=customer.pk).exists():
        raise InvalidInput(_("Another customer already has this member card number."))
    old = customer.member_no
    if old == value:
        return customer
    customer.member_no = value
    customer.save(update_fields=["member_no", "updated_at"])
    record("customer.member_no_set", actor, customer, {"set": value is not None})
    return customer
