"""Request and response bodies of the handover API."""

from datetime import date, datetime
from typing import Annotated, Literal

from ninja import Field, Schema

from custos.customers.schemas import Id, Text

Weight = Annotated[float, Field(ge=0, le=1000)]
Strategy = Literal["manual", "round_robin", "weighted", "quota", "least_loaded", "by_rule"]


class CaseIn(Schema):
    employee_id: Id
    last_day: date
    reason: Text(200) = ""


class ReasonIn(Schema):
    reason: Text(200, 1)


class CaseOut(Schema):
    id: int
    employee_id: int
    employee_name: str = Field(..., alias="employee.name")
    unit_id: int
    status: str
    last_day: date
    reason: str
    opened_at: datetime
    frozen_at: datetime | None
    closed_at: datetime | None


class ItemOut(Schema):
    id: int
    kind: str
    ref: str
    customer_id: int | None
    label: str
    detail: dict
    done_at: datetime | None
    waived_at: datetime | None
    waived_reason: str


class CaseDetail(CaseOut):
    summary: dict
    items: list[ItemOut] = Field(..., alias="checklist_items")


class PlanIn(Schema):
    kind: Literal["handover", "transfer"]
    strategy: Strategy
    receiver_ids: list[Id] = Field(..., min_length=1, max_length=200)
    case_id: Id | None = None
    from_employee_id: Id | None = Field(None, description="transfer: whose customers move")
    customer_ids: list[Id] | None = Field(None, max_length=5000, description="only these customers (default: all)")
    weights: dict[str, Weight] | None = Field(None, description="weighted: employee id → weight")
    quota: int | None = Field(None, ge=1, le=10000)
    manual: dict[str, Id] | None = Field(None, description="manual: customer id → employee id")
    seed: int | None = Field(None, ge=0, le=2**62, description="weighted: replay a recorded draw")
    daily_cap: int | None = Field(None, ge=0, le=10000, description="per receiver today; 0: no cap")
    reason: Text(200) = ""


class MoveOut(Schema):
    customer_id: int
    customer_name: str = Field(..., alias="customer.name")
    grade: str = Field(..., alias="customer.grade")
    from_employee_id: int
    to_employee_id: int | None
    to_employee_name: str | None = None
    skipped_reason: str

    @staticmethod
    def resolve_to_employee_name(obj):
        return obj.to_employee.name if obj.to_employee_id else None


class PlanOut(Schema):
    id: int
    kind: str
    status: str
    strategy: str
    seed: int | None
    params: dict
    staff_moves: list[dict]
    case_id: int | None
    rotation_id: int | None
    created_at: datetime
    committed_at: datetime | None
    moves: list[MoveOut] = Field(..., alias="move_rows")


class RotationIn(Schema):
    name: Text(100, 1)
    unit_ids: list[Id] = Field(..., min_length=2, max_length=50, description="in rotation order")
    months: int | None = Field(None, ge=1, le=60)
    strategy: Literal["round_robin", "weighted", "least_loaded", "by_rule"] = "least_loaded"


class RotationOut(Schema):
    id: int
    name: str
    unit_order: list[int]
    months: int
    strategy: str
    last_rotated_on: date | None


class SeedIn(Schema):
    seed: int | None = Field(None, ge=0, le=2**62)


class TaskOut(Schema):
    id: int
    assignee_id: int
    customer_id: int
    customer_name: str = Field(..., alias="customer.name")
    plan_id: int
    message: str
    status: str
    created_at: datetime
    done_at: datetime | None


class PollIn(Schema):
    acknowledge: list[Id] = Field(default_factory=list, max_length=1000)


class CommandOut(Schema):
    id: int
    kind: str
    payload: dict


class PollOut(Schema):
    commands: list[CommandOut]
