"""Departures, their checklists, allocation plans, device commands and the successors' contact tasks.

A departure case follows one leaver from "resigning" to "closed". Its checklist items are made and
ticked by `checklist.refresh` from the data (customers, follow-ups, ledger entries), never by hand;
a manager may only waive an item, with a reason. A plan is a preview of who gets which customer;
committing it moves every customer through customers.services.change_owner in one transaction.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from custos.access.models import ApiToken
from custos.customers.models import Customer
from custos.org.models import Employee, Unit


class DepartureCase(models.Model):
    class Status(models.TextChoices):
        OPEN = "open", pgettext_lazy("departure case", "Open")
        FROZEN = "frozen", _("Frozen")
        CLOSED = "closed", _("Closed")

    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="departure_cases")
    # The leaver's unit when the case was opened: scope follows it even if the leaver is moved.
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    last_day = models.DateField()
    reason = models.CharField(max_length=200, blank=True)
    opened_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    opened_at = models.DateTimeField(default=timezone.now)
    frozen_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    checked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        constraints = [
            # One live case per leaver: a second manager opening one gets the first.
            models.UniqueConstraint(
                fields=["employee"],
                condition=~models.Q(status="closed"),
                name="handover_one_live_case_per_employee",
            ),
        ]

    def __str__(self):
        return f"{self.employee} · {self.status}"

    @property
    def is_live(self) -> bool:
        return self.status != self.Status.CLOSED


class ChecklistItem(models.Model):
    class Kind(models.TextChoices):
        CUSTOMER = "customer", _("Customer to hand over")
        OPEN_ITEM = "open_item", _("Open deal or order")
        FOLLOW_UP = "follow_up", _("Follow-up due or overdue")
        UNANSWERED = "unanswered", _("Unanswered conversation")
        GROUP = "group", _("Group owned")
        FILL_IN = "fill_in", _("Customer file to complete")

    case = models.ForeignKey(DepartureCase, on_delete=models.PROTECT, related_name="items")
    kind = models.CharField(max_length=12, choices=Kind.choices)
    # The customer id, group id or conversation key the item is about.
    ref = models.CharField(max_length=200)
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    label = models.CharField(max_length=200)
    detail = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    waived_at = models.DateTimeField(null=True, blank=True)
    waived_by = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    waived_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["kind", "id"]
        constraints = [models.UniqueConstraint(fields=["case", "kind", "ref"], name="handover_item_unique")]

    def __str__(self):
        return f"{self.kind}:{self.ref}"

    @property
    def settled(self) -> bool:
        return self.done_at is not None or self.waived_at is not None


class Rotation(models.Model):
    """轮岗: staff of `units` move one unit along, every `months` months; customers stay in their unit."""

    name = models.CharField(max_length=100)
    units = models.ManyToManyField(Unit, related_name="+")
    # The order staff move in: staff of unit_order[i] go to unit_order[i+1], the last to the first.
    unit_order = models.JSONField(default=list)
    months = models.PositiveSmallIntegerField(default=6)
    strategy = models.CharField(max_length=20, default="least_loaded")
    created_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    # The common ancestor of the units: scope follows it.
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    last_rotated_on = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.name


class Plan(models.Model):
    class Kind(models.TextChoices):
        HANDOVER = "handover", _("Departure handover")
        TRANSFER = "transfer", _("In-service transfer")
        ROTATION = "rotation", _("Rotation")

    class Status(models.TextChoices):
        DRAFT = "draft", _("Preview")
        COMMITTED = "committed", _("Committed")
        DISCARDED = "discarded", _("Discarded")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    case = models.ForeignKey(DepartureCase, null=True, blank=True, on_delete=models.PROTECT, related_name="plans")
    rotation = models.ForeignKey(Rotation, null=True, blank=True, on_delete=models.PROTECT, related_name="plans")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    strategy = models.CharField(max_length=20)
    # Everything the strategy was given (receivers, weights, quota, rule), so a draw can be replayed.
    params = models.JSONField(default=dict, blank=True)
    seed = models.BigIntegerField(null=True, blank=True)
    # Staff moves of a rotation: [{"employee": id, "from_unit": id, "to_unit": id}].
    staff_moves = models.JSONField(default=list, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    committed_by = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    committed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.kind} plan {self.pk} ({self.status})"


class PlanMove(models.Model):
    """One customer in a plan: from whom, to whom (None: left where it is, with the reason)."""

    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="moves")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    from_employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    to_employee = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    skipped_reason = models.CharField(max_length=200, blank=True)
    # The file as it was handed over: the rotation quality report compares against it.
    completeness = models.PositiveSmallIntegerField(default=0)
    follow_up_overdue = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["plan", "customer"], name="handover_move_once_per_plan")]
        indexes = [models.Index(fields=["to_employee"])]

    def __str__(self):
        return f"{self.customer_id}: {self.from_employee_id} → {self.to_employee_id}"


class DeviceCommand(models.Model):
    """A command waiting for a work phone: fetched and acknowledged by the device on its next poll."""

    class Kind(models.TextChoices):
        LOCK = "lock", _("Lock the device")

    token = models.ForeignKey(ApiToken, on_delete=models.PROTECT, related_name="+")
    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    case = models.ForeignKey(DepartureCase, null=True, blank=True, on_delete=models.PROTECT, related_name="commands")
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.LOCK)
    payload = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    delivered_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["token", "acknowledged_at"])]

    def __str__(self):
        return f"{self.kind} → token {self.token_id}"


class ContactTask(models.Model):
    """Tell an inherited customer who their new contact is. A connector would send the message;
    without one, the successor does it by hand and marks the task done."""

    class Status(models.TextChoices):
        OPEN = "open", _("To do")
        DONE = "done", _("Done")

    assignee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="contact_tasks")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="tasks")
    message = models.TextField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["status", "-created_at", "-id"]
        indexes = [models.Index(fields=["assignee", "status"])]

    def __str__(self):
        return f"task {self.pk} for {self.assignee_id}"
