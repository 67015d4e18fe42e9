"""Who may do what to a customer. Reads are decided by the scope (selectors.py); writes here.

- a customer outside the actor's scope does not exist for them (NotFound, never Forbidden);
- auditors, frozen and departed staff write nothing;
- owners work on their own customers; managers on their subtree's; executives and admins on all;
- moving customers between people (assign, transfer), archiving, restoring and merging are
  for managers and above, so a salesperson cannot hand customers to a friend or hide them;
- seeing a contact in clear needs a manager's role or ownership, and a reason (reveal.py).
"""

from django.utils.translation import gettext as _

from custos.access import policy
from custos.access.scope import scope_of
from custos.core.errors import Forbidden, NotFound
from custos.customers.models import Customer
from custos.org.models import Employee, Role

MANAGERS = policy.STAFF_MANAGERS
# Who may be given customers: anyone who signs in and works with customers (not an auditor).
OWNER_ROLES = {Role.SALES, Role.SERVICE, Role.MANAGER, Role.EXECUTIVE, Role.ADMIN}


def in_scope(actor: Employee, customer: Customer) -> bool:
    qs = Customer.objects.filter(pk=customer.pk)
    return scope_of(actor).filter(qs, owner="owner_id", unit_path="unit__path").exists()


def require_in_scope(actor: Employee, customer: Customer) -> None:
    if not in_scope(actor, customer):
        raise NotFound(_("Customer not found."))


def require_editor(actor: Employee, customer: Customer) -> None:
    """The actor may change this customer's file: profile, contacts, follow-ups."""
    policy.require_writer(actor)
    require_in_scope(actor, customer)


def require_manager(actor: Employee, customer: Customer | None = None) -> None:
    policy.require_writer(actor)
    if customer is not None:
        require_in_scope(actor, customer)
    if actor.role not in MANAGERS:
        raise Forbidden(_("Only managers may do this with customers."))


def require_may_own(actor: Employee, owner: Employee) -> None:
    """`owner` may be given customers by `actor`: active, not an auditor, inside the actor's scope."""
    if owner.pk != actor.pk and not scope_of(actor).covers_unit(owner.unit):
        raise NotFound(_("Employee not found."))
    if not owner.may_sign_in or owner.role not in OWNER_ROLES:
        raise Forbidden(
            _("%(name)s cannot own customers (frozen, departed or an auditor).") % {"name": owner.name}
        )


def may_manage(actor: Employee) -> bool:
    return actor.may_sign_in and actor.role in MANAGERS


def may_reveal(actor: Employee, customer: Customer) -> bool:
    return actor.may_sign_in and (actor.role in MANAGERS or customer.owner_id == actor.pk)


def may_edit(actor: Employee) -> bool:
    return actor.may_sign_in and actor.role != Role.AUDITOR
