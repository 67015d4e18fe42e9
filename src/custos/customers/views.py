"""Console pages for customer records: the list, a customer's file, and the forms that change it."""

import functools

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from custos.console.decorators import console_view
from custos.core import paging
from custos.core.errors import Conflict, Forbidden, InvalidInput
from custos.core.paging import page_ahead
from custos.core.query import id_or_none
from custos.customers import activity, export, forms, importer, imports, rules, search, selectors, services
from custos.customers.models import Customer
from custos.customers.reveal import reveal_contact
from custos.customers.services import NewContact
from custos.customers.timeline import timeline
from custos.org.models import Role
from custos.org.selectors import employees_visible, get_employee, units_visible

PAGE_SIZE = 25
POOL_BADGE_CAP = 999  # the pool button says "999+" beyond
NUL = "\x00"
FILTER_KEYS = ("q", "grade", "status", "kind", "tag", "unit", "owner", "due")


def _nul_free(view):
    """PostgreSQL cannot store a NUL character: a form holding one is refused with a message, and
    one in a search or filter of the address is dropped, rather than failing in the database."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if request.method == "POST" and any(NUL in v for _k, values in request.POST.lists() for v in values):
            raise InvalidInput(_("The text holds a NUL character (\\0), which cannot be stored. Remove it and try again."))
        if any(NUL in v for _k, values in request.GET.lists() for v in values):
            cleaned = request.GET.copy()
            for key, values in request.GET.lists():
                cleaned.setlist(key, [v.replace(NUL, "") for v in values])
            request.GET = cleaned
        return view(request, *args, **kwargs)

    return wrapper


def customer_view(view):
    return console_view(_nul_free(view))


def _unit_choices(viewer):
    return [(u.pk, ("— " * u.depth) + u.name) for u in units_visible(viewer)]


def _owner_choices(viewer):
    """Who a manager may give customers to: active staff in scope, auditors aside."""
    staff = employees_visible(viewer).filter(frozen_at__isnull=True).exclude(role=Role.AUDITOR)
    return [(e.pk, f"{e.name} · {e.unit.name}") for e in staff.exclude(status="departed")]



def _with_phone(customers) -> None:
    for c in customers:
        c.phone_masked = next((k.masked for k in c.contacts_in_use if k.kind == "phone"), "")


def _filters(params) -> selectors.Filters:
    """The list's filters; the search box reads as a name, a phone number or its last four digits."""
    query = search.read((params.get("q") or "")[:100])
    return selectors.Filters(
        q=query.value if query and query.kind == "name" else None,
        phone=query.value if query and query.kind == "phone" else None,
        phone_tail=query.value if query and query.kind == "tail" else None,
        grade=params.get("grade") if params.get("grade") in services.grades() else None,
        status=params.get("status") if params.get("status") in Customer.Status.values else None,
        kind=params.get("kind") if params.get("kind") in Customer.Kind.values else None,
        tag=(params.get("tag") or "").strip()[:20] or None,
        unit_id=id_or_none(params.get("unit")),
        owner_id=id_or_none(params.get("owner")),
        follow_up_due=True if params.get("due") == "1" else None,
    )


@customer_view
def customer_list(request):
    me = request.viewer
    params = request.GET
    query = params.copy()
    query.pop("page", None)
    page = page_ahead(selectors.list_customers(me, _filters(params)), PAGE_SIZE, params.get("page"))
    _with_phone(page)
    searched = search.read((params.get("q") or "")[:100])
    if searched and searched.kind != "name":
        search.record(me, searched, page.paginator.count)
    context = {
        "page": page,
        "filters": params,
        # Pairs, not the QueryDict: a template's `filters.items` would read a key named "items".
        "export_filters": [(key, params[key]) for key in FILTER_KEYS if params.get(key)],
        "query": query.urlencode(),
        "grades": services.grades(),
        "statuses": Customer.Status.choices,
        "kinds": Customer.Kind.choices,
        "units": _unit_choices(me),
        "can_create": rules.may_edit(me),
        "can_export": rules.may_manage(me),
        "pool": paging.count_ahead(selectors.pool_visible(me), 0, POOL_BADGE_CAP),
        "today": timezone.localdate(),
    }
    template = "customers/_rows.html" if request.htmx else "customers/list.html"
    return render(request, template, context)


@customer_view
def customer_create(request):
    me = request.viewer
    owners = _owner_choices(me) if rules.may_manage(me) else None
    form = forms.CustomerForm(
        request.POST or None, grades=services.grades(), owners=owners, initial={"grade": "C", "owner": me.pk}
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        owner_id = data.get("owner")
        try:
            customer = services.create_customer(
                actor=me,
                kind=data["kind"],
                name=data["name"],
                owner=get_employee(me, owner_id) if owner_id and owner_id != me.pk else None,
                grade=data["grade"],
                source=data["source"],
                tags=forms.split_list(data["tags"]),
                contacts_in=[NewContact(kind, value) for kind, value in form.contacts()],
            )
        except (InvalidInput, Conflict, Forbidden) as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Customer %(name)s created.") % {"name": customer.name})
            return redirect("customers:detail", customer_id=customer.pk)
    return render(request, "customers/form.html", {"form": form, "title": _("New customer")})


@customer_view
def customer_detail(request, customer_id: int):
    me = request.viewer
    customer = selectors.get_customer(me, customer_id)
    can_edit = rules.may_edit(me)
    can_manage = rules.may_manage(me)
    return render(
        request,
        "customers/detail.html",
        {
            "customer": customer,
            "contacts": customer.contacts_in_use,
            # The number people call, at the top of the page where a phone's first screen shows it.
            "phone": next((k for k in customer.contacts_in_use if k.kind == "phone"), None),
            "today": timezone.localdate(),
            "timeline": timeline(me, customer.pk, limit=50),
            "can_edit": can_edit and customer.status != Customer.Status.ARCHIVED,
            "can_manage": can_manage,
            "can_reveal": rules.may_reveal(me, customer),
            "follow_up_form": forms.FollowUpForm(),
            "contact_form": forms.ContactForm(),
            "purchase_form": forms.PurchaseForm(),
            "feedback_form": forms.FeedbackForm(),
            "owners": _owner_choices(me) if can_manage else [],
            "line_choices": _line_choices(customer),
        },
    )


def _line_choices(customer) -> list[tuple[str, str, bool]]:
    from custos.org.models import ProductLine

    chosen = set(customer.product_lines.values_list("pk", flat=True))
    return [(p.code, p.name, p.pk in chosen) for p in ProductLine.objects.all()]


@customer_view
def customer_edit(request, customer_id: int):
    me = request.viewer
    customer = selectors.get_customer(me, customer_id)
    rules.require_editor(me, customer)
    form_class = forms.PROFILE_FORMS[customer.kind]
    initial = {
        "name": customer.name,
        "grade": customer.grade,
        "source": customer.source,
        "tags": "，".join(t.name for t in customer.tags.all()),
        **form_class.initial_from(customer),
    }
    form = form_class(request.POST or None, initial=initial)
    form.fields["grade"].choices = [(g, g) for g in services.grades()]
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            services.update_customer(
                actor=me,
                customer=customer,
                name=data["name"],
                grade=data["grade"],
                source=data["source"],
                tags=forms.split_list(data["tags"]),
                # Every section the form shows is given; what it emptied is pruned away.
                profile=form.profile(customer.profile),
            )
        except (InvalidInput, Conflict) as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("Saved."))
            return redirect("customers:detail", customer_id=customer.pk)
    return render(
        request, "customers/form.html", {"form": form, "title": customer.name, "customer": customer}
    )


@never_cache
@require_POST
@customer_view
def contact_reveal(request, customer_id: int, contact_id: int):
    """The value in clear, on a page that is not cached, never in a URL or the session."""
    me = request.viewer
    contact = selectors.get_contact(me, customer_id, contact_id)
    try:
        value = reveal_contact(viewer=me, contact=contact, reason=request.POST.get("reason", ""))
    except (Forbidden, InvalidInput) as exc:
        if not request.htmx:
            raise
        # In place of the value, so the page around it stays as it was.
        return render(request, "customers/_revealed.html", {"contact": contact, "error": exc.message})
    context = {"customer": contact.customer, "contact": contact, "value": value}
    template = "customers/_revealed.html" if request.htmx else "customers/revealed.html"
    return render(request, template, context)


def _form_error(form) -> InvalidInput:
    first = next(iter(form.errors.items()))
    label = form.fields[first[0]].label if first[0] in form.fields else ""
    return InvalidInput(f"{label}: {first[1][0]}" if label else first[1][0])


@require_POST
@customer_view
def customer_action(request, customer_id: int, action: str):
    me = request.viewer
    data = request.POST
    if action == "claim":
        customer = selectors.get_claimable(me, customer_id)
    else:
        customer = selectors.get_customer(me, customer_id)
    if action == "product-lines":
        from custos.customers import product_lines

        product_lines.set_lines(actor=me, customer=customer, codes=data.getlist("lines"))
        messages.success(request, _("Saved."))
    elif action == "follow-up":
        form = forms.FollowUpForm(data)
        if not form.is_valid():
            raise _form_error(form)
        activity.add_follow_up(actor=me, customer=customer, **form.cleaned_data)
        messages.success(request, _("Follow-up recorded."))
    elif action == "contact":
        form = forms.ContactForm(data)
        if not form.is_valid():
            raise _form_error(form)
        services.add_contact(actor=me, customer=customer, **form.cleaned_data)
        messages.success(request, _("Contact added."))
    elif action == "remove-contact":
        contact_id = id_or_none(data.get("contact"))
        contact = selectors.get_contact(me, customer.pk, contact_id or 0)
        services.remove_contact(actor=me, customer=customer, contact=contact, reason=data.get("reason", ""))
        messages.success(request, _("Contact removed."))
    elif action == "purchase":
        form = forms.PurchaseForm(data)
        if not form.is_valid():
            raise _form_error(form)
        activity.add_purchase(actor=me, customer=customer, **form.cleaned_data)
        messages.success(request, _("Purchase recorded."))
    elif action == "feedback":
        form = forms.FeedbackForm(data)
        if not form.is_valid():
            raise _form_error(form)
        activity.add_feedback(actor=me, customer=customer, **form.cleaned_data)
        messages.success(request, _("Feedback recorded."))
    elif action in ("transfer", "assign"):
        owner_id = id_or_none(data.get("owner"))
        if owner_id is None:
            raise InvalidInput(_("Choose who gets the customer."))
        to = get_employee(me, owner_id)
        services.change_owner(actor=me, customer=customer, kind=action, to=to, reason=data.get("reason", ""))
        messages.success(request, _("%(name)s now owns this customer.") % {"name": to.name})
    elif action in ("recycle", "claim"):
        services.change_owner(actor=me, customer=customer, kind=action, reason=data.get("reason", ""))
        messages.success(request, _("Claimed.") if action == "claim" else _("Put back into the pool."))
        if action == "recycle" and not rules.in_scope(me, customer):
            return redirect("customers:list")
    elif action == "archive":
        services.archive(actor=me, customer=customer, reason=data.get("reason", ""))
        messages.success(request, _("Archived."))
    elif action == "restore":
        services.restore(actor=me, customer=customer, reason=data.get("reason", ""))
        messages.success(request, _("Restored."))
    elif action == "merge":
        duplicate = selectors.get_customer(me, id_or_none(data.get("duplicate")) or 0)
        services.merge(actor=me, survivor=customer, duplicate=duplicate, reason=data.get("reason", ""))
        messages.success(request, _("Merged %(name)s into this customer.") % {"name": duplicate.name})
    else:
        raise InvalidInput(_("Unknown action."))
    return redirect("customers:detail", customer_id=customer.pk)


@customer_view
def pool(request):
    me = request.viewer
    page = page_ahead(selectors.pool_visible(me), PAGE_SIZE, request.GET.get("page"))
    _with_phone(page)
    return render(request, "customers/pool.html", {"page": page, "can_claim": rules.may_edit(me)})


@customer_view
def completeness(request):
    rows = selectors.completeness_by_owner(request.viewer)
    return render(request, "customers/completeness.html", {"rows": rows})


@require_POST
@customer_view
def customer_export(request):
    """The list as filtered on the page, as a watermarked file; the ledger records who took it."""
    fmt = request.POST.get("format", "csv")
    result = export.export_customers(request.viewer, _filters(request.POST), fmt=fmt)
    response = HttpResponse(result.data, content_type=result.content_type)
    response["Content-Disposition"] = f'attachment; filename="{result.filename}"'
    response["Cache-Control"] = "no-store"
    return response


# --- import --------------------------------------------------------------------------------

FIELD_LABELS = {
    "name": _lazy("Name"),
    "kind": _lazy("Person or company"),
    "grade": _lazy("Grade"),
    "source": _lazy("Source"),
    "tags": _lazy("Tags"),
    "phone": _lazy("Phone"),
    "phone2": _lazy("Second phone"),
    "wechat": _lazy("WeChat"),
    "wecom": _lazy("WeCom"),
    "address": _lazy("Address"),
    "owner": _lazy("Owner"),
    "product_lines": _lazy("Product lines"),
    "gender": _lazy("Gender"),
    "birthday": _lazy("Birthday"),
    "occupation": _lazy("Occupation"),
    "sizes": _lazy("Sizes"),
    "styles": _lazy("Styles"),
    "budget": _lazy("Budget"),
    "notes": _lazy("Notes"),
}


@customer_view
def import_start(request):
    """Upload a sheet; the next page maps its columns and runs the dry run."""
    me = request.viewer
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            messages.error(request, _("Choose a .csv or .xlsx file to import."))
            return redirect("customers:import")
        try:
            importer.check_upload(upload.name, upload.size)  # before reading: the size limit holds
            job = imports.upload(me, upload.name, upload.read())
        except InvalidInput as exc:
            messages.error(request, exc.message)
            return redirect("customers:import")
        return redirect("customers:import_job", job_id=job.pk)
    return render(
        request,
        "customers/import.html",
        {
            "jobs": imports.recent_jobs(me),
            "max_mb": importer.max_upload_bytes() // 2**20,
            "max_rows": importer.MAX_ROWS,
        },
    )


def _job_context(job):
    editable = job.status in ("uploaded", "checked")
    return {
        "job": job,
        "preview": imports.preview(job) if editable else [],
        "fields": [(f, FIELD_LABELS[f], job.mapping.get(f, "")) for f in importer.FIELDS],
        "editable": job.status in ("uploaded", "checked"),
    }


def _csv(name: str, header: list[str], rows: list[list[str]]) -> HttpResponse:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    # A cell starting with = + - @ would be a formula in Excel: kept as text.
    writer.writerows([[("'" + c) if c[:1] in "=+-@" else c for c in row] for row in rows])
    response = HttpResponse("\ufeff" + buffer.getvalue(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f"attachment; filename*=UTF-8''{name}"
    return response


@customer_view
def import_template(request):
    """An empty sheet with the columns the importer recognises, in the words people use."""
    header = [importer.HEADERS[f][0] for f in importer.FIELDS if f in importer.HEADERS]
    example = {"姓名": "王丽华", "类型": "个人", "等级": "B", "手机": "13800001234", "来源": "门店"}
    return _csv("customers-template.csv", header, [[example.get(h, "") for h in header]])


@customer_view
def import_failed(request, job_id: int):
    job = imports.get_job(request.viewer, job_id)
    header, rows = imports.failed_rows(job)
    return _csv(f"import-{job.pk}-failed.csv", [_("Row"), _("Why"), *header], rows)


@customer_view
def import_job(request, job_id: int):
    job = imports.get_job(request.viewer, job_id)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "check":
                mapping = {f: request.POST.get(f"map_{f}", "").strip() for f in importer.FIELDS}
                job = imports.check(request.viewer, job.pk, mapping)
            elif action == "run":
                imports.queue(request.viewer, job.pk)
        except InvalidInput as exc:
            messages.error(request, exc.message)
        return redirect("customers:import_job", job_id=job.pk)
    return render(request, "customers/import_job.html", _job_context(job))


@never_cache
@customer_view
def import_progress(request, job_id: int):
    """What the job page polls (htmx) while the worker imports."""
    job = imports.get_job(request.viewer, job_id)
    response = render(request, "customers/_import_progress.html", {"job": job})
    if request.htmx and job.status in ("uploaded", "checked"):
        response["HX-Refresh"] = "true"  # the dry run is done: the page reloads to show its report
    return response
