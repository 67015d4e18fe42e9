"""What the `custos` subcommands share about people: finding one by user name or employee number."""

from django.core.management.base import CommandError

from custos.org.models import Employee


def employee(text: str) -> Employee:
    """The employee `--as` or `--employee` names, by user name first, then by number; else one line."""
    qs = Employee.objects.select_related("unit", "user")
    found = qs.filter(user__username=text).first() or qs.filter(employee_no=text).first()
    if found is None:
        raise CommandError(f"no employee with user name or number {text!r}")
    return found
