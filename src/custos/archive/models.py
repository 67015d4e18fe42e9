"""The conversation archive: device signing secrets, replay guard, attachments and the read model.

Message, Conversation, ExternalContact and Group are a projection of the ledger (projection.py):
`custos ledger rebuild archive` empties and refills them. Nothing in them is the record; the
ledger entries are. Employee and customer are plain ids where history must not cascade.
"""

from django.db import models

from custos.access.models import ApiToken
from custos.core.sealed import SealedJSONField, SealedTextField


class SearchKeysField(models.Field):
    """A list of keys: a text[] under a GIN index on PostgreSQL, words under FTS5 on SQLite."""

    def db_type(self, connection):
        return "text[]" if connection.vendor == "postgresql" else "text"

    def from_db_value(self, value, expression, connection):
        if value is None or isinstance(value, list):
            return value or []
        return value.split()

    def get_db_prep_value(self, value, connection, prepared=False):
        value = list(value or [])
        return value if connection.vendor == "postgresql" else " ".join(value)

    def to_python(self, value):
        return value.split() if isinstance(value, str) else list(value or [])


class DeviceCredential(models.Model):
    """The HMAC signing secret of a device or integration token.

    Tokens are stored hashed, but a signature can only be checked by someone holding the key, so
    the secret is kept here encrypted (AES-GCM, bound to the token id) and shown once at issue.
    """

    token = models.OneToOneField(ApiToken, on_delete=models.PROTECT, related_name="device_credential")
    secret_encrypted = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"credential of {self.token}"


class SeenNonce(models.Model):
    """Nonces of signed requests within the accepted clock skew: a second use is a replay."""

    token_id = models.BigIntegerField()
    nonce = models.CharField(max_length=64)
    seen_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["token_id", "nonce"], name="archive_nonce_once")]

    def __str__(self):
        return self.nonce


class Blob(models.Model):
    """An attachment stored encrypted under DATA_DIR/blobs, named by the SHA-256 of its clear bytes."""

    sha256 = models.CharField(max_length=64, primary_key=True)
    size = models.BigIntegerField()
    stored_at = models.DateTimeField(auto_now_add=True)
    uploaded_by_token = models.BigIntegerField(null=True)
    # The field-key version its file is sealed under (the file's header says the same); NULL for
    # blobs stored before it was recorded: `custos keys rotate` reads their header.
    key_version = models.PositiveIntegerField(null=True)

    def __str__(self):
        return self.sha256


class UploadSession(models.Model):
    """A resumable upload: chunks appended at `offset` until `size`, then finalised against `sha256`."""

    id = models.CharField(max_length=32, primary_key=True)
    token_id = models.BigIntegerField()
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField()
    offset = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True)

    def __str__(self):
        return self.id


class ExternalContact(models.Model):
    """A customer as a source knows them (a WeCom external id, a WeChat id, a phone contact).

    Kept even when no customer matches, so a manager can link it later (services.link_contact).
    """

    # A WeChat id is kept as its keyed pseudonym (wx:..., custos.archive.pseudonym) and, for the
    # console, sealed in wechat_id; WeCom's external ids stay as they are.
    external_id = models.CharField(max_length=200, unique=True)
    wechat_id = SealedTextField(blank=True, seal_as="archive.externalcontact.wechat_id")
    name = models.CharField(max_length=100, blank=True)
    customer_id = models.BigIntegerField(null=True, db_index=True)
    phone_masked = models.CharField(max_length=40, blank=True)
    phone_index = models.CharField(max_length=64, blank=True, db_index=True)
    first_seen_at = models.DateTimeField(null=True)
    # The customer's word on archiving, where the source reports one (WeCom's agree / disagree
    # messages): "" unknown, "agreed", "refused"; the latest by time wins (custos.archive.consent).
    consent = models.CharField(max_length=10, blank=True)
    consent_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.name or self.external_id


class Group(models.Model):
    group_key = models.CharField(max_length=200, unique=True)
    name = models.CharField(max_length=200, blank=True)
    has_company_observer = models.BooleanField(default=False)
    members = models.JSONField(default=list)
    created_at = models.DateTimeField(null=True)

    def __str__(self):
        return self.name or self.group_key


class Conversation(models.Model):
    """One employee's chat with a contact or a group, as their device or connector reported it."""

    employee = models.ForeignKey("org.Employee", on_delete=models.PROTECT, related_name="+")
    key = models.CharField(max_length=200)
    contact = models.ForeignKey(
        ExternalContact, null=True, on_delete=models.PROTECT, related_name="conversations"
    )
    group = models.ForeignKey(Group, null=True, on_delete=models.PROTECT, related_name="conversations")
    customer_id = models.BigIntegerField(null=True, db_index=True)
    title = models.CharField(max_length=200, blank=True)
    messages = models.PositiveIntegerField(default=0)
    last_at = models.DateTimeField(null=True, db_index=True)
    deleted_on_device_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["-last_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["employee", "key"], name="archive_conversation_key")]
        # A person's conversations newest first: their list, and the conversations of a store's staff
        # in the last 30 days a limited manager's dashboard counts.
        indexes = [models.Index(fields=["employee", "-last_at"], name="archive_conv_employee_recent")]

    def __str__(self):
        return self.title or self.key


class Message(models.Model):
    """A message or call, one per ledger entry (entry_seq), with what search and the chat page need."""

    entry_seq = models.BigIntegerField(unique=True)
    source_id = models.CharField(max_length=200)
    kind = models.CharField(max_length=32)  # message.sent | message.received | call.logged
    msgtype = models.CharField(max_length=40)
    conversation = models.ForeignKey(Conversation, null=True, on_delete=models.PROTECT, related_name="items")
    employee = models.ForeignKey("org.Employee", on_delete=models.PROTECT, related_name="+")
    unit_id = models.BigIntegerField(null=True)
    customer_id = models.BigIntegerField(null=True, db_index=True)
    contact_key = models.CharField(max_length=200, blank=True, db_index=True)
    sender_role = models.CharField(max_length=10)
    # What was said, the file's name and the rest of the body (a location, a card, a call's
    # masked number) are sealed at rest (custos.core.sealed): a copy of the database reads none.
    text = SealedTextField(blank=True, seal_as="archive.message.text")
    # What search finds the message by: keyed hashes of the characters of its text, file name and
    # call note, and on PostgreSQL of its filters (search_keys.py), so the index holds no word.
    search_keys = SearchKeysField(default=list, blank=True)
    attachment_sha256 = models.CharField(max_length=64, blank=True, db_index=True)
    attachment_name = SealedTextField(blank=True, seal_as="archive.message.attachment_name")
    attachment_mime = models.CharField(max_length=100, blank=True)
    attachment_size = models.BigIntegerField(null=True)
    amount_fen = models.BigIntegerField(null=True)
    occurred_at = models.DateTimeField(db_index=True)
    recalled_at = models.DateTimeField(null=True)
    deleted_on_device = models.BooleanField(default=False)
    extra = SealedJSONField(blank=True, seal_as="archive.message.extra")

    class Meta:
        ordering = ["occurred_at", "entry_seq"]
        indexes = [
            models.Index(fields=["conversation", "occurred_at"]),
            models.Index(fields=["employee", "occurred_at"]),
            models.Index(fields=["customer_id", "occurred_at"]),
        ]

    def __str__(self):
        return f"{self.kind} #{self.entry_seq}"
