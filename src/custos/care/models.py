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
                fields=["customer", "kind"],
                condition=Q(ended_at__isnull=True),
                name="care_responsibility_one_per_line",
            ),
        ]
        indexes = [models.Index(fields=["employee", "ended_at"])]

    def __str__(self):
        return f"{self.customer_id} {self.kind} {self.employee_id}"

    @property
    def active(self) -> bool:
        return self.ended_at is None


class ReturnCadence(models.Model):
    """How often the desk calls back a customer of a grade (A monthly, B quarterly...). A grade
    with no row takes the default of care.desk.DEFAULT_CADENCE; 0 days: no scheduled visits."""

    grade = models.CharField(max_length=8, unique=True)
    every_days = models.PositiveIntegerField()
    updated_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["grade"]

    def __str__(self):
        return f"{self.grade}: {self.every_days}"


class ContactTask(models.Model):
    """One contact the company owes a customer: a return visit by the desk, or a complaint in the
    queue of the owner's manager (never the owner's: the complaint may be about them)."""

    class Kind(models.TextChoices):
        RETURN_VISIT = "return_visit", _("Return visit")
        AFTER_PURCHASE = "after_purchase", _("After a purchase")
        AFTER_HANDOVER = "after_handover", _("After a handover")
        AFTER_COMPLAINT = "after_complaint", _("After a complaint")
        COMPLAINT = "complaint", _("Complaint")
        CONTACT_CHANGE = "contact_change", _("Wants another contact person")

    class Queue(models.TextChoices):
        DESK = "desk", _("Service desk")
        MANAGER = "manager", _("Manager")

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        DONE = "done", _("Done")
        CANCELLED = "cancelled", _("Cancelled")

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="care_tasks")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    queue = models.CharField(max_length=8, choices=Queue.choices, default=Queue.DESK)
    # The desk's tasks go to the customer's service line if there is one, else to anyone at the desk
    # whose unit covers the customer's; a complaint goes to the manager found above the owner.
    assignee = models.ForeignKey(
        Employee, null=True, blank=True, on_delete=models.PROTECT, related_name="care_tasks"
    )
    due_on = models.DateField()
    # What made the task, so the periodic job and the hooks can run twice and make it once.
    key = models.CharField(max_length=80, unique=True)
    source_task = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="follow_ons"
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OPEN)
    note = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(default=timezone.now)
    done_at = models.DateTimeField(null=True, blank=True)
    done_by = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # The outcome.
    reached = models.BooleanField(null=True)
    satisfaction = models.PositiveSmallIntegerField(null=True, blank=True)
    complaint = models.TextField(blank=True)
    wants_other_contact = models.BooleanField(default=False)
    outcome_note = models.TextField(blank=True)
    # The chat message or call (archive.Message) the contact happened in.
    archive_message_id = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["due_on", "id"]
        indexes = [
            models.Index(fields=["status", "queue", "due_on"]),
            models.Index(fields=["assignee", "status", "due_on"]),
            models.Index(fields=["customer", "kind", "status"]),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(satisfaction__isnull=True) | Q(satisfaction__gte=1, satisfaction__lte=5),
                name="care_task_satisfaction_1_to_5",
            )
        ]

    def __str__(self):
        return f"{self.kind} {self.customer_id} {self.due_on}"


class KeyAccountPlan(models.Model):
    """大客情: the company's own care of a chosen customer, not left to the salesperson."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="key_account_plans")
    # Who visits: the owner or a supervisor above them.
    visitor = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="key_account_plans")
    every_days = models.PositiveIntegerField()
    gifts = models.CharField(max_length=300, blank=True)
    events = models.CharField(max_length=300, blank=True)
    remind_days = models.PositiveSmallIntegerField(default=3)
    next_visit_on = models.DateField(db_index=True)
    active = models.BooleanField(default=True)
    created_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # The last day a reminder went out, so the nightly job tells the visitor once per visit.
    reminded_for = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["next_visit_on", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"], condition=Q(active=True), name="care_one_active_plan"
            ),
        ]

    def __str__(self):
        return f"plan {self.customer_id} every {self.every_days}d"


class KeyAccountVisit(models.Model):
    class Kind(models.TextChoices):
        VISIT = "visit", _("Visit")
        GIFT = "gift", _("Gift")
        EVENT = "event", _("Event")

    plan = models.ForeignKey(KeyAccountPlan, on_delete=models.PROTECT, related_name="visits")
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.VISIT)
    visited_on = models.DateField()
    visitor = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    note = models.TextField(blank=True)
    recorded_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-visited_on", "-id"]

    def __str__(self):
        return f"{self.kind} {self.visited_on}"


class GreetingTemplate(models.Model):
    """小客情: a greeting's text for an occasion; {name} and {holiday} are filled in."""

    class Occasion(models.TextChoices):
        BIRTHDAY = "birthday", _("Birthday")
        ANNIVERSARY = "anniversary", _("Anniversary")
        HOLIDAY = "holiday", _("Holiday")

    occasion = models.CharField(max_length=12, choices=Occasion.choices)
    title = models.CharField(max_length=60)
    text = models.CharField(max_length=500)
    created_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["occasion", "id"]

    def __str__(self):
        return self.title


class Holiday(models.Model):
    """A day worth a greeting (春节 moves each year, so days are dates, not month and day)."""

    name = models.CharField(max_length=40)
    day = models.DateField(unique=True)

    class Meta:
        ordering = ["day"]

    def __str__(self):
        return f"{self.name} {self.day}"


class LoyaltyProgram(models.Model):
    """One row: how points are earned and how long they last, how far back a level looks."""

    points_per_yuan = models.DecimalField(max_digits=8, decimal_places=2, default=1)
    expiry_days = models.PositiveIntegerField(default=365)
    window_days = models.PositiveIntegerField(default=365)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return "loyalty programme"

    @classmethod
    def get(cls) -> "LoyaltyProgram":
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj


class LoyaltyLevel(models.Model):
    """A member level: reached with this much spend AND this many purchases within the window."""

    code = models.CharField(max_length=20, unique=True)
    name = models.CharField(max_length=40)
    rank = models.PositiveSmallIntegerField(unique=True)
    min_spend = models.DecimalField(max_digits=12, decimal_places=2, default=0)
    min_purchases = models.PositiveIntegerField(default=0)
    benefits = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["rank"]

    def __str__(self):
        return self.name


class LoyaltyAccount(models.Model):
    """A customer's level and balance: a projection of their points entries and level changes."""

    customer = models.OneToOneField(Customer, on_delete=models.PROTECT, related_name="loyalty")
    level = models.ForeignKey(LoyaltyLevel, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    balance = models.IntegerField(default=0)
    spend = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    purchases = models.PositiveIntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"{self.customer_id}: {self.balance}"


class PointsEntry(models.Model):
    class Kind(models.TextChoices):
        EARNED = "earned", _("Earned")
        SPENT = "spent", _("Spent")
        EXPIRED = "expired", _("Expired")
        IMPORTED = "imported", _("Imported")
        LEVEL = "level", _("Level changed")

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="points")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    points = models.IntegerField(default=0)
    # Of an earned (or imported) lot, what is not yet spent or expired; spending takes the oldest first.
    remaining = models.IntegerField(default=0)
    expires_on = models.DateField(null=True, blank=True)
    reason = models.CharField(max_length=200, blank=True)
    key = models.CharField(max_length=80, unique=True)
    actor = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["customer", "created_at"]),
            models.Index(fields=["expires_on", "remaining"]),
        ]

    def __str__(self):
        return f"{self.kind} {self.points}"
