"""The product lines a customer buys: a dimension of the viewer's scope (custos.access.scope)."""

from django.db import transaction
from django.utils.translation import gettext as _

from custos.access.scope import scope_of
from custos.core.errors import InvalidInput
from custos.customers import rules
from custos.customers.models import Customer
from custos.org.models import Employee
from custos.org.product_lines import lines_by_code


def codes_of(customer: Customer) -> list[str]:
    return sorted(p.code for p in customer.product_lines.all())


def require_grade_in_reach(actor: Employee | None, grade: str) -> None:
    """A grade-limited employee cannot give a customer a grade they would not see themselves."""
    scope = scope_of(actor) if actor is not None else None
    if scope is not None and scope.grades is not None and grade not in scope.grades:
        raise InvalidInput(
            _("Your access covers grades %(grades)s only.") % {"grades": ", ".join(sorted(scope.grades))}
        )


def give_actors_lines(actor: Employee | None, customer: Customer) -> None:
    """A new customer of a line-limited employee buys the employee's lines, so it stays theirs to see."""
    scope = scope_of(actor) if actor is not None else None
    if scope is not None and scope.lines is not None and not customer.product_lines.exists():
        customer.product_lines.add(*sorted(scope.lines))


def require_lines_in_reach(actor: Employee | None, line_ids) -> None:
    """A line-limited employee names at least one of their own lines on a customer (as set_lines
    asks), else the customer would be out of their sight as soon as it is made."""
    scope = scope_of(actor) if actor is not None else None
    if scope is not None and scope.lines is not None and line_ids and not set(line_ids) & scope.lines:
        from custos.org.models import ProductLine

        mine = ProductLine.objects.filter(pk__in=sorted(scope.lines)).order_by("code").values_list("name", flat=True)
        raise InvalidInput(
            _("Name at least one of your own product lines (%(lines)s) on the customer.") % {"lines": "、".join(mine)}
        )


def lines_for_new(actor: Employee | None, line_ids) -> list[int]:
    """The lines of a new customer: those named (checked against the actor's limits), or the
    actor's own when none are named (give_actors_lines)."""
    line_ids = sorted(set(line_ids or ()))
    require_lines_in_reach(actor, line_ids)
    if line_ids:
        return line_ids
    scope = scope_of(actor) if actor is not None else None
    return sorted(scope.lines) if scope is not None and scope.lines is not None else []


@transaction.atomic
def set_lines(*, actor: Employee, customer: Customer, codes) -> Customer:
    rules.require_editor(actor, customer)
    chosen = lines_by_code(codes)
    scope = scope_of(actor)
    if scope.lines is not None and not {p.pk for p in chosen} & scope.lines:
        raise InvalidInput(_("Keep at least one of your own product lines on the customer."))
    before = codes_of(customer)
    customer.product_lines.set(chosen)
    from custos.customers.services import record

    record("customer.lines_changed", actor, customer, {"from": before, "to": [p.code for p in chosen]})
    return customer
