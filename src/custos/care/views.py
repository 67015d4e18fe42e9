"""Console pages of care: the desk's day (my tasks, due and overdue), a task's outcome, complaints
in a manager's queue, key-account plans, a customer's lines of work."""

import csv
from datetime import date

from django.contrib import messages
from django.http import HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from custos.care import greetings as greeting_services
from custos.care import key_accounts, loyalty, points_import, scope, selectors, services
from custos.care.models import (
    ContactTask,
    GreetingTemplate,
    KeyAccountVisit,
    LoyaltyAccount,
    LoyaltyLevel,
    LoyaltyProgram,
    Responsibility,
)
from custos.care.scope import employees_in_reach
from custos.console.decorators import console_view
from custos.core.errors import InvalidInput
from custos.core.query import whole_or_none
from custos.customers import importer, imports
from custos.org.models import Role

MANAGERS = (Role.MANAGER, Role.EXECUTIVE, Role.ADMIN)


def _id(value) -> int:
    number = whole_or_none(value)
    if number is None:
        raise InvalidInput(_("Choose one from the list."))
    return number


def _day(value) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InvalidInput(_("A day is written 2026-03-01.")) from exc


@console_view
def index(request):
    me = request.viewer
    context = selectors.day(me)
    context["overdue_plans"] = list(key_accounts.overdue(me)[:100]) if me.role != Role.SERVICE else []
    context["my_plans"] = list(key_accounts.plans_visible(me).filter(visitor=me, active=True)[:100])
    context["is_manager"] = me.role in MANAGERS
    if request.GET.get("format") == "csv":
        return _csv(context)
    return render(request, "care/index.html", context)


def _csv(context) -> HttpResponse:
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="care-tasks.csv"'
    response.write("\ufeff")  # Excel reads UTF-8 with the mark
    out = csv.writer(response)
    out.writerow([_("Due"), _("Customer"), _("Task"), _("Note")])
    for t in [*context["overdue"], *context["due_today"], *context["ahead"]]:
        out.writerow([t.due_on.isoformat(), t.customer.name, t.get_kind_display(), t.note])
    return response


@console_view
def task(request, task_id):
    me = request.viewer
    t = selectors.get_task(me, task_id)
    if request.method == "POST":
        if t.queue == ContactTask.Queue.MANAGER:
            services.resolve(actor=me, task_id=t.pk, note=request.POST.get("note", ""))
            messages.success(request, _("Resolved: the desk calls the customer back."))
        else:
            reached = request.POST.get("reached") == "yes"
            satisfaction = whole_or_none(request.POST.get("satisfaction")) if reached else None
            services.record_outcome(
                actor=me,
                task_id=t.pk,
                reached=reached,
                satisfaction=satisfaction,
                complaint=request.POST.get("complaint", "") if reached else "",
                wants_other_contact=reached and request.POST.get("wants_other_contact") == "on",
                note=request.POST.get("note", ""),
                archive_message_id=whole_or_none(request.POST.get("archive_message_id")),
            )
            messages.success(request, _("Outcome recorded."))
        return redirect("care:index")
    history = list(selectors.tasks(me, when="done").filter(customer_id=t.customer_id)[:20])
    return render(request, "care/task.html", {"task": t, "history": history, "scores": range(1, 6)})


@console_view
def plans(request):
    me = request.viewer
    if request.method == "POST":
        key_accounts.create_plan(
            actor=me,
            customer_id=_id(request.POST.get("customer_id")),
            visitor_id=_id(request.POST.get("visitor_id")),
            every_days=whole_or_none(request.POST.get("every_days")) or 0,
            gifts=request.POST.get("gifts", ""),
            events=request.POST.get("events", ""),
            remind_days=whole_or_none(request.POST.get("remind_days")) or 0,
            first_visit_on=_day(request.POST.get("first_visit_on")),
        )
        messages.success(request, _("Plan made."))
        return redirect("care:plans")
    rows = list(key_accounts.plans_visible(me).filter(active=True)[:500])
    today = timezone.localdate()
    for p in rows:
        p.overdue = p.next_visit_on < today
    context = {
        "rows": rows,
        "is_manager": me.role in MANAGERS,
        "visitors": list(
            employees_in_reach(me).filter(role__in=[*MANAGERS, Role.SALES], status="active")[:300]
        )
        if me.role in MANAGERS
        else [],
        "kinds": KeyAccountVisit.Kind.choices,
        "today": today,
    }
    return render(request, "care/plans.html", context)


@console_view
@require_POST
def plan_visit(request, plan_id):
    key_accounts.record_visit(
        actor=request.viewer,
        plan_id=plan_id,
        kind=request.POST.get("kind", "visit"),
        visited_on=_day(request.POST.get("visited_on")),
        note=request.POST.get("note", ""),
    )
    messages.success(request, _("Visit recorded."))
    return redirect("care:plans")


@console_view
def lines(request, customer_id):
    me = request.viewer
    if request.method == "POST":
        kind = request.POST.get("kind", "")
        employee_id = whole_or_none(request.POST.get("employee_id"))
        if employee_id:
            services.assign_responsibility(
                actor=me, customer_id=customer_id, kind=kind, employee_id=employee_id
            )
        else:
            services.end_responsibility(actor=me, customer_id=customer_id, kind=kind)
        messages.success(request, _("Saved."))
        return redirect("care:lines", customer_id=customer_id)
    customer = selectors.get_customer_in_reach(me, customer_id)
    staff = list(employees_in_reach(me).filter(status="active")[:300]) if me.role in MANAGERS else []
    context = {
        "customer": customer,
        "lines": selectors.lines_of(me, customer_id),
        "is_manager": me.role in MANAGERS,
        "desk": [e for e in staff if e.role == Role.SERVICE],
        "developers": [e for e in staff if e.role in MANAGERS],
        "kinds": [
            (k, label) for k, label in Responsibility.Kind.choices if k != Responsibility.Kind.BUSINESS
        ],
    }
    return render(request, "care/lines.html", context)


@console_view
def greetings_page(request):
    me = request.viewer
    if request.method == "POST":
        greeting_services.add_template(
            actor=me,
            occasion=request.POST.get("occasion", ""),
            title=request.POST.get("title", ""),
            text=request.POST.get("text", ""),
        )
        messages.success(request, _("Template saved."))
        return redirect("care:greetings")
    today = timezone.localdate()
    week = greeting_services.upcoming(me, today=today, days=7)
    context = {
        "today_rows": [o for o in week if o.day == today],
        "week_rows": [o for o in week if o.day != today],
        "templates": GreetingTemplate.objects.all()[:100],
        "occasions": GreetingTemplate.Occasion.choices,
        "is_manager": me.role in MANAGERS,
    }
    return render(request, "care/greetings.html", context)


@console_view
@require_POST
def redeem(request, customer_id):
    loyalty.redeem(
        actor=request.viewer,
        customer_id=customer_id,
        points=whole_or_none(request.POST.get("points")) or 0,
        reward=request.POST.get("reward", ""),
    )
    messages.success(request, _("Points spent."))
    return redirect("customers:detail", customer_id)


@console_view
def loyalty_page(request):
    """Levels and members; a POS sheet uploaded here is checked and imported by the worker as an
    import job of the customers' kind (customers.imports), its page showing the progress."""
    me = request.viewer
    if request.method == "POST":
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidInput(_("Choose a file."))
        points_import.require(me)
        importer.check_upload(upload.name, upload.size)  # before reading: the size limit holds
        job = imports.upload(me, upload.name, upload.read(), kind=points_import.KIND)
        imports.check(me, job.pk, {}, kind=points_import.KIND)
        return redirect("care:points_job", job_id=job.pk)
    members = (
        LoyaltyAccount.objects.filter(
            customer__in=scope.customers_in_reach(me).values("pk"), level__isnull=False
        )
        .select_related("customer", "level")
        .order_by("-level__rank", "-balance")[:100]
    )
    may_import = me.role in points_import.IMPORTERS
    context = {
        "levels": LoyaltyLevel.objects.order_by("rank"),
        "program": LoyaltyProgram.get(),
        "members": members,
        "may_import": may_import,
        "jobs": imports.recent_jobs(me, 5, kind=points_import.KIND) if may_import else [],
    }
    return render(request, "care/loyalty.html", context)


def _points_job_context(job):
    return {
        "job": job,
        "progress_url": reverse("care:points_progress", args=[job.pk]),
        "done_url": reverse("care:loyalty"),
    }


@console_view
def points_job(request, job_id: int):
    """A POS sheet's dry run (errors by row), the button to import it, then its progress."""
    me = request.viewer
    job = imports.get_job(me, job_id, kind=points_import.KIND)
    if request.method == "POST":
        imports.queue(me, job.pk, kind=points_import.KIND)
        return redirect("care:points_job", job_id=job.pk)
    return render(request, "care/points_job.html", _points_job_context(job))


@console_view
def points_failed(request, job_id: int):
    """The rows the dry run refused, each with its number and why, to fix and upload again."""
    job = imports.get_job(request.viewer, job_id, kind=points_import.KIND)
    header, rows = imports.failed_rows(job)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="points-{job.pk}-failed.csv"'
    response.write("\ufeff")
    out = csv.writer(response)
    out.writerow([_("Row"), _("Why"), *header])
    # A cell starting with = + - @ would be a formula in Excel: kept as text.
    out.writerows([[("'" + c) if c[:1] in "=+-@" else c for c in row] for row in rows])
    return response


@never_cache
@console_view
def points_progress(request, job_id: int):
    """What the job page polls (htmx) while the worker checks or imports."""
    job = imports.get_job(request.viewer, job_id, kind=points_import.KIND)
    response = render(request, "customers/_import_progress.html", _points_job_context(job))
    if request.htmx and job.status in ("uploaded", "checked"):
        response["HX-Refresh"] = "true"  # the dry run is done: the page reloads to show its report
    return response
