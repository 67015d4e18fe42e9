"""The public pool (公海池): pools per unit, their members, recycle rules, claims, allocation.

A customer "in the pool" is `Customer.status == in_pool` with no owner (customers app). Which
pool holds them follows their unit: the nearest unit up the tree that has a pool (a store's own
pool, else its region's, else the company's). These tables say how each pool behaves and keep
the history the limits and the statistics are read from; every change is also a ledger entry.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.customers.models import Customer
from custos.org.models import Employee, Unit


class Pool(models.Model):
    class Visibility(models.TextChoices):
        # Everyone working in the pool's unit or below may see and claim.
        UNIT = "unit", _("Everyone in the unit")
        # Only the listed members may claim; managers above still see it through their scope.
        MEMBERS = "members", _("Members only")

    unit = models.OneToOneField(Unit, on_delete=models.PROTECT, related_name="pool")
    name = models.CharField(max_length=60)
    visibility = models.CharField(max_length=10, choices=Visibility.choices, default=Visibility.UNIT)
    # Limits on claiming (WukongCRM's: per day, held in total, cooldown for the previous owner).
    claims_per_day = models.PositiveSmallIntegerField(default=10)
    max_held = models.PositiveIntegerField(default=300)
    cooldown_days = models.PositiveSmallIntegerField(default=30)
    reason_required = models.BooleanField(default=True)
    created_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["unit__path"]

    def __str__(self):
        return self.name


class PoolMember(models.Model):
    """Someone who may claim from a members-only pool and/or receive allocations from it."""

    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="members")
    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    can_claim = models.BooleanField(default=True)
    can_receive = models.BooleanField(default=True)
    weight = models.FloatField(default=1.0)
    # New customers per day from allocation (None: no cap), friends added per day (contact.added
    # entries of the day), and new customers per calendar month spread over its remaining days.
    daily_cap = models.PositiveIntegerField(null=True, blank=True)
    friends_cap = models.PositiveIntegerField(null=True, blank=True)
    monthly_quota = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["pool", "employee__name"]
        constraints = [models.UniqueConstraint(fields=["pool", "employee"], name="pool_member_once")]

    def __str__(self):
        return f"{self.employee_id}@{self.pool_id}"


class RecycleRule(models.Model):
    class Kind(models.TextChoices):
        NO_FOLLOW_UP = "no_follow_up", _("No follow-up")
        NO_PURCHASE = "no_purchase", _("No purchase")
        NO_REPLY = "no_reply", _("No reply from the customer")
        OWNER_GONE = "owner_gone", _("Owner departed or frozen")

    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="rules")
    # "" = every grade; else only customers of this grade (A-D).
    grade = models.CharField(max_length=8, blank=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    days = models.PositiveIntegerField(default=30)
    # The owner is told this many days before the move (0: no reminder).
    remind_days = models.PositiveSmallIntegerField(default=3)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # A removed rule that already moved or reminded customers stays, hidden and off, so the
    # history keeps saying which rule did it; one that never acted is deleted outright.
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["pool", "kind", "grade", "days"]

    def __str__(self):
        return f"{self.kind} {self.grade or '*'} {self.days}d"


class Protection(models.Model):
    """A protected key account (重点客户): never recycled, whatever the rules say."""

    customer = models.OneToOneField(Customer, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=200)
    created_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"protected {self.customer_id}"


class PoolMove(models.Model):
    """A customer going into or out of a pool: what the limits, the list's "why" and the stats read.

    recycled: employee = the owner it was taken from (rule null: put back by hand);
    claimed / assigned: employee = who took it.
    """

    class Kind(models.TextChoices):
        RECYCLED = "recycled", _("Recycled")
        CLAIMED = "claimed", _("Claimed")
        ASSIGNED = "assigned", _("Allocated")

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    pool = models.ForeignKey(Pool, null=True, on_delete=models.PROTECT, related_name="moves")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    employee = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    rule = models.ForeignKey(RecycleRule, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=200, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["employee", "kind", "at"]),
            models.Index(fields=["customer", "kind", "at"]),
            models.Index(fields=["pool", "kind", "at"]),
        ]

    def __str__(self):
        return f"{self.kind} {self.customer_id}"


class RecycleNotice(models.Model):
    """A reminder to the owner: this customer goes back to the pool on `due_on` unless followed up."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="+")
    owner = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    rule = models.ForeignKey(RecycleRule, on_delete=models.PROTECT, related_name="+")
    due_on = models.DateField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["due_on", "id"]
        constraints = [
            models.UniqueConstraint(fields=["customer", "owner", "rule", "due_on"], name="pool_notice_once")
        ]
        indexes = [models.Index(fields=["owner", "due_on"])]

    def __str__(self):
        return f"{self.customer_id} due {self.due_on}"


class RecycleRun(models.Model):
    """One pass of the recycle job. `cursor` (the last customer id done) moves forward in the
    same transaction as each batch, so a run that stops half way continues where it stopped."""

    started_at = models.DateTimeField(default=timezone.now)
    finished_at = models.DateTimeField(null=True, blank=True)
    cursor = models.BigIntegerField(default=0)
    batch_size = models.PositiveIntegerField(default=2000)
    scanned = models.PositiveIntegerField(default=0)
    moved = models.PositiveIntegerField(default=0)
    reminded = models.PositiveIntegerField(default=0)
    actor = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"run {self.pk} at {self.cursor}"


class Shift(models.Model):
    """排班: staff of `unit` (and below, unless a lower unit has its own) work on this weekday
    between these hours. A unit with no shifts at all (up its tree) is always on shift."""

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    weekday = models.PositiveSmallIntegerField()  # 0 Monday … 6 Sunday
    starts = models.TimeField()
    ends = models.TimeField()

    class Meta:
        ordering = ["unit", "weekday", "starts"]

    def __str__(self):
        return f"{self.unit_id} {self.weekday} {self.starts}-{self.ends}"


class Leave(models.Model):
    """An exception to the schedule: off from `starts` to `ends` (both days included)."""

    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    starts = models.DateField()
    ends = models.DateField()
    reason = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-starts"]

    def __str__(self):
        return f"{self.employee_id} {self.starts}-{self.ends}"


class Allocation(models.Model):
    """A draw out of the pool: previewed (draft), then committed. The seed and the parameters
    are kept so the same draw can be replayed and checked."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Preview")
        COMMITTED = "committed", _("Committed")

    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="allocations")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DRAFT)
    strategy = models.CharField(max_length=20)
    seed = models.BigIntegerField(null=True, blank=True)
    # What went into the draw: candidates, receivers (with capacity, weight, eligibility), options.
    params = models.JSONField(default=dict)
    # {customer id: receiver id} and {customer id: reason code}, keys as strings (JSON).
    assigned = models.JSONField(default=dict)
    unassigned = models.JSONField(default=dict)
    created_by = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    committed_by = models.ForeignKey(
        Employee, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    committed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"{self.strategy} #{self.pk}"
