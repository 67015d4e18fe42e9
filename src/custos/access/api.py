"""REST endpoints for the caller and for API tokens."""

from datetime import datetime

from ninja import Field, Router, Schema, Status

from custos.access import tokens
from custos.access.models import ApiToken
from custos.access.scope import scope_of
from custos.api.auth import viewer
from custos.org import selectors as org_selectors

router = Router(tags=["access"])


class MeOut(Schema):
    id: int
    name: str
    username: str
    role: str
    status: str
    unit_id: int
    unit_name: str
    scope: str
    read_only: bool


class TokenOut(Schema):
    id: int
    kind: str
    name: str
    prefix: str
    employee_id: int | None
    unit_id: int | None
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class TokenIssued(TokenOut):
    token: str = Field(..., description="The token in clear. Shown once; only its hash is kept.")


class TokenIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    kind: ApiToken.Kind = ApiToken.Kind.PERSONAL
    days: int | None = Field(90, ge=1, le=tokens.MAX_DAYS, description="Lifetime in days; null for no expiry")
    employee_id: int | None = Field(None, description="For a device token: the employee whose device it is")
    unit_id: int | None = Field(None, description="For an integration token: the unit it serves")


@router.get("/me", response=MeOut, summary="The caller and its scope")
def me(request):
    employee = viewer(request)
    scope = scope_of(employee)
    return MeOut(
        id=employee.pk,
        name=employee.name,
        username=employee.user.username,
        role=employee.role,
        status=employee.status,
        unit_id=employee.unit_id,
        unit_name=employee.unit.name,
        scope=scope.kind,
        read_only=scope.read_only,
    )


@router.get("/tokens", response=list[TokenOut])
def list_tokens(request):
    return list(tokens.tokens_visible(viewer(request)))


@router.post("/tokens", response={201: TokenIssued})
def issue_token(request, body: TokenIn):
    me = viewer(request)
    employee = org_selectors.get_employee(me, body.employee_id) if body.employee_id else None
    unit = org_selectors.get_unit(me, body.unit_id) if body.unit_id else None
    token, clear = tokens.issue(
        actor=me, kind=body.kind, name=body.name, days=body.days, employee=employee, unit=unit, source="api"
    )
    return Status(201, TokenIssued(**TokenOut.from_orm(token).dict(), token=clear))


@router.delete("/tokens/{token_id}", response=TokenOut)
def revoke_token(request, token_id: int):
    return tokens.revoke(actor=viewer(request), token_id=token_id)
