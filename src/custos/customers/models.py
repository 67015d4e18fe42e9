"""Customer records: the company's, not the salesperson's.

A customer has an owner (who works with them) and a home unit (the store or team they belong
to); both change only through `services.change_owner`, which writes a ledger entry. Contact
details live in CustomerContact, encrypted, never in clear in the database. Nothing here is
ever hard-deleted: customers are archived, contacts are marked removed.
"""

import json

from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from custos.core import crypto
from custos.org.models import Employee, Unit


class Tag(models.Model):
    """A company-wide label ("老客户", "高端", "装修中"). A table rather than a JSON list: an
    indexed join filters the same way on SQLite and PostgreSQL."""

    name = models.CharField(max_length=20, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self):
        return self.name


class Customer(models.Model):
    class Kind(models.TextChoices):
        PERSON = "person", _("Person")
        COMPANY = "company", _("Company")

    class Status(models.TextChoices):
        # "Active" alone is an employee's status (在职); a customer's reads differently.
        ACTIVE = "active", pgettext_lazy("customer status", "Active")
        IN_POOL = "in_pool", _("In the pool")
        ARCHIVED = "archived", _("Archived")

    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.PERSON)
    name = models.CharField(max_length=100, db_index=True)
    # The name, its pinyin and initials (names.search_key), kept in step with the name by save().
    search_key = models.CharField(max_length=300, blank=True, default="", editable=False)
    # NULL only while the customer waits in the public pool (公海池) for someone to claim them.
    owner = models.ForeignKey(
        Employee, null=True, blank=True, on_delete=models.PROTECT, related_name="customers"
    )
    unit = models.ForeignKey(Unit, on_delete=models.PROTECT, related_name="customers")
    # A letter today (A-D, settings.CUSTOS_CUSTOMER_GRADES); a plain string so grades can be configured.
    grade = models.CharField(max_length=8, default="C", db_index=True)
    # The chain's member card (会员卡号): what a customer shows in any store (custos.customers.chain).
    member_no = models.CharField(max_length=40, null=True, blank=True, unique=True)
    source = models.CharField(max_length=50, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.ACTIVE)
    tags = models.ManyToManyField(Tag, blank=True, related_name="customers")
    # The lines the customer buys; none: seen only by staff without a line limit (access.scope).
    product_lines = models.ManyToManyField("org.ProductLine", blank=True, related_name="customers")
    # The person's or company's details, validated by profiles.py. No contact data in here.
    profile = models.JSONField(default=dict, blank=True)
    # 0-100, recomputed by the services on every write that changes it (completeness.py).
    completeness = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(
        Employee, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    # A default, not auto_now_add: an import or the demo keeps the date a record really began.
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    last_contact_at = models.DateTimeField(null=True, blank=True)
    next_follow_up_on = models.DateField(null=True, blank=True)
    # Set on a duplicate merged into another record; the duplicate stays archived.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged"
    )

    class Meta:
        ordering = ["-updated_at", "-id"]
        indexes = [
            models.Index(fields=["owner", "status"]),
            models.Index(fields=["unit", "status"]),
            models.Index(fields=["next_follow_up_on"]),
            models.Index(fields=["last_contact_at"]),
            # The lists' order: a page is read off an index instead of sorting every row in scope
            # (at a million customers the sort alone took 100-400 ms).
            models.Index(fields=["-updated_at", "-id"], name="customer_recent"),
            models.Index(fields=["owner", "-updated_at", "-id"], name="customer_owner_recent"),
            models.Index(fields=["unit", "-updated_at", "-id"], name="customer_unit_recent"),
            # A page's capped count ("1,000+") with filters, read from the index alone: in id order
            # PostgreSQL merges it with a tag's links instead of hashing all of them and scanning
            # the table (a store's count with a tag went from 39 ms to 4 ms at a million).
            # INCLUDE is PostgreSQL's; SQLite gets the (unit, id) index alone.
            models.Index(
                fields=["unit", "id"],
                include=["status", "grade", "kind", "owner", "next_follow_up_on", "last_contact_at"],
                name="customer_unit_count",
            ),
            models.Index(
                fields=["owner", "id"],
                include=["status", "grade", "kind", "unit", "next_follow_up_on", "last_contact_at"],
                name="customer_owner_count",
            ),
        ]

    def __str__(self):
        return self.name

    def save(self, *args, **kwargs):
        from custos.customers.names import search_key

        self.search_key = search_key(self.name)
        fields = kwargs.get("update_fields")
        if fields is not None and "name" in fields and "search_key" not in fields:
            kwargs["update_fields"] = [*fields, "search_key"]
        super().save(*args, **kwargs)


class CustomerContact(models.Model):
    """One phone number, WeChat id, WeCom id or address of a customer, encrypted at rest.

    value_encrypted is AES-GCM bound (associated data) to the customer and the kind, so a
    ciphertext copied onto another row does not decrypt. blind_index is an HMAC of the
    normalised value for exact look-up and duplicate checks; masked is what people see.
    """

    class Kind(models.TextChoices):
        PHONE = "phone", _("Phone")
        WECHAT = "wechat", _("WeChat")
        WECOM = "wecom", _("WeCom")
        ADDRESS = "address", _("Address")

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="contacts")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    label = models.CharField(max_length=40, blank=True)
    value_encrypted = models.TextField()
    blind_index = models.CharField(max_length=64, null=True, blank=True)
    # Phones only: an HMAC of the last four digits (尾号), for "find the customer ending 5678"
    # without the database ever holding the digits.
    tail_index = models.CharField(max_length=64, null=True, blank=True)
    masked = models.CharField(max_length=80)
    created_by = models.ForeignKey(
        Employee, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    removed_at = models.DateTimeField(null=True, blank=True)
    removed_by = models.ForeignKey(
        Employee, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["kind", "id"]
        constraints = [
            # A number or id belongs to one customer in the whole company while it is in use:
            # the database holds the line even if two people add it at the same moment.
            models.UniqueConstraint(
                fields=["kind", "blind_index"],
                condition=Q(removed_at__isnull=True, blind_index__isnull=False),
                name="customer_contact_unique_in_use",
            ),
        ]
        indexes = [
            models.Index(fields=["blind_index"]),
            models.Index(fields=["tail_index"], name="customer_contact_tail"),
        ]

    def __str__(self):
        return f"{self.kind} {self.masked}"

    @property
    def removed(self) -> bool:
        return self.removed_at is not None


class FollowUp(models.Model):
    """跟进记录: one contact with the customer and what came of it."""

    class Kind(models.TextChoices):
        CALL = "call", _("Call")
        VISIT = "visit", _("Visit")
        WECHAT = "wechat", _("WeChat")
        MEETING = "meeting", _("Meeting")
        EMAIL = "email", _("Email")
        NOTE = "note", _("Note")

    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="follow_ups")
    author = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=10, choices=Kind.choices)
    content = models.TextField()
    outcome = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField(db_index=True)
    next_follow_up_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]

    def __str__(self):
        return f"{self.kind} {self.occurred_at:%Y-%m-%d}"


class Purchase(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="purchases")
    product = models.CharField(max_length=100)
    amount = models.DecimalField(max_digits=12, decimal_places=2)
    purchased_on = models.DateField(db_index=True)
    note = models.CharField(max_length=200, blank=True)
    recorded_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-purchased_on", "-id"]
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=0), name="purchase_amount_not_negative")
        ]

    def __str__(self):
        return f"{self.product} {self.amount}"


class Feedback(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="feedback")
    rating = models.PositiveSmallIntegerField()
    complaint = models.TextField(blank=True)
    recorded_by = models.ForeignKey(Employee, null=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "feedback"
        constraints = [
            models.CheckConstraint(condition=Q(rating__gte=1, rating__lte=5), name="feedback_rating_1_to_5")
        ]

    def __str__(self):
        return f"{self.rating}/5"


IMPORT_DETAILS_AAD = b"customers.import.details"


class ImportJob(models.Model):
    """A sheet uploaded in the console or the API: its mapping, its dry run, its progress.

    The upload itself is kept only until the import has run, encrypted with the field key
    (it is full of phone numbers), then emptied. The sheet's header and the dry run's report are
    encrypted too: a sheet without a header row has data for column names, and a row's error
    quotes the value that was wrong ("“1391234” is not a valid phone number").
    """

    class Status(models.TextChoices):
        UPLOADED = "uploaded", _("Uploaded")
        CHECKING = "checking", _("Checking")
        CHECKED = "checked", _("Checked")
        QUEUED = "queued", _("Waiting")
        RUNNING = "running", _("Importing")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    created_by = models.ForeignKey(Employee, on_delete=models.PROTECT, related_name="+")
    # Which sheet: customers, or another app's registered through imports.register_sheet.
    kind = models.CharField(max_length=16, default="customers")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(auto_now=True)
    filename = models.CharField(max_length=200)
    sheet_encrypted = models.TextField(blank=True)
    # {"header": [...], "report": {...}} as encrypted JSON; read and written through the properties.
    details_encrypted = models.TextField(blank=True)
    mapping = models.JSONField(default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UPLOADED)
    # Rows to go and rows gone, of the dry run while checking, of the import while importing.
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["created_by", "created_at"])]

    def __str__(self):
        return f"{self.filename} ({self.status})"

    def _details(self) -> dict:
        cached = self.__dict__.get("_details_cache")
        if cached is None:
            text = self.details_encrypted
            cached = json.loads(crypto.decrypt(text, aad=IMPORT_DETAILS_AAD)) if text else {}
            self.__dict__["_details_cache"] = cached
        return cached

    def _set_detail(self, key: str, value) -> None:
        details = {**self._details(), key: value}
        self.details_encrypted = crypto.encrypt(json.dumps(details, ensure_ascii=False), aad=IMPORT_DETAILS_AAD)
        self.__dict__["_details_cache"] = details

    def refresh_from_db(self, *args, **kwargs):
        self.__dict__.pop("_details_cache", None)
        super().refresh_from_db(*args, **kwargs)

    # The sheet's column names.
    header = property(lambda self: self._details().get("header", []), lambda self, v: self._set_detail("header", v))
    # The dry run: {"would_create": n, "duplicates": [{"row", "message"}], "errors": [...]}.
    report = property(lambda self: self._details().get("report", {}), lambda self, v: self._set_detail("report", v))

    @property
    def percent(self) -> int:
        return 100 if self.status == self.Status.DONE else (self.done * 100 // self.total if self.total else 0)

    @property
    def active(self) -> bool:
        return self.status in (self.Status.CHECKING, self.Status.QUEUED, self.Status.RUNNING)
