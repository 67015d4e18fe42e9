"""The organisation: a tree of units and the employees who work in them."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Unit(models.Model):
    class Kind(models.TextChoices):
        HQ = "hq", _("Headquarters")
        REGION = "region", _("Region")
        STORE = "store", _("Store")
        TEAM = "team", _("Team")
        DEPARTMENT = "department", _("Department")

    name = models.CharField(max_length=100)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.STORE)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    # Materialised path "/1/4/9/": a subtree is one indexed prefix query on any database.
    path = models.CharField(max_length=255, db_index=True, editable=False, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["path"]
        constraints = [
            models.UniqueConstraint(fields=["parent", "name"], name="unit_unique_name_under_parent"),
        ]

    def __str__(self):
        return self.name

    @property
    def depth(self) -> int:
        return self.path.count("/") - 2

    def is_within(self, other: "Unit") -> bool:
        return self.path.startswith(other.path)


class ProductLine(models.Model):
    """A line the company sells (女装, 男装, 童装): a dimension of customers and of staff scope."""

    name = models.CharField(max_length=60, unique=True)
    code = models.CharField(max_length=20, unique=True)

    class Meta:
        ordering = ["code"]

    def __str__(self):
        return self.name


class Role(models.TextChoices):
    ADMIN = "admin", _("Administrator")
    EXECUTIVE = "executive", _("Executive")
    MANAGER = "manager", _("Manager")
    SALES = "sales", _("Sales")
    SERVICE = "service", _("Service")
    AUDITOR = "auditor", _("Auditor")


class Employee(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", _("Active")
        RESIGNING = "resigning", _("Resigning")
        DEPARTED = "departed", _("Departed")

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="employee")
    name = models.CharField(max_length=60)
    employee_no = models.CharField(max_length=30, unique=True)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="employees")
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.SALES)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.ACTIVE)
    hired_on = models.DateField(null=True, blank=True)
    last_day = models.DateField(null=True, blank=True)
    frozen_at = models.DateTimeField(null=True, blank=True)
    frozen_reason = models.CharField(max_length=200, blank=True)
    # TOTP secret, encrypted with the field key (custos.core.crypto); empty when not enrolled.
    totp_secret = models.CharField(max_length=200, blank=True)
    totp_confirmed = models.BooleanField(default=False)
    # Limits on top of the role's units (custos.access.scope): empty means no limit.
    limit_lines = models.ManyToManyField(ProductLine, blank=True, related_name="+")
    # Customer grades, comma-separated ("A,B"); empty: every grade.
    limit_grades = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["unit__path", "name"]
        indexes = [models.Index(fields=["unit", "role"]), models.Index(fields=["status"])]

    def __str__(self):
        return self.name

    @property
    def is_frozen(self) -> bool:
        return self.frozen_at is not None

    @property
    def may_sign_in(self) -> bool:
        return self.frozen_at is None and self.status != self.Status.DEPARTED


class UnitMove(models.Model):
    """An employee's history of units: one row per move, the first one at hiring."""

    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="moves")
    from_unit = models.ForeignKey(Unit, null=True, on_delete=models.PROTECT, related_name="+")
    to_unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    moved_at = models.DateTimeField(auto_now_add=True)
    moved_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-moved_at", "-id"]

    def __str__(self):
        return f"{self.employee_id}: {self.from_unit_id} → {self.to_unit_id}"


class CompanySettings(models.Model):
    """One row: company-wide switches that admins set in the console."""

    name = models.CharField(max_length=100, default="")
    require_admin_totp = models.BooleanField(default=False)

    def __str__(self):
        return self.name or "company settings"

    @classmethod
    def get(cls) -> "CompanySettings":
        obj, _created = cls.objects.get_or_create(pk=1)
        return obj
