"""Credentials beyond the password: API tokens and the failed-login counters."""

from django.db import models
from django.utils.translation import gettext_lazy as _

from custos.org.models import Employee, Unit


class ApiToken(models.Model):
    class Kind(models.TextChoices):
        PERSONAL = "personal", _("Personal")
        DEVICE = "device", _("Device")
        INTEGRATION = "integration", _("Integration")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    name = models.CharField(max_length=100)
    # Personal and device tokens act for an employee; an integration token belongs to a unit.
    employee = models.ForeignKey(Employee, null=True, blank=True, on_delete=models.PROTECT, related_name="tokens")
    unit = models.ForeignKey(Unit, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    # The token is shown once; only its SHA-256 is kept. The prefix finds the row and is safe to display.
    prefix = models.CharField(max_length=16, unique=True)
    token_hash = models.CharField(max_length=64)
    created_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"


class LoginThrottle(models.Model):
    """Failed sign-ins counted per account, per account's second factor and per client address,
    and the back-off they earned (custos.access.login)."""

    class Kind(models.TextChoices):
        ACCOUNT = "account", _("Account")
        SECOND_FACTOR = "second_factor", _("Second factor")
        ADDRESS = "address", _("Address")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The user name as typed, lower-cased (existing or not), or the client address (IPv6: its /64).
    key = models.CharField(max_length=150)
    # Failures, less one forgiven every CUSTOS_LOGIN_FORGIVE_SECONDS counted from forgive_from: a
    # typo now and then never adds up.
    failures = models.PositiveIntegerField(default=0)
    forgive_from = models.DateTimeField(null=True, blank=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["kind", "key"], name="access_throttle_unique_key")]

    def __str__(self):
        return f"{self.kind}:{self.key}"


class MonitoringPolicy(models.Model):
    """The company's word to its staff on monitoring (制度透明, PIPL): what is archived, why, who
    may read it, how long it is kept. Versions are never edited; a new text is a new version,
    which every employee acknowledges again."""

    version = models.PositiveIntegerField(unique=True)
    body = models.TextField()
    published_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    published_at = models.DateTimeField()

    class Meta:
        ordering = ["-version"]

    def __str__(self):
        return f"v{self.version}"


class PolicyAcknowledgement(models.Model):
    policy = models.ForeignKey(MonitoringPolicy, on_delete=models.PROTECT, related_name="acknowledgements")
    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["policy", "employee"], name="access_policy_ack_once"),
        ]

    def __str__(self):
        return f"{self.employee_id} v{self.policy_id}"
