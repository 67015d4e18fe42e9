"""Hits, alerts, the lexicon and thresholds companies set per unit, and webhook deliveries.

Entries are referred to by seq, not by foreign key: the ledger is never joined or cascaded.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from custos.org.models import Employee, Unit

SEVERITIES = ("low", "medium", "high")
SEVERITY_RANK = {s: i for i, s in enumerate(SEVERITIES)}


class Severity(models.TextChoices):
    LOW = "low", _("Low")
    MEDIUM = "medium", _("Medium")
    HIGH = "high", _("High")


class Confidence(models.TextChoices):
    EXACT = "exact", _("Exact")
    NORMALISED = "normalised", _("Normalised")
    HOMOPHONE = "homophone", _("Homophone or look-alike")
    PINYIN = "pinyin", _("Pinyin")


class Hit(models.Model):
    """One finding of the detection engine in one message entry; a projection of the ledger."""

    entry_seq = models.BigIntegerField(db_index=True)
    occurred_at = models.DateTimeField()
    actor_id = models.BigIntegerField(null=True)
    unit_id = models.BigIntegerField(null=True)
    customer_id = models.BigIntegerField(null=True)
    category = models.CharField(max_length=40)
    rule = models.CharField(max_length=120)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    # Offsets in the message text as written, end exclusive: the console marks exactly this span.
    start = models.PositiveIntegerField()
    end = models.PositiveIntegerField()
    matched = models.CharField(max_length=200)
    # How sure the engine was (custos.detection.engine.CONFIDENCES): a reviewer weighs a term read
    # by sound or from pinyin differently from one written out. Rows from before are all "exact".
    confidence = models.CharField(max_length=12, choices=Confidence.choices, default=Confidence.EXACT)

    class Meta:
        ordering = ["entry_seq", "start"]
        indexes = [models.Index(fields=["actor_id", "occurred_at"])]

    def __str__(self):
        return f"#{self.entry_seq} {self.category} {self.matched}"


class DetectorState(models.Model):
    """One row: the last seq the detectors raised alerts for.

    A rebuild replays old entries into the hit table; entries at or below this seq get their
    hits back but never raise an alert a second time.
    """

    last_seq = models.BigIntegerField(default=-1)

    def __str__(self):
        return f"detectors at #{self.last_seq}"


class LexiconVersion(models.Model):
    """One row, bumped on every change of terms or allowed channels: the engines' cache key."""

    version = models.BigIntegerField(default=0)

    def __str__(self):
        return f"lexicon v{self.version}"


class LexiconTerm(models.Model):
    """A company's own term; it applies to messages of staff in the unit's subtree."""

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    text = models.CharField(max_length=60)
    category = models.CharField(max_length=40)
    severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.MEDIUM)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["unit__path", "category", "text"]
        constraints = [models.UniqueConstraint(fields=["unit", "text"], name="alerts_term_unique_per_unit")]

    def __str__(self):
        return self.text


class AllowedChannel(models.Model):
    """The company's own channel (企业微信, 官方公众号, a hotline, an account): never a hit."""

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    value = models.CharField(max_length=60)
    note = models.CharField(max_length=100, blank=True)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["unit__path", "value"]
        constraints = [models.UniqueConstraint(fields=["unit", "value"], name="alerts_allow_unique_per_unit")]

    def __str__(self):
        return self.value


class Threshold(models.Model):
    """A unit's value for one rule setting; the nearest unit up the tree wins, else the code's default."""

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=60)
    value = models.IntegerField()
    updated_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["unit", "key"], name="alerts_threshold_unique")]

    def __str__(self):
        return f"{self.key}={self.value}"


class Alert(models.Model):
    class State(models.TextChoices):
        OPEN = "open", pgettext_lazy("alert state", "Open")
        ACKNOWLEDGED = "acknowledged", _("Acknowledged")
        RESOLVED = "resolved", _("Resolved")
        FALSE_POSITIVE = "false_positive", _("False positive")

    rule = models.CharField(max_length=60, db_index=True)
    category = models.CharField(max_length=40)
    severity = models.CharField(max_length=10, choices=Severity.choices)
    state = models.CharField(max_length=20, choices=State.choices, default=State.OPEN, db_index=True)
    employee = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    # The customer as the ledger named it (customers.Customer id), or NULL when not yet linked.
    customer_id = models.BigIntegerField(null=True, db_index=True)
    contact = models.CharField(max_length=200, blank=True)
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    summary = models.CharField(max_length=300)
    # [seq, ...] of the ledger entries that make the case, oldest first.
    evidence = models.JSONField(default=list)
    occurrences = models.PositiveIntegerField(default=1)
    dedupe_key = models.CharField(max_length=200, db_index=True)
    raised_at = models.DateTimeField()
    last_seen_at = models.DateTimeField()
    acknowledged_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    acknowledged_at = models.DateTimeField(null=True)
    closed_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    closed_at = models.DateTimeField(null=True)
    reason = models.CharField(max_length=500, blank=True)

    class Meta:
        ordering = ["-raised_at", "-id"]
        indexes = [models.Index(fields=["state", "unit"])]

    def __str__(self):
        return f"alert #{self.pk} {self.rule}"

    @property
    def is_open(self) -> bool:
        return self.state in (self.State.OPEN, self.State.ACKNOWLEDGED)


class Webhook(models.Model):
    class Kind(models.TextChoices):
        WECOM = "wecom", _("WeCom group robot")
        DINGTALK = "dingtalk", _("DingTalk robot")
        GENERIC = "generic", _("JSON webhook (HMAC signed)")

    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=60)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    # The URL carries the robot's key, so it is a secret too: both sealed with the field key.
    url_encrypted = models.CharField(max_length=2000)
    url_masked = models.CharField(max_length=120)
    secret_encrypted = models.CharField(max_length=500, blank=True)
    min_severity = models.CharField(max_length=10, choices=Severity.choices, default=Severity.LOW)
    enabled = models.BooleanField(default=True)
    created_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["unit__path", "name"]

    def __str__(self):
        return self.name


class Delivery(models.Model):
    """One message to one webhook: written with the alert, sent after commit, retried until it lands.

    Failed is final: the URL led where webhooks may not go (custos.alerts.egress), see last_error.
    """

    class State(models.TextChoices):
        PENDING = "pending", _("Pending")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed")

    webhook = models.ForeignKey(Webhook, on_delete=models.PROTECT, related_name="deliveries")
    # An alert, or a notice (a digest other apps push to the same robots: pool reminders, the
    # weekly report), which carries its own title, markdown text and link.
    alert = models.ForeignKey(Alert, null=True, blank=True, on_delete=models.PROTECT, related_name="deliveries")
    notice_title = models.CharField(max_length=200, blank=True)
    notice_text = models.TextField(blank=True)
    notice_link = models.CharField(max_length=500, blank=True)
    event = models.CharField(max_length=40)
    state = models.CharField(max_length=20, choices=State.choices, default=State.PENDING, db_index=True)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(db_index=True)
    # A sender claims a delivery until this time, so two workers never send it at once.
    leased_until = models.DateTimeField(null=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"

    def __str__(self):
        return f"delivery #{self.pk} {self.state}"


class RobotPost(models.Model):
    """One message posted to a chat robot, kept a while: the robot takes only so many a minute
    (custos.alerts.delivery.ROBOT_PER_MINUTE), and what waits goes in the next message."""

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="+")
    sent_at = models.DateTimeField()
    deliveries = models.PositiveIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["webhook", "sent_at"])]

    def __str__(self):
        return f"post to webhook {self.webhook_id} at {self.sent_at}"
