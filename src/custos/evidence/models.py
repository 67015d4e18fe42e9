"""Evidence packages being built, retention rules, and legal holds.

Selections and holds name customers, employees and units by plain id, like the ledger: a package
or a hold must keep saying what it covered even if the customer record is merged or archived.
"""

import uuid
from datetime import timedelta

from django.db import models
from django.utils.translation import gettext_lazy as _

from custos.org.models import Employee


class EvidencePackage(models.Model):
    """One request for a package, and the progress of the job building it (the console polls this)."""

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        RUNNING = "running", _("Building")
        DONE = "done", _("Ready")
        FAILED = "failed", _("Failed")
        EXPIRED = "expired", _("Expired")  # its file deleted CUSTOS_EVIDENCE_KEEP_DAYS after it was built

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    requested_by = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+", null=True)
    requested_at = models.DateTimeField(auto_now_add=True)
    customer_id = models.BigIntegerField(null=True)
    employee_id = models.BigIntegerField(null=True)
    since = models.DateTimeField(null=True)
    until = models.DateTimeField(null=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    stage = models.CharField(max_length=40, blank=True, default="")
    done = models.PositiveIntegerField(default=0)
    total = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, default="")
    finished_at = models.DateTimeField(null=True)
    filename = models.CharField(max_length=200, blank=True, default="")  # under DATA_DIR/evidence
    size_bytes = models.BigIntegerField(default=0)
    entries = models.PositiveIntegerField(default=0)
    manifest_sha256 = models.CharField(max_length=64, blank=True, default="")
    ledger_seq = models.BigIntegerField(null=True)  # the evidence.package_created entry
    expired_at = models.DateTimeField(null=True)  # when the file was deleted (evidence.package_expired)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"evidence package {self.public_id} ({self.status})"

    @property
    def percent(self) -> int:
        return 100 if self.status == self.Status.DONE else (self.done * 100 // self.total if self.total else 0)

    @property
    def expires_at(self):
        """When the worker deletes the file of a ready package (None: kept, or not ready)."""
        from custos.evidence.selectors import keep_days

        days = keep_days()
        if self.status != self.Status.DONE or not self.finished_at or not days:
            return None
        return self.finished_at + timedelta(days=days)

    def selection(self) -> dict:
        return {
            "customer_id": self.customer_id,
            "employee_id": self.employee_id,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }


class RetentionRule(models.Model):
    """Bodies of entries whose kind starts with `kind_prefix` are redacted `days` after they occurred.

    No rule: kept forever. Where prefixes overlap ("message." and "message.sent") the longer wins.
    """

    kind_prefix = models.CharField(max_length=64, unique=True)
    days = models.PositiveIntegerField()
    updated_by = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+", null=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["kind_prefix"]

    def __str__(self):
        return f"{self.kind_prefix}* {self.days} days"


class LegalHold(models.Model):
    """While active, no entry it covers is redacted. It covers an entry matching all its criteria."""

    customer_id = models.BigIntegerField(null=True)
    employee_id = models.BigIntegerField(null=True)
    unit_id = models.BigIntegerField(null=True)  # the unit and every unit below it
    since = models.DateTimeField(null=True)
    until = models.DateTimeField(null=True)
    reason = models.CharField(max_length=500)
    placed_by = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+", null=True)
    placed_at = models.DateTimeField(auto_now_add=True)
    released_by = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+", null=True)
    released_at = models.DateTimeField(null=True)
    release_reason = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"legal hold #{self.pk}"

    @property
    def active(self) -> bool:
        return self.released_at is None

    def criteria(self) -> dict:
        return {
            "customer_id": self.customer_id,
            "employee_id": self.employee_id,
            "unit_id": self.unit_id,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
        }
