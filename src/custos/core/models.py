"""Core's one table: the progress of a field-key rotation (`custos keys rotate`)."""

from django.db import models


class KeyRotation(models.Model):
    """Moving everything sealed under older key versions to `to_version`, in resumable batches.

    `counts` grows in the same transaction as each batch it counts (rows per encrypted column,
    files per file store), so a rotation stopped anywhere and continued later still reports
    exactly what it re-encrypted. Started and finished by `custos keys rotate`, each with a
    ledger entry (`keys.rotation_started`, `keys.rotated`; docs/events.md).
    """

    to_version = models.PositiveIntegerField()
    from_versions = models.JSONField(default=list)  # the older versions found when it started
    counts = models.JSONField(default=dict)  # registered name -> rows or files re-encrypted
    started_at = models.DateTimeField(auto_now_add=True)
    started_seq = models.BigIntegerField(null=True)  # the keys.rotation_started entry
    finished_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"rotation to v{self.to_version}"
