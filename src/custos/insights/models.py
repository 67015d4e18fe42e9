"""Daily roll-ups: projections of the customers, archive, alerts, handover and pool tables.

Nothing here is the record. `custos insights rebuild` (and the nightly task) computes one day's
figures from the tables that are themselves projections of the ledger, and replaces that day's
rows; the dashboards read only these, never raw messages. Units and employees are plain ids with
the unit's path copied in, so a scope's figures are one indexed prefix query.
"""

from django.db import models


class Rollup(models.Model):
    """One computed day: when it ran and what it covered."""

    day = models.DateField(unique=True)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True)
    customers = models.PositiveIntegerField(default=0)
    seconds = models.FloatField(default=0)

    class Meta:
        ordering = ["-day"]

    def __str__(self):
        return f"rollup {self.day}"


class Figure(models.Model):
    """One number of a day's roll-up: `metric` for a unit (and an employee), split by `key`
    (a week's Monday, an alert category...)."""

    day = models.DateField()
    metric = models.CharField(max_length=40)
    unit_id = models.BigIntegerField(null=True)
    unit_path = models.CharField(max_length=255, blank=True)
    employee_id = models.BigIntegerField(null=True)
    key = models.CharField(max_length=80, blank=True)
    value = models.FloatField(default=0)

    class Meta:
        indexes = [
            models.Index(fields=["day", "metric", "unit_id"], name="insights_fig_unit_id"),
            models.Index(fields=["day", "employee_id", "metric"], name="insights_fig_emp"),
        ]

    def __str__(self):
        return f"{self.day} {self.metric} {self.key}={self.value}"


class CustomerScore(models.Model):
    """A customer's churn score of the day with its reasons, and whether one person alone holds them."""

    day = models.DateField()
    customer_id = models.BigIntegerField()
    owner_id = models.BigIntegerField(null=True)
    unit_id = models.BigIntegerField()
    unit_path = models.CharField(max_length=255)
    score = models.PositiveSmallIntegerField(default=0)
    # [{"code": "silent", "points": 25, "facts": {...}}, ...] in the order of WEIGHTS.
    reasons = models.JSONField(default=list)
    solo = models.BooleanField(default=False)
    revenue_90d = models.BigIntegerField(default=0)  # fen

    class Meta:
        # Each list's order (selectors.BY_SCORE, BY_REVENUE) is an index per way of scoping it
        # (whole company, a unit, an owner), so its top rows are read in order and never sorted;
        # the one-person lists are partial indexes over those customers only.
        indexes = [
            models.Index(fields=["day", "-score", "-revenue_90d", "customer_id"], name="insights_score_rank"),
            models.Index(fields=["day", "unit_id", "-score", "-revenue_90d", "customer_id"], name="insights_score_unit_rank"),
            models.Index(fields=["day", "owner_id", "-score", "-revenue_90d", "customer_id"], name="insights_score_owner_rank"),
            models.Index(fields=["day", "-revenue_90d", "-score", "customer_id"], condition=models.Q(solo=True),
                         name="insights_score_solo"),
            models.Index(fields=["day", "unit_id", "-revenue_90d", "-score", "customer_id"], condition=models.Q(solo=True),
                         name="insights_score_unit_solo"),
            models.Index(fields=["day", "customer_id"], name="insights_score_customer"),
        ]  # fmt: skip

    def __str__(self):
        return f"{self.customer_id}: {self.score}"
