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
