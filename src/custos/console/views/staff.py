"""Org tree and staff pages: what a manager uses to see and manage their people."""

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from custos.access.policy import RANK, may_manage, may_manage_staff
from custos.console.decorators import console_view
from custos.core.errors import InvalidInput
from custos.core.paging import page_of
from custos.core.query import id_or_none
from custos.org import selectors, services
from custos.org.models import Employee, Role, Unit


def _unit_choices(viewer):
    return [(u.pk, ("— " * u.depth) + u.name) for u in selectors.units_visible(viewer)]


def _grantable_roles(viewer):
    if viewer.role == Role.ADMIN:
        return list(Role.choices)
    return [(value, label) for value, label in Role.choices if RANK[value] < RANK.get(viewer.role, 0)]


@console_view
def org_tree(request):
    me = request.viewer
    return render(request, "console/org.html", {"tree": selectors.unit_tree(me), "can_manage": may_manage_staff(me)})


class UnitForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=100)
    kind = forms.ChoiceField(label=gettext_lazy("Kind"), choices=Unit.Kind.choices)
    parent = forms.TypedChoiceField(label=gettext_lazy("Parent unit"), coerce=int)


@console_view
def unit_create(request):
    form = UnitForm(request.POST or None, initial={"kind": Unit.Kind.STORE})
    form.fields["parent"].choices = _unit_choices(request.viewer)
    if request.method == "POST" and form.is_valid():
        parent = selectors.get_unit(request.viewer, form.cleaned_data["parent"])
        unit = services.create_unit(
            actor=request.viewer, name=form.cleaned_data["name"], kind=form.cleaned_data["kind"], parent=parent
        )
        messages.success(request, _("Unit %(name)s created.") % {"name": unit.name})
        return redirect("console:org")
    return render(request, "console/unit_form.html", {"form": form})


@console_view
def staff_list(request):
    me = request.viewer
    params = request.GET
    unit_id = params.get("unit")
    qs = selectors.list_employees(
        me,
        unit_id=id_or_none(unit_id),
        role=params.get("role") if params.get("role") in Role.values else None,
        status=params.get("status") if params.get("status") in Employee.Status.values else None,
        q=(params.get("q") or "").strip()[:100] or None,
    )
    page = page_of(qs, 25, params.get("page"))
    context = {
        "page": page,
        "units": _unit_choices(me),
        "roles": Role.choices,
        "statuses": Employee.Status.choices,
        "filters": params,
        "can_manage": may_manage_staff(me),
    }
    template = "console/_staff_rows.html" if request.htmx else "console/staff_list.html"
    return render(request, template, context)


class EmployeeForm(forms.Form):
    name = forms.CharField(label=gettext_lazy("Name"), max_length=60)
    username = forms.RegexField(label=gettext_lazy("User name"), max_length=150, regex=r"^[\w.@+-]+$")
    password = forms.CharField(
        label=gettext_lazy("Initial password"), widget=forms.PasswordInput, min_length=8, max_length=128
    )
    employee_no = forms.CharField(label=gettext_lazy("Employee number"), max_length=30, required=False)
    unit = forms.TypedChoiceField(label=gettext_lazy("Unit"), coerce=int)
    role = forms.ChoiceField(label=gettext_lazy("Role"))


@console_view
def staff_create(request):
    me = request.viewer
    form = EmployeeForm(request.POST or None, initial={"role": Role.SALES, "unit": me.unit_id})
    form.fields["unit"].choices = _unit_choices(me)
    form.fields["role"].choices = _grantable_roles(me)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            employee = services.create_employee(
                actor=me,
                name=data["name"],
                username=data["username"],
                password=data["password"],
                unit=selectors.get_unit(me, data["unit"]),
                role=data["role"],
                employee_no=data["employee_no"],
            )
        except InvalidInput as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, _("%(name)s has joined.") % {"name": employee.name})
            return redirect("console:staff_detail", employee_id=employee.pk)
    return render(request, "console/staff_form.html", {"form": form})


@console_view
def staff_detail(request, employee_id: int):
    me = request.viewer
    employee = selectors.get_employee(me, employee_id)
    can_manage = may_manage(me, employee)
    return render(
        request,
        "console/staff_detail.html",
        {
            "employee": employee,
            "moves": selectors.unit_history(me, employee_id)[:20],
            "can_manage": can_manage,
            "units": _unit_choices(me),
            "roles": _grantable_roles(me),
            "statuses": Employee.Status.choices,
            **_limits_context(me, employee),
        },
    )


def _limits_context(me, employee) -> dict:
    """The product line and grade limits (custos.access.scope), which only an administrator sets."""
    from custos.customers.services import grades
    from custos.org.models import ProductLine

    chosen = set(employee.limit_lines.values_list("code", flat=True))
    limit_grades = [g for g in employee.limit_grades.split(",") if g]
    return {
        "limit_lines": sorted(chosen),
        "limit_grades": limit_grades,
        "may_limit": me.role == "admin" and may_manage(me, employee),
        "line_choices": [(p.code, p.name, p.code in chosen) for p in ProductLine.objects.all()],
        "grade_choices": [(g, g in limit_grades) for g in grades()],
    }


@require_POST
@console_view
def staff_action(request, employee_id: int, action: str):
    me = request.viewer
    employee = selectors.get_employee(me, employee_id)
    data = request.POST
    if action == "move":
        unit_id = id_or_none(data.get("unit"))
        if unit_id is None:
            raise InvalidInput(_("Choose a unit."))
        services.move_employee(
            actor=me, employee=employee, unit=selectors.get_unit(me, unit_id), reason=data.get("reason", "")[:200]
        )
        messages.success(request, _("Moved."))
    elif action == "role":
        services.change_role(actor=me, employee=employee, role=data.get("role", ""))
        messages.success(request, _("Role changed."))
    elif action == "status":
        last_day = forms.DateField(required=False).clean(data.get("last_day") or None)
        services.set_status(actor=me, employee=employee, status=data.get("status", ""), last_day=last_day)
        messages.success(request, _("Status changed."))
    elif action == "freeze":
        services.freeze(actor=me, employee=employee, reason=data.get("reason", ""))
        messages.success(request, _("Frozen: every session and token of this employee stops working now."))
    elif action == "unfreeze":
        services.unfreeze(actor=me, employee=employee)
        messages.success(request, _("Unfrozen."))
    elif action == "rename":
        services.rename_employee(actor=me, employee=employee, name=data.get("name", ""))
        messages.success(request, _("Saved."))
    elif action == "limits":
        from custos.org import product_lines

        product_lines.set_limits(
            actor=me, employee=employee, lines=data.getlist("lines"), grades=data.getlist("grades")
        )
        messages.success(request, _("Limits set."))
    elif action == "password":
        services.set_password(actor=me, employee=employee, password=data.get("password", ""))
        messages.success(request, _("Password set."))
    else:
        raise InvalidInput(_("Unknown action."))
    return redirect("console:staff_detail", employee_id=employee.pk)
