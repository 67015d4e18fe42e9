"""Request and response shapes of the customers API.

Inputs are bounded where the database has bounds (64-bit ids, text lengths, NUL-free text
PostgreSQL can store, dates a calendar can hold), so a bad request is a 422, never a 500.
"""

from datetime import date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from ninja import Field, Schema
from pydantic import AfterValidator, BaseModel, StringConstraints

from custos.customers.models import Customer, CustomerContact, FollowUp

BIGINT = 2**63 - 1
Id = Annotated[int, Field(ge=1, le=BIGINT)]


def _no_nul(value: str) -> str:
    if "\x00" in value:
        raise ValueError("must not contain NUL characters")
    return value


def _sane_year(value):
    # Years a customer record can mean; also keeps time zone arithmetic inside the calendar.
    if not 1900 <= value.year <= 2200:
        raise ValueError("year must be between 1900 and 2200")
    return value


def Text(max_length: int, min_length: int = 0):  # a function that reads as a type in the schemas below
    return Annotated[
        str, StringConstraints(min_length=min_length, max_length=max_length), AfterValidator(_no_nul)
    ]


Day = Annotated[date, AfterValidator(_sane_year)]
Moment = Annotated[datetime, AfterValidator(_sane_year)]


# --- out ---------------------------------------------------------------------------------


class ContactOut(Schema):
    id: int
    kind: str
    label: str
    masked: str
    created_at: datetime


def _in_use(obj) -> list:
    found = getattr(obj, "contacts_in_use", None)
    return found if found is not None else list(obj.contacts.filter(removed_at__isnull=True))


class CustomerRow(BaseModel):
    """A customer as a list shows it, validated from the plain rows of selectors.page_rows.

    A pydantic model, not a ninja Schema: a page of rows needs no attribute look-ups or resolvers,
    which cost more than the page's queries (CustomerOut reads the same fields off an object).
    """

    id: int
    kind: str
    name: str
    grade: str
    status: str
    source: str
    owner_id: int | None
    owner_name: str | None = None
    unit_id: int
    unit_name: str
    tags: list[str]
    phone: str | None = Field(None, description="the first phone number, masked")
    completeness: int
    last_contact_at: datetime | None
    next_follow_up_on: date | None
    created_at: datetime
    updated_at: datetime


class CustomerOut(Schema, CustomerRow):
    unit_name: str = Field(..., alias="unit.name")

    @staticmethod
    def resolve_owner_name(obj):
        return obj.owner.name if obj.owner_id else None

    @staticmethod
    def resolve_tags(obj):
        return [t.name for t in obj.tags.all()]

    @staticmethod
    def resolve_phone(obj):
        return next((c.masked for c in _in_use(obj) if c.kind == CustomerContact.Kind.PHONE), None)


class CustomerDetail(CustomerOut):
    profile: dict[str, Any]
    contacts: list[ContactOut]
    created_by_id: int | None
    merged_into_id: int | None
    product_lines: list[str] = Field(default_factory=list, description="codes of the lines the customer buys")

    @staticmethod
    def resolve_product_lines(obj):
        return sorted(p.code for p in obj.product_lines.all())

    @staticmethod
    def resolve_contacts(obj):
        return _in_use(obj)


class RevealOut(Schema):
    contact_id: int
    kind: str
    value: str


class FollowUpOut(Schema):
    id: int
    kind: str
    content: str
    outcome: str
    occurred_at: datetime
    next_follow_up_on: date | None
    author_id: int
    author_name: str = Field(..., alias="author.name")


class PurchaseOut(Schema):
    id: int
    product: str
    amount: Decimal
    purchased_on: date
    note: str
    recorded_by_id: int | None


class FeedbackOut(Schema):
    id: int
    rating: int
    complaint: str
    created_at: datetime
    recorded_by_id: int | None


class TimelineOut(Schema):
    at: datetime
    type: Literal["follow_up", "purchase", "feedback", "event"]
    kind: str
    summary: str
    actor_id: int | None
    actor_name: str
    data: dict[str, Any]


class CompletenessOut(Schema):
    owner_id: int
    owner_name: str
    unit_name: str
    customers: int
    average: int


# --- in ----------------------------------------------------------------------------------


class ContactIn(Schema):
    kind: CustomerContact.Kind
    value: Text(200, 1)
    label: Text(40) = ""


class CustomerIn(Schema):
    kind: Customer.Kind = Customer.Kind.PERSON
    name: Text(100, 1)
    owner_id: Id | None = Field(None, description="default: you")
    unit_id: Id | None = Field(None, description="home unit; default: the owner's unit")
    grade: Text(8) = "C"
    source: Text(50) = ""
    tags: list[Text(20, 1)] = Field(default_factory=list, max_length=20)
    profile: dict[str, Any] = Field(
        default_factory=dict, description="see the PersonProfile and CompanyProfile shapes"
    )
    contacts: list[ContactIn] = Field(default_factory=list, max_length=20)


class CustomerPatch(Schema):
    name: Text(100, 1) | None = None
    grade: Text(8) | None = None
    source: Text(50) | None = None
    tags: list[Text(20, 1)] | None = Field(None, max_length=20)
    profile: dict[str, Any] | None = Field(
        None, description="sections to replace; a section set to null is removed"
    )
    next_follow_up_on: Day | None = None


class LinesIn(Schema):
    lines: list[Text(20, 1)] = Field(..., max_length=20, description="product line codes; empty: none")


class ReasonIn(Schema):
    reason: Text(200, 1)


class OptionalReasonIn(Schema):
    reason: Text(200) = ""


class OwnerIn(Schema):
    change: Literal["assign", "transfer", "claim", "recycle"]
    owner_id: Id | None = Field(None, description="who gets the customer (assign, transfer)")
    reason: Text(200) = ""


class MergeIn(Schema):
    duplicate_id: Id
    reason: Text(200, 1)


class FollowUpIn(Schema):
    kind: FollowUp.Kind
    content: Text(2000, 1)
    outcome: Text(200) = ""
    occurred_at: Moment | None = Field(None, description="default: now")
    next_follow_up_on: Day | None = None


class PurchaseIn(Schema):
    product: Text(100, 1)
    amount: Decimal = Field(..., ge=0, le=Decimal("9999999999.99"), decimal_places=2)
    purchased_on: Day | None = Field(None, description="default: today")
    note: Text(200) = ""


class FeedbackIn(Schema):
    rating: int = Field(..., ge=1, le=5)
    complaint: Text(2000) = ""


class CustomerFilters(Schema):
    tag: Text(20) | None = None
    grade: Text(8) | None = None
    owner_id: Id | None = None
    unit_id: Id | None = None
    status: Customer.Status | None = Field(None, description="default: everything but archived")
    kind: Customer.Kind | None = None
    contacted_before: Moment | None = Field(None, description="last contact before this time")
    contacted_after: Moment | None = Field(None, description="last contact at or after this time")
    follow_up_due: bool | None = Field(None, description="true: a follow-up is due today or overdue")
    q: Text(100) | None = Field(None, description="part of the name")
    phone: Text(40) | None = Field(None, description="a full phone number, matched exactly")


class TimelineFilters(Schema):
    limit: int = Field(50, ge=1, le=200)
    before: Moment | None = Field(None, description="items before this time (the `at` of the last item seen)")


class ExportIn(CustomerFilters):
    format: Literal["csv", "xlsx"] = "csv"


class ImportRowOut(Schema):
    row: int
    message: str


class ImportReportOut(Schema):
    would_create: int = 0
    duplicate_count: int = 0
    error_count: int = 0
    duplicates: list[ImportRowOut] = []
    errors: list[ImportRowOut] = []


class ImportJobOut(Schema):
    id: int
    filename: str
    status: str
    columns: list[str] = Field(..., alias="header")
    mapping: dict[str, str]
    report: ImportReportOut | None = None
    total: int
    done: int
    percent: int
    error: str
    created_at: datetime
    finished_at: datetime | None

    @staticmethod
    def resolve_report(obj):
        return obj.report or None


class ImportMappingIn(Schema):
    # field -> the sheet's column; empty: the usual headers are recognised
    mapping: dict[Text(20), Text(200)] = Field(default_factory=dict, max_length=40)
