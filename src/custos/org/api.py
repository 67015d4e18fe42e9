"""REST endpoints for units and employees."""

from datetime import date, datetime

from ninja import Field, Query, Router, Schema, Status
from ninja.pagination import paginate

from custos.api.auth import viewer
from custos.api.pagination import Page
from custos.org import product_lines, selectors, services
from custos.org.models import Employee, ProductLine, Role, Unit

router = Router(tags=["organisation"])


class UnitOut(Schema):
    id: int
    name: str
    kind: str
    parent_id: int | None
    path: str


class UnitIn(Schema):
    name: str = Field(..., min_length=1, max_length=100)
    kind: Unit.Kind = Unit.Kind.STORE
    parent_id: int | None = None


class UnitRename(Schema):
    name: str = Field(..., min_length=1, max_length=100)


class EmployeeOut(Schema):
    id: int
    name: str
    employee_no: str
    username: str = Field(..., alias="user.username")
    unit_id: int
    unit_name: str = Field(..., alias="unit.name")
    role: str
    status: str
    frozen: bool = Field(..., alias="is_frozen")
    hired_on: date | None
    last_day: date | None


class EmployeeIn(Schema):
    name: str = Field(..., min_length=1, max_length=60)
    username: str = Field(..., min_length=1, max_length=150, pattern=r"^[\w.@+-]+$")
    password: str = Field(..., min_length=8, max_length=128)
    unit_id: int
    role: Role = Role.SALES
    employee_no: str | None = Field(None, max_length=30)


class EmployeePatch(Schema):
    name: str = Field(..., min_length=1, max_length=60)


class MoveIn(Schema):
    unit_id: int
    reason: str = Field("", max_length=200)


class RoleIn(Schema):
    role: Role


class StatusIn(Schema):
    status: Employee.Status
    last_day: date | None = None


class FreezeIn(Schema):
    reason: str = Field(..., min_length=1, max_length=200)


class MoveOut(Schema):
    from_unit_id: int | None
    to_unit_id: int
    moved_at: datetime
    moved_by_id: int | None
    reason: str


class LineOut(Schema):
    id: int
    name: str
    code: str


class LineIn(Schema):
    name: str = Field(..., min_length=1, max_length=60)
    code: str = Field(..., min_length=1, max_length=20)


class LimitsIn(Schema):
    lines: list[str] = Field(
        default_factory=list, max_length=50, description="product line codes; empty: no limit"
    )
    grades: list[str] = Field(
        default_factory=list, max_length=20, description="customer grades; empty: no limit"
    )


class LimitsOut(Schema):
    employee_id: int
    lines: list[str]
    grades: list[str]


class EmployeeFilters(Schema):
    unit_id: int | None = None
    role: Role | None = None
    status: Employee.Status | None = None
    q: str | None = Field(None, max_length=100)


@router.get("/units", response=list[UnitOut], summary="Units in the caller's scope")
def list_units(request):
    return list(selectors.units_visible(viewer(request)))


@router.get("/units/{unit_id}", response=UnitOut)
def get_unit(request, unit_id: int):
    return selectors.get_unit(viewer(request), unit_id)


@router.post("/units", response={201: UnitOut})
def create_unit(request, body: UnitIn):
    me = viewer(request)
    parent = selectors.get_unit(me, body.parent_id) if body.parent_id else None
    return Status(201, services.create_unit(actor=me, name=body.name, kind=body.kind, parent=parent))


@router.patch("/units/{unit_id}", response=UnitOut)
def rename_unit(request, unit_id: int, body: UnitRename):
    me = viewer(request)
    return services.rename_unit(actor=me, unit=selectors.get_unit(me, unit_id), name=body.name)


@router.get("/employees", response=list[EmployeeOut], summary="Staff in the caller's scope")
@paginate(Page)
def list_employees(request, filters: Query[EmployeeFilters]):
    return selectors.list_employees(viewer(request), **filters.dict())


@router.get("/employees/{employee_id}", response=EmployeeOut)
def get_employee(request, employee_id: int):
    return selectors.get_employee(viewer(request), employee_id)


@router.get("/employees/{employee_id}/moves", response=list[MoveOut])
def employee_moves(request, employee_id: int):
    return list(selectors.unit_history(viewer(request), employee_id))


@router.post("/employees", response={201: EmployeeOut})
def create_employee(request, body: EmployeeIn):
    me = viewer(request)
    unit = selectors.get_unit(me, body.unit_id)
    employee = services.create_employee(
        actor=me,
        name=body.name,
        username=body.username,
        password=body.password,
        unit=unit,
        role=body.role,
        employee_no=body.employee_no,
    )
    return Status(201, employee)


def _target(request, employee_id: int) -> tuple[Employee, Employee]:
    me = viewer(request)
    return me, selectors.get_employee(me, employee_id)


@router.patch("/employees/{employee_id}", response=EmployeeOut)
def rename_employee(request, employee_id: int, body: EmployeePatch):
    me, target = _target(request, employee_id)
    return services.rename_employee(actor=me, employee=target, name=body.name)


@router.post("/employees/{employee_id}/move", response=EmployeeOut)
def move_employee(request, employee_id: int, body: MoveIn):
    me, target = _target(request, employee_id)
    unit = selectors.get_unit(me, body.unit_id)
    return services.move_employee(actor=me, employee=target, unit=unit, reason=body.reason)


@router.post("/employees/{employee_id}/role", response=EmployeeOut)
def change_role(request, employee_id: int, body: RoleIn):
    me, target = _target(request, employee_id)
    return services.change_role(actor=me, employee=target, role=body.role)


@router.post("/employees/{employee_id}/status", response=EmployeeOut)
def set_status(request, employee_id: int, body: StatusIn):
    me, target = _target(request, employee_id)
    return services.set_status(actor=me, employee=target, status=body.status, last_day=body.last_day)


@router.post("/employees/{employee_id}/freeze", response=EmployeeOut)
def freeze(request, employee_id: int, body: FreezeIn):
    me, target = _target(request, employee_id)
    return services.freeze(actor=me, employee=target, reason=body.reason)


@router.post("/employees/{employee_id}/unfreeze", response=EmployeeOut)
def unfreeze(request, employee_id: int):
    me, target = _target(request, employee_id)
    return services.unfreeze(actor=me, employee=target)


@router.get("/product-lines", response=list[LineOut], summary="The company's product lines")
def list_lines(request):
    viewer(request)
    return ProductLine.objects.all()


@router.post("/product-lines", response={201: LineOut}, summary="Add a product line (administrators)")
def create_line(request, body: LineIn):
    return Status(201, product_lines.create_line(actor=viewer(request), name=body.name, code=body.code))


def _limits(employee: Employee) -> dict:
    return {
        "employee_id": employee.pk,
        "lines": sorted(p.code for p in employee.limit_lines.all()),
        "grades": [g for g in employee.limit_grades.split(",") if g],
    }


@router.get(
    "/employees/{employee_id}/limits",
    response=LimitsOut,
    summary="Product lines and grades the employee is limited to",
)
def get_limits(request, employee_id: int):
    _me, target = _target(request, employee_id)
    return _limits(target)


@router.put(
    "/employees/{employee_id}/limits",
    response=LimitsOut,
    summary="Limit an employee to product lines and grades (administrators)",
)
def set_limits(request, employee_id: int, body: LimitsIn):
    me, target = _target(request, employee_id)
    return _limits(product_lines.set_limits(actor=me, employee=target, lines=body.lines, grades=body.grades))
