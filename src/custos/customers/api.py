"""REST endpoints for customer records, mounted at /api/v1/.

Reads go through selectors (scoped: outside the caller's scope a customer is a 404); writes
through services. Every write route refuses read-only callers (auditors) before it reads the
request body, so an auditor learns nothing from a write, not even whether the body was valid.
"""


from django.http import HttpResponse
from ninja import File, Path, Query, Router, Status, UploadedFile
from ninja.pagination import paginate

from custos.access import policy
from custos.api import auth
from custos.api.auth import viewer
from custos.api.pagination import CountAheadPage, Page
from custos.customers import activity, export, importer, imports, product_lines, selectors, services
from custos.customers.reveal import reveal_contact
from custos.customers.schemas import (
    BIGINT,
    CompletenessOut,
    ContactIn,
    ContactOut,
    CustomerDetail,
    CustomerFilters,
    CustomerIn,
    CustomerOut,
    CustomerPatch,
    CustomerRow,
    ExportIn,
    FeedbackIn,
    FeedbackOut,
    FollowUpIn,
    FollowUpOut,
    ImportJobOut,
    ImportMappingIn,
    LinesIn,
    MergeIn,
    OptionalReasonIn,
    OwnerIn,
    PurchaseIn,
    PurchaseOut,
    ReasonIn,
    RevealOut,
    Text,
    TimelineFilters,
    TimelineOut,
)
from custos.customers.services import UNSET, NewContact
from custos.customers.timeline import timeline
from custos.org.selectors import get_employee, get_unit

router = Router(tags=["customers"])


class _RefuseReadOnly:
    def authenticate(self, request, *args):
        employee = super().authenticate(request, *args)
        if employee is not None:
            policy.require_writer(employee)
        return employee


# Named as the API's own schemes, so the OpenAPI document lists one of each.
class PersonalToken(_RefuseReadOnly, auth.PersonalToken):
    pass


class ConsoleSession(_RefuseReadOnly, auth.ConsoleSession):
    pass


WRITERS = [PersonalToken(), ConsoleSession()]


class CustomerPage(CountAheadPage):
    def page_items(self, queryset, offset: int, limit: int) -> list:
        return selectors.page_rows(queryset, offset, limit)  # plain rows: a list at a million customers


CustomerId = Path(..., ge=1, le=BIGINT)
JobId = Path(..., ge=1, le=BIGINT)


def _owner(me, owner_id: int | None):
    # Anyone in the caller's scope (a salesperson sees only themself); the services decide the rest.
    return None if owner_id is None else get_employee(me, owner_id)


@router.get("/customers", response=list[CustomerRow], summary="Customers in the caller's scope")
@paginate(CustomerPage)
def list_customers(request, filters: Query[CustomerFilters]):
    return selectors.list_customers(viewer(request), selectors.Filters(**filters.dict()))


@router.get("/customers/pool", response=list[CustomerRow], summary="Pool customers the caller may claim")
@paginate(CustomerPage)
def list_pool(request):
    return selectors.pool_visible(viewer(request))


@router.get(
    "/customers/completeness", response=list[CompletenessOut], summary="Average file completeness per owner"
)
def completeness(request):
    return selectors.completeness_by_owner(viewer(request))


@router.post(
    "/customers/imports",
    response={201: ImportJobOut},
    auth=WRITERS,
    summary="Upload a .csv or .xlsx sheet to import: returns its columns and the mapping recognised",
)
def import_upload(request, file: File[UploadedFile]):
    me = viewer(request)
    importer.check_upload(file.name, file.size)  # before reading it: the size limit holds
    return Status(201, imports.upload(me, file.name, file.read()))


@router.get("/customers/imports/{job_id}", response=ImportJobOut, summary="An import of yours: dry run and progress")
def import_job(request, job_id: int = JobId):
    return imports.get_job(viewer(request), job_id)


@router.post(
    "/customers/imports/{job_id}/check",
    response=ImportJobOut,
    auth=WRITERS,
    summary="Dry run with a column mapping: would create, duplicates and errors by row number",
)
def import_check(request, body: ImportMappingIn, job_id: int = JobId):
    return imports.check(viewer(request), job_id, body.mapping)


@router.post(
    "/customers/imports/{job_id}/run",
    response={202: ImportJobOut},
    auth=WRITERS,
    summary="Import a checked sheet in the background, a batch at a time; poll the job for progress",
)
def import_run(request, job_id: int = JobId):
    return Status(202, imports.queue(viewer(request), job_id))


@router.post(
    "/customers/export",
    auth=WRITERS,
    summary="Download the customers in scope (managers): masked, watermarked, recorded in the ledger",
)
def export_customers(request, body: ExportIn):
    filters = body.dict()
    fmt = filters.pop("format")
    result = export.export_customers(viewer(request), selectors.Filters(**filters), fmt=fmt, source="api")
    response = HttpResponse(result.data, content_type=result.content_type)
    response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    response["Cache-Control"] = "no-store"
    return response


@router.post("/customers", response={201: CustomerDetail}, auth=WRITERS)
def create_customer(request, body: CustomerIn):
    me = viewer(request)
    unit = get_unit(me, body.unit_id) if body.unit_id is not None else None
    customer = services.create_customer(
        actor=me,
        kind=body.kind,
        name=body.name,
        owner=_owner(me, body.owner_id),
        unit=unit,
        grade=body.grade,
        source=body.source,
        tags=body.tags,
        profile=body.profile,
        contacts_in=[NewContact(c.kind, c.value, c.label) for c in body.contacts],
        ledger_source="api",
    )
    return Status(201, selectors.get_customer(me, customer.pk))


@router.get("/customers/{customer_id}", response=CustomerDetail)
def get_customer(request, customer_id: int = CustomerId):
    return selectors.get_customer(viewer(request), customer_id)


@router.patch("/customers/{customer_id}", response=CustomerDetail, auth=WRITERS)
def update_customer(request, body: CustomerPatch, customer_id: int = CustomerId):
    me = viewer(request)
    customer = selectors.get_customer(me, customer_id)
    services.update_customer(
        actor=me,
        customer=customer,
        name=body.name,
        grade=body.grade,
        source=body.source,
        tags=body.tags,
        profile=body.profile,
        next_follow_up_on=body.next_follow_up_on if "next_follow_up_on" in body.model_fields_set else UNSET,
        ledger_source="api",
    )
    return selectors.get_customer(me, customer_id)


@router.put("/customers/{customer_id}/product-lines", response=CustomerDetail, auth=WRITERS)
def set_product_lines(request, body: LinesIn, customer_id: int = CustomerId):
    me = viewer(request)
    product_lines.set_lines(actor=me, customer=selectors.get_customer(me, customer_id), codes=body.lines)
    return selectors.get_customer(me, customer_id)


@router.get("/customers/{customer_id}/contacts", response=list[ContactOut], summary="Contacts in use, masked")
def list_contacts(request, customer_id: int = CustomerId):
    return list(selectors.contacts_of(viewer(request), customer_id))


@router.post("/customers/{customer_id}/contacts", response={201: ContactOut}, auth=WRITERS)
def add_contact(request, body: ContactIn, customer_id: int = CustomerId):
    me = viewer(request)
    customer = selectors.get_customer(me, customer_id)
    return Status(
        201,
        services.add_contact(
            actor=me,
            customer=customer,
            kind=body.kind,
            value=body.value,
            label=body.label,
            ledger_source="api",
        ),
    )


@router.delete("/customers/{customer_id}/contacts/{contact_id}", response=ContactOut, auth=WRITERS)
def remove_contact(
    request,
    customer_id: int = CustomerId,
    contact_id: int = Path(..., ge=1, le=BIGINT),
    reason: Text(200) = "",
):
    me = viewer(request)
    contact = selectors.get_contact(me, customer_id, contact_id)
    return services.remove_contact(
        actor=me, customer=contact.customer, contact=contact, reason=reason, ledger_source="api"
    )


@router.post(
    "/customers/{customer_id}/contacts/{contact_id}/reveal",
    response=RevealOut,
    auth=WRITERS,
    summary="See a contact in clear: managers and the owner, with a reason; recorded and rate-limited",
)
def reveal(
    request, body: ReasonIn, customer_id: int = CustomerId, contact_id: int = Path(..., ge=1, le=BIGINT)
):
    me = viewer(request)
    contact = selectors.get_contact(me, customer_id, contact_id)
    value = reveal_contact(viewer=me, contact=contact, reason=body.reason, source="api")
    return {"contact_id": contact.pk, "kind": contact.kind, "value": value}


@router.post(
    "/customers/{customer_id}/owner",
    response=CustomerOut,
    auth=WRITERS,
    summary="Assign, transfer, claim or recycle: the one way a customer changes hands",
)
def change_owner(request, body: OwnerIn, customer_id: int = CustomerId):
    me = viewer(request)
    if body.change == services.CLAIM:
        customer = selectors.get_claimable(me, customer_id)
    else:
        customer = selectors.get_customer(me, customer_id)
    to = _owner(me, body.owner_id)
    return services.change_owner(
        actor=me, customer=customer, kind=body.change, to=to, reason=body.reason, ledger_source="api"
    )


@router.post("/customers/{customer_id}/archive", response=CustomerOut, auth=WRITERS)
def archive(request, body: ReasonIn, customer_id: int = CustomerId):
    me = viewer(request)
    return services.archive(
        actor=me, customer=selectors.get_customer(me, customer_id), reason=body.reason, ledger_source="api"
    )


@router.post("/customers/{customer_id}/restore", response=CustomerOut, auth=WRITERS)
def restore(request, body: OptionalReasonIn, customer_id: int = CustomerId):
    me = viewer(request)
    return services.restore(
        actor=me, customer=selectors.get_customer(me, customer_id), reason=body.reason, ledger_source="api"
    )


@router.post(
    "/customers/{customer_id}/merge",
    response=CustomerDetail,
    auth=WRITERS,
    summary="Merge the duplicate named in the body into this customer (managers)",
)
def merge(request, body: MergeIn, customer_id: int = CustomerId):
    me = viewer(request)
    survivor = selectors.get_customer(me, customer_id)
    duplicate = selectors.get_customer(me, body.duplicate_id)
    services.merge(actor=me, survivor=survivor, duplicate=duplicate, reason=body.reason, ledger_source="api")
    return selectors.get_customer(me, customer_id)


@router.get("/customers/{customer_id}/follow-ups", response=list[FollowUpOut])
@paginate(Page)
def list_follow_ups(request, customer_id: int = CustomerId):
    return selectors.follow_ups(viewer(request), customer_id)


@router.post("/customers/{customer_id}/follow-ups", response={201: FollowUpOut}, auth=WRITERS)
def add_follow_up(request, body: FollowUpIn, customer_id: int = CustomerId):
    me = viewer(request)
    follow_up = activity.add_follow_up(
        actor=me,
        customer=selectors.get_customer(me, customer_id),
        kind=body.kind,
        content=body.content,
        outcome=body.outcome,
        occurred_at=body.occurred_at,
        next_follow_up_on=body.next_follow_up_on,
        ledger_source="api",
    )
    return Status(201, follow_up)


@router.get("/customers/{customer_id}/purchases", response=list[PurchaseOut])
@paginate(Page)
def list_purchases(request, customer_id: int = CustomerId):
    return selectors.purchases(viewer(request), customer_id)


@router.post("/customers/{customer_id}/purchases", response={201: PurchaseOut}, auth=WRITERS)
def add_purchase(request, body: PurchaseIn, customer_id: int = CustomerId):
    me = viewer(request)
    purchase = activity.add_purchase(
        actor=me,
        customer=selectors.get_customer(me, customer_id),
        product=body.product,
        amount=body.amount,
        purchased_on=body.purchased_on,
        note=body.note,
        ledger_source="api",
    )
    return Status(201, purchase)


@router.get("/customers/{customer_id}/feedback", response=list[FeedbackOut])
@paginate(Page)
def list_feedback(request, customer_id: int = CustomerId):
    return selectors.feedback(viewer(request), customer_id)


@router.post("/customers/{customer_id}/feedback", response={201: FeedbackOut}, auth=WRITERS)
def add_feedback(request, body: FeedbackIn, customer_id: int = CustomerId):
    me = viewer(request)
    feedback = activity.add_feedback(
        actor=me,
        customer=selectors.get_customer(me, customer_id),
        rating=body.rating,
        complaint=body.complaint,
        ledger_source="api",
    )
    return Status(201, feedback)


@router.get(
    "/customers/{customer_id}/timeline",
    response=list[TimelineOut],
    summary="Follow-ups, purchases, feedback and ledger entries, newest first; page with `before`",
)
def customer_timeline(request, filters: Query[TimelineFilters], customer_id: int = CustomerId):
    return timeline(viewer(request), customer_id, limit=filters.limit, before=filters.before)
