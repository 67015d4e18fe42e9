"""REST endpoints of the chain look-up (custos.customers.chain): /api/v1/chain/..."""

from datetime import date, datetime
from decimal import Decimal

from ninja import Field, Path, Router, Schema

from custos.api.auth import viewer
from custos.customers import chain
from custos.customers.api import WRITERS
from custos.customers.schemas import BIGINT

router = Router(tags=["customers"])


class LookUpIn(Schema):
    phone: str = Field("", max_length=40, description="the customer's full phone number")
    member_no: str = Field("", max_length=40, description="or their member card number")


class PurchaseOut(Schema):
    product: str
    amount: Decimal
    purchased_on: date


class FeedbackOut(Schema):
    rating: int
    complaint: str
    created_at: datetime


class ServiceOut(Schema):
    kind: str
    occurred_at: datetime


class CardOut(Schema):
    customer_id: int
    name: str
    grade: str
    home_unit: str
    member_no: str
    in_scope: bool
    preferences: list[tuple[str, str]]
    purchases: list[PurchaseOut]
    feedback: list[FeedbackOut]
    service: list[ServiceOut]
    total_spent: Decimal
    last_purchase: date | None


@router.post(
    "/chain/look-up",
    response=CardOut,
    summary="Find a customer of another store by full phone or member card (recorded; no contact details)",
)
def look_up(request, body: LookUpIn):
    me = viewer(request)
    customer = chain.look_up(viewer=me, phone=body.phone, member_no=body.member_no)
    return chain.card(me, customer.pk)


@router.get("/chain/{customer_id}", response=CardOut, summary="A customer this caller looked up in the last hours")
def card(request, customer_id: int = Path(..., ge=1, le=BIGINT)):
    return chain.card(viewer(request), customer_id)


class MemberNoIn(Schema):
    member_no: str = Field("", max_length=40, description="empty to remove")


@router.post(
    "/customers/{customer_id}/member-no", response=CardOut, auth=WRITERS, summary="Set a customer's member card number"
)
def set_member_no(request, body: MemberNoIn, customer_id: int = Path(..., ge=1, le=BIGINT)):
    from custos.customers.selectors import get_customer

    me = viewer(request)
    customer = chain.set_member_no(actor=me, customer=get_customer(me, customer_id), member_no=body.member_no)
    return chain.card(me, customer.pk)
