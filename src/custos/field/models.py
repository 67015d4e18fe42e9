"""Field work: where customers are, where staff may work and when, and what they did there.

Visits and track points are projections of their ledger entries (field.checked_in,
field.checked_out, field.track): the entry is the evidence, the row is what pages read.
"""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from custos.customers.models import Customer, FollowUp
from custos.org.models import Employee, Unit


class Site(models.Model):
    """A customer's place (门店, 仓库) with its geofence: a circle, or a polygon when one is drawn."""

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="field_sites")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=100)
    address = models.CharField(max_length=200, blank=True)
    lat = models.FloatField()
    lon = models.FloatField()
    radius_m = models.PositiveIntegerField(default=200)
    # [[lon, lat], ...] (GeoJSON order), or empty for the circle.
    polygon = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["customer_id", "id"]

    def __str__(self):
        return self.name


class Area(models.Model):
    """The area an employee is assigned to work in (片区), checked against their track during shifts."""

    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="field_areas")
    name = models.CharField(max_length=100)
    lat = models.FloatField(null=True, blank=True)
    lon = models.FloatField(null=True, blank=True)
    radius_m = models.PositiveIntegerField(null=True, blank=True)
    polygon = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["employee_id", "id"]

    def __str__(self):
        return self.name


class Shift(models.Model):
    """排班: the hours of a weekday (0 Monday) when the employee works in the area."""

    area = models.ForeignKey(Area, on_delete=models.CASCADE, related_name="shifts")
    weekday = models.PositiveSmallIntegerField()
    starts = models.TimeField()
    ends = models.TimeField()

    class Meta:
        ordering = ["weekday", "starts"]

    def __str__(self):
        return f"{self.weekday} {self.starts:%H:%M}-{self.ends:%H:%M}"


class Visit(models.Model):
    """A check-in at a customer's, and its check-out with the visit report."""

    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="field_visits")
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="field_visits")
    site = models.ForeignKey(Site, null=True, on_delete=models.PROTECT, related_name="visits")
    token_id = models.BigIntegerField(null=True)
    checked_in_at = models.DateTimeField(db_index=True)
    lat = models.FloatField()
    lon = models.FloatField()
    accuracy_m = models.FloatField()
    mock_location = models.BooleanField(default=False)
    # Metres from the nearest of the customer's sites (0 inside its geofence); NULL: no site known.
    distance_m = models.FloatField(null=True)
    photo_sha256 = models.CharField(max_length=64, db_index=True)
    photo_phash = models.CharField(max_length=16, db_index=True)
    # The 64-bit pHash cut into four 16-bit bands, each indexed: two hashes within d bits agree to
    # within d // 4 bits on at least one band, so near-identical photos are found by index look-ups
    # (custos.field.photos.band_neighbours) and only those few are compared bit by bit.
    photo_band0 = models.PositiveIntegerField(null=True, db_index=True)
    photo_band1 = models.PositiveIntegerField(null=True, db_index=True)
    photo_band2 = models.PositiveIntegerField(null=True, db_index=True)
    photo_band3 = models.PositiveIntegerField(null=True, db_index=True)
    # What the watermark camera printed on the photo: time, position, address, employee.
    watermark = models.JSONField(default=dict)
    checked_out_at = models.DateTimeField(null=True, blank=True)
    out_lat = models.FloatField(null=True, blank=True)
    out_lon = models.FloatField(null=True, blank=True)
    out_accuracy_m = models.FloatField(null=True, blank=True)
    report = models.TextField(blank=True)
    follow_up = models.ForeignKey(FollowUp, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    entry_seq = models.BigIntegerField(null=True)
    out_entry_seq = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-checked_in_at", "-id"]
        indexes = [models.Index(fields=["employee", "checked_in_at"])]

    def __str__(self):
        return f"visit #{self.pk}"

    @property
    def minutes(self) -> int | None:
        if self.checked_out_at is None:
            return None
        return int((self.checked_out_at - self.checked_in_at).total_seconds() // 60)


class TrackPoint(models.Model):
    employee = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    at = models.DateTimeField()
    lat = models.FloatField()
    lon = models.FloatField()
    accuracy_m = models.FloatField()
    mock_location = models.BooleanField(default=False)
    entry_seq = models.BigIntegerField(null=True)

    class Meta:
        ordering = ["employee_id", "at"]
        constraints = [models.UniqueConstraint(fields=["employee", "at"], name="field_point_once")]

    def __str__(self):
        return f"{self.employee_id} {self.at:%Y-%m-%d %H:%M:%S}"


KIND_LABELS = {
    "far_check_in": _("Check-in far from the customer's site"),
    "impossible_speed": _("Impossible speed between positions"),
    "photo_reused": _("Check-in photo reused"),
    "mock_location": _("Mock location reported by the phone"),
    "left_area": _("Left the assigned area during a shift"),
}
