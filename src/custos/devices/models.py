"""Work phones: the registry, their enrolment codes, policies with their versions, and commands.

A phone is registered by a manager (serial, IMEI, model, company number, the employee it is
for), enrolled by the phone itself with a one-time code that issues its device credential
(custos.archive.credentials: a device token with its HMAC secret), and from then on speaks the
signed agent protocol (agent.py): heartbeats, policy reports, command polls and results.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.access.models import ApiToken
from custos.org.models import Employee, Unit

FEATURES = ("camera", "bluetooth", "screenshots", "factory_reset")


class Device(models.Model):
    class State(models.TextChoices):
        REGISTERED = "registered", _("Waiting for enrolment")
        ENROLLED = "enrolled", _("Enrolled")
        RETIRED = "retired", _("Retired")

    # The unit answerable for the phone: scope follows it, also while nobody is assigned.
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    employee = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    serial = models.CharField(max_length=64, unique=True)
    imei = models.CharField(max_length=20, blank=True)
    model = models.CharField(max_length=100, blank=True)
    os = models.CharField(max_length=60, blank=True)
    # The company's number on the SIM it was given, and the SIM's serial (ICCID) as last reported.
    phone_number = models.CharField(max_length=20, blank=True)
    sim_serial = models.CharField(max_length=32, blank=True)
    state = models.CharField(max_length=12, choices=State.choices, default=State.REGISTERED)
    token = models.OneToOneField(ApiToken, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    registered_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    registered_at = models.DateTimeField(default=timezone.now)
    enrolled_at = models.DateTimeField(null=True, blank=True)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    # What the last heartbeat said (battery, network, agent version, screen locked...).
    last_report = models.JSONField(default=dict, blank=True)
    installed_apps = models.JSONField(default=list, blank=True)
    # Set when the silence alert was raised; cleared by the next heartbeat (one alert per silence).
    offline_alerted_at = models.DateTimeField(null=True, blank=True)
    policy_applied = models.ForeignKey(
        "PolicyVersion", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    policy_applied_at = models.DateTimeField(null=True, blank=True)
    # Settings of the applied policy the phone could not enforce, as it reported them.
    policy_failures = models.JSONField(default=list, blank=True)
    locked_at = models.DateTimeField(null=True, blank=True)
    wiped_at = models.DateTimeField(null=True, blank=True)
    # Taken out of service (broken, lost for good, returned): its credential is revoked, its
    # history stays, it is no longer watched for silence or compliance.
    retired_at = models.DateTimeField(null=True, blank=True)
    retired_reason = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["unit__path", "serial"]
        indexes = [models.Index(fields=["state", "last_seen_at"]), models.Index(fields=["employee"])]

    def __str__(self):
        return f"{self.model or _('Phone')} {self.serial}"


class EnrolmentCode(models.Model):
    """A one-time code a phone trades for its credential: kept as SHA-256, expiring, used once."""

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="codes")
    code_hash = models.CharField(max_length=64, unique=True)
    created_by = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return f"code for {self.device_id}"


class Policy(models.Model):
    """Rules for the phones of a unit's subtree, or for one phone; the nearest one applies."""

    unit = models.OneToOneField(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    device = models.OneToOneField(Device, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=models.Q(unit__isnull=True, device__isnull=False)
                | models.Q(unit__isnull=False, device__isnull=True),
                name="devices_policy_unit_or_device",
            )
        ]

    def __str__(self):
        return f"policy {self.pk}"


class PolicyVersion(models.Model):
    """One published version of a policy; never changed, a change is a new version."""

    policy = models.ForeignKey(Policy, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    # {"allowed_apps": [...], "disabled": [...FEATURES], "call_recording": bool, "archive_upload": bool}
    rules = models.JSONField(default=dict)
    created_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["policy_id", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["policy", "version"], name="devices_policy_version_once")
        ]

    def __str__(self):
        return f"policy {self.policy_id} v{self.version}"


class Command(models.Model):
    class Kind(models.TextChoices):
        LOCK = "lock", _("Lock")
        WIPE = "wipe", _("Wipe work data")
        INSTALL_APP = "install_app", _("Install an app")
        UNINSTALL_APP = "uninstall_app", _("Uninstall an app")
        PUSH_POLICY = "push_policy", _("Push the policy")
        RING = "ring", _("Ring")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        DELIVERED = "delivered", _("Delivered")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        TIMED_OUT = "timed_out", _("Timed out")
        CANCELLED = "cancelled", _("Cancelled (phone retired)")

    device = models.ForeignKey(Device, on_delete=models.PROTECT, related_name="commands")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    payload = models.JSONField(default=dict, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.QUEUED)
    # Deliveries so far: a delivered command unanswered after the timeout is queued again, up to a limit.
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    # The departure case that queued it (custos.handover), if any.
    case_id = models.BigIntegerField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    result = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["device", "status"]), models.Index(fields=["status", "delivered_at"])]

    def __str__(self):
        return f"{self.kind} → device {self.device_id} ({self.status})"

    @property
    def open(self) -> bool:
        return self.status in (self.Status.QUEUED, self.Status.DELIVERED)
