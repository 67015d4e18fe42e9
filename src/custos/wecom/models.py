"""The WeCom connector's state: the company's connection, what it learnt from WeCom, what it asked of it.

Facts (a customer deleted, a group created, a transfer confirmed) go to the ledger; these tables
hold only the connector's working state: secrets (sealed with the field key, registered for
`custos keys rotate`), the mapping of WeCom's ids onto units, employees and customers, received
callbacks waiting to be handled, sync progress, transfer jobs and outgoing app messages.
"""

from django.db import models
from django.utils.translation import gettext_lazy as _


class Connection(models.Model):
    """One row (pk=1): how this company reaches WeCom. Secrets are sealed, never shown again."""

    corp_id = models.CharField(max_length=64, blank=True)
    # WeCom's API root; a local stub in tests and the demo (wecom.stub).
    api_base = models.CharField(max_length=200, default="https://qyapi.weixin.qq.com")
    agent_id = models.CharField(max_length=20, blank=True)
    app_secret_encrypted = models.TextField(blank=True)
    contact_secret_encrypted = models.TextField(blank=True)
    directory_secret_encrypted = models.TextField(blank=True)
    callback_token_encrypted = models.TextField(blank=True)
    callback_aes_key_encrypted = models.TextField(blank=True)
    # WeCom userids that count as the company's observer in a customer group (a service desk
    # account, the owner's own account): a group without one of them raises private_group.
    observers = models.JSONField(default=list, blank=True)
    enabled = models.BooleanField(default=False)
    transfers_enabled = models.BooleanField(default=True)
    app_messages_enabled = models.BooleanField(default=True)
    last_test_at = models.DateTimeField(null=True, blank=True)
    last_test_ok = models.BooleanField(null=True)
    last_test_message = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey("org.Employee", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    def __str__(self):
        return self.corp_id or "wecom connection"


class AccessToken(models.Model):
    """WeCom's access_token per secret, cached until it expires and shared by every process."""

    secret_kind = models.CharField(max_length=20, unique=True)
    token_encrypted = models.TextField()
    expires_at = models.DateTimeField()

    def __str__(self):
        return self.secret_kind


class DepartmentLink(models.Model):
    department_id = models.BigIntegerField(unique=True)
    unit = models.ForeignKey("org.Unit", on_delete=models.PROTECT, related_name="+")
    name = models.CharField(max_length=100)
    parent_id = models.BigIntegerField(null=True)
    missing_since = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.name


class MemberLink(models.Model):
    """A WeCom member (userid) and the employee they are. A member gone from WeCom is flagged, never
    deleted, and the employee stays."""

    userid = models.CharField(max_length=64, unique=True)
    employee = models.OneToOneField(
        "org.Employee", null=True, blank=True, on_delete=models.PROTECT, related_name="wecom_member"
    )
    name = models.CharField(max_length=100, blank=True)
    departments = models.JSONField(default=list)
    status = models.PositiveSmallIntegerField(default=1)  # WeCom: 1 active, 2 disabled, 4 not activated, 5 left
    missing_since = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True, blank=True)

    def __str__(self):
        return self.userid


class FollowRelation(models.Model):
    """One staff member's side of an external contact (WeCom's follow_user / follow_info)."""

    external_userid = models.CharField(max_length=64)
    userid = models.CharField(max_length=64)
    customer_id = models.BigIntegerField(null=True, db_index=True)
    remark = models.CharField(max_length=100, blank=True)
    description = models.CharField(max_length=300, blank=True)
    tag_ids = models.JSONField(default=list)
    add_way = models.IntegerField(null=True)
    added_at = models.DateTimeField(null=True)
    state = models.CharField(max_length=64, blank=True)
    deleted_at = models.DateTimeField(null=True, blank=True)
    synced_at = models.DateTimeField(null=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["external_userid", "userid"], name="wecom_follow_once")]
        indexes = [models.Index(fields=["userid"])]

    def __str__(self):
        return f"{self.userid} → {self.external_userid}"


class CorpTag(models.Model):
    tag_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(max_length=40)
    group_id = models.CharField(max_length=64)
    group_name = models.CharField(max_length=40)
    deleted = models.BooleanField(default=False)

    def __str__(self):
        return self.name


class Callback(models.Model):
    """A callback WeCom sent: acknowledged at once, handled by the worker after.

    `key` makes WeCom's retries of one event one row. A refused callback (bad signature, stale,
    malformed) keeps its reason and none of its content.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", _("Waiting")
        DONE = "done", _("Handled")
        IGNORED = "ignored", _("Not needed")
        WAITING_MEMBER = "waiting_member", _("Waiting for the directory sync")
        FAILED = "failed", _("Failed")
        REFUSED = "refused", _("Refused")

    key = models.CharField(max_length=300, unique=True)
    received_at = models.DateTimeField(auto_now_add=True, db_index=True)
    event = models.CharField(max_length=64, blank=True)
    change_type = models.CharField(max_length=64, blank=True)
    data = models.JSONField(default=dict)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RECEIVED)
    outcome = models.CharField(max_length=300, blank=True)
    entry_seqs = models.JSONField(default=list)
    attempts = models.PositiveSmallIntegerField(default=0)
    handled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-received_at", "-id"]

    def __str__(self):
        return self.key


class SyncRun(models.Model):
    """A directory or contacts sync: resumable from `state`, its progress shown while it runs."""

    class Kind(models.TextChoices):
        DIRECTORY = "directory", _("Departments and members")
        CONTACTS = "contacts", _("Customers and tags")

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    kind = models.CharField(max_length=20, choices=Kind.choices)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    started_at = models.DateTimeField(auto_now_add=True)
    heartbeat_at = models.DateTimeField(null=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    counts = models.JSONField(default=dict)
    state = models.JSONField(default=dict)
    error = models.CharField(max_length=500, blank=True)
    started_by = models.ForeignKey("org.Employee", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self):
        return f"{self.kind} sync {self.pk}"

    @property
    def percent(self) -> int:
        return min(100, round(100 * self.done / self.total)) if self.total else (100 if self.status == "done" else 0)


class Transfer(models.Model):
    """One customer (or customer group) WeCom is asked to move from one member to another.

    WeCom answers a transfer request at once, then moves the customer only after 24 hours in
    which the customer may refuse; the status follows WeCom's answers, never Custos's hopes.
    """

    class Kind(models.TextChoices):
        ONJOB = "onjob", _("In-service transfer (在职继承)")
        RESIGNED = "resigned", _("Departed staff transfer (离职继承)")
        GROUP_ONJOB = "group_onjob", _("Group owner, in service")
        GROUP_RESIGNED = "group_resigned", _("Group owner, departed")

    class Status(models.TextChoices):
        PENDING = "pending", _("Not sent yet")
        WAITING = "waiting", _("Waiting for the customer (24 h)")
        DONE = "done", _("Done")
        REFUSED = "refused", _("Refused by the customer")
        FAILED = "failed", _("Failed")

    plan_id = models.BigIntegerField(db_index=True)
    case_id = models.BigIntegerField(null=True, db_index=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    customer_id = models.BigIntegerField(null=True)
    external_userid = models.CharField(max_length=64, blank=True)
    chat_id = models.CharField(max_length=64, blank=True)
    handover_userid = models.CharField(max_length=64)
    takeover_userid = models.CharField(max_length=64)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    errcode = models.IntegerField(null=True, blank=True)
    reason = models.CharField(max_length=300, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    settled_at = models.DateTimeField(null=True, blank=True)
    next_check_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_check_at"])]

    def __str__(self):
        return f"{self.kind} {self.external_userid or self.chat_id}"


class AppMessage(models.Model):
    """A message to staff through the company's WeCom app (an alert, a contact task)."""

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    userids = models.JSONField(default=list)
    content = models.TextField()
    reason = models.CharField(max_length=64)  # alert:<id> | tasks:<plan id>
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    next_attempt_at = models.DateTimeField(null=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["reason"], name="wecom_app_message_once")]

    def __str__(self):
        return self.reason


# -- The chat archive (会话内容存档): settings, keys, records kept aside, media being fetched -------------
# Appended for the archive pull (wecom/archive_*.py). The messages themselves go to the ledger; these
# tables hold what the pull needs to resume and what it could not append yet, each with its reason.


class ArchiveSettings(models.Model):
    """One row (pk=1): the Finance SDK's library and secret, and the pull's cursor and lease.

    `cursor` is the largest seq stored: it moves in the same transaction as the page's entries, so a
    crash leaves either the page and its cursor or neither. `lock_owner`/`lock_until` is a lease taken
    with one conditional UPDATE, so one pull at a time runs per company on any database and any number
    of workers; a crashed worker's lease runs out by itself.
    """

    sdk_path = models.CharField(max_length=500, blank=True)  # blank: CUSTOS_WECOM_SDK_PATH
    archive_secret_encrypted = models.TextField(blank=True)
    proxy = models.CharField(max_length=300, blank=True)
    proxy_password_encrypted = models.TextField(blank=True)
    enabled = models.BooleanField(default=False)
    cursor = models.BigIntegerField(default=0)
    records_pulled = models.BigIntegerField(default=0)
    lock_owner = models.CharField(max_length=64, blank=True)
    lock_until = models.DateTimeField(null=True, blank=True)
    last_pull_at = models.DateTimeField(null=True, blank=True)
    last_pull_ok = models.BooleanField(null=True)
    last_pull_message = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self):
        return f"chat archive at seq {self.cursor}"


class ArchiveKey(models.Model):
    """The company's RSA private key for one publickey_ver, sealed with the field key."""

    version = models.PositiveIntegerField(unique=True)
    private_key_encrypted = models.TextField()
    fingerprint = models.CharField(max_length=64)  # SHA-256 of the public key (DER), to tell keys apart
    added_at = models.DateTimeField(auto_now=True)
    added_by = models.ForeignKey("org.Employee", null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["version"]

    def __str__(self):
        return f"publickey_ver {self.version}"


class HeldRecord(models.Model):
    """A record the pull could not open (no key for its version, or the key on file does not open it).

    Kept as WeCom sent it, still encrypted, and imported when the right key is added.
    """

    class Reason(models.TextChoices):
        UNKNOWN_KEY = "unknown_key", _("No private key for its version")
        WRONG_KEY = "wrong_key", _("The key on file does not open it")
        UNDECRYPTABLE = "undecryptable", _("DecryptData failed")

    class Status(models.TextChoices):
        HELD = "held", _("Held")
        IMPORTED = "imported", _("Imported")

    seq = models.BigIntegerField(unique=True)
    msgid = models.CharField(max_length=200)
    publickey_ver = models.PositiveIntegerField(db_index=True)
    encrypt_random_key = models.TextField()
    encrypt_chat_msg = models.TextField()
    reason = models.CharField(max_length=20, choices=Reason.choices)
    detail = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.HELD)
    held_at = models.DateTimeField(auto_now_add=True)
    released_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["seq"]
        indexes = [models.Index(fields=["status", "publickey_ver"])]

    def __str__(self):
        return f"held record {self.seq}"


class ArchiveMessage(models.Model):
    """A decrypted message not (yet) in the ledger, with why: waiting for its file, a chat between staff
    only, a member the directory does not know, or a message that does not fit the archive.

    The message is sealed (it is chat content); it is emptied once the message is appended.
    """

    class Status(models.TextChoices):
        WAITING_MEDIA = "waiting_media", _("Waiting for its file")
        INTERNAL = "internal", _("Between staff members only")
        UNKNOWN_MEMBER = "unknown_member", _("Member not in the directory")
        INVALID = "invalid", _("Does not fit the archive")
        APPENDED = "appended", _("In the archive")

    msgid = models.CharField(max_length=200, unique=True)
    seq = models.BigIntegerField(null=True, blank=True)  # null: imported from a file
    msgtype = models.CharField(max_length=40, blank=True)
    msgtime = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices)
    reason = models.CharField(max_length=300, blank=True)
    message_encrypted = models.TextField(blank=True)
    # A recall of a message still waiting for its file waits for it (appended right after it).
    waits_for = models.CharField(max_length=200, blank=True, db_index=True)
    entry_seq = models.BigIntegerField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status"])]

    def __str__(self):
        return self.msgid


class ArchiveMedia(models.Model):
    """The file of an image, voice note, video or file message, fetched chunk by chunk from WeCom.

    `index_buf` is the SDK's outindexbuf after the last chunk stored and `part_length` how much of the
    sealed part file that is, both written after the chunk is on disk: a restart truncates the part to
    `part_length` and asks for `index_buf`, so nothing is fetched twice into the file or skipped.
    """

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        FETCHED = "fetched", _("Fetched")
        FAILED = "failed", _("Failed")

    # No database constraint: on PostgreSQL archive_message is partitioned by month (primary key
    # (id, occurred_at), custos.core.partitioning) and a foreign key cannot reference id alone.
    # The app keeps it: media rows are only made for a message it has just written, and PROTECT
    # is Django's, so deleting a message with media is still refused.
    message = models.OneToOneField(
        ArchiveMessage, on_delete=models.PROTECT, related_name="media", db_constraint=False
    )
    sdkfileid = models.TextField()
    md5sum = models.CharField(max_length=64, blank=True)
    expected_size = models.BigIntegerField(null=True, blank=True)
    name = models.CharField(max_length=255, blank=True)
    mime = models.CharField(max_length=100, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.WAITING)
    reason = models.CharField(max_length=300, blank=True)
    index_buf = models.CharField(max_length=200, blank=True)
    bytes_done = models.BigIntegerField(default=0)
    part_length = models.BigIntegerField(default=0)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, blank=True)
    size = models.BigIntegerField(null=True, blank=True)
    fetched_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self):
        return f"media of {self.message_id}"


def _register_archive_sealed() -> None:
    # Here rather than in apps.py: the archive's sealed columns join `custos keys rotate` with its models.
    from custos.wecom import archive_sealed

    archive_sealed.register_encrypted()


_register_archive_sealed()
