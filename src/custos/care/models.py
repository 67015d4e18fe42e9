"""Care: who at the company knows each customer, the service desk's contact tasks, key-account
plans, small care and loyalty.

Every row here is a projection of what the services also write to the ledger; the tables exist so
the desk's day, a plan's next visit and a member's balance read from an index, not from the log.
"""

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.customers.models import Customer
from custos.org.models import Employee


class Responsibility(models.Model):
    """One person's part in a customer (seed 003's work split). The business line is the owner
    (Customer.owner) and is not stored twice; development and service are rows here, so a customer
    is known by more than the one salesperson who could walk away with them."""

    class Kind(models.TextChoices):
        DEVELOPMENT = "development", _("Development (manager)")
        BUSINESS = "business", _("Business (salesperson)")
        SERVICE = "service", _("Service (desk)")

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="responsibilities")
    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="care_responsibilities")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    assigned_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    assigned_at = models.DateTimeField(default=timezone.now)
    ended_at = models.DateTimeField(null=True, blank=True)
    ended_by = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["customer", "kind", "id"]
        constraints = [
            # One person per line and customer at a time; the history keeps the ended rows.
            models.UniqueConstraint(
                fields=["customer", "kind"], condition=Q(ended_at__isnull=True), name="care_responsibility_one_per_line"
            ),
        ]
        indexes = [models.Index(fields=["employee", "ended_at"])]

    def __str__(self):
        return f"{self.customer_id} {self.kind} {self.employee_id}"

    @property
    def active(self) -> bool:
        return self.ended_at is None
