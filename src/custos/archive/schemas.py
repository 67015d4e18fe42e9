"""What a device or connector may send: one pydantic model per entry kind's payload.

Each event of a batch is validated on its own, so one bad event is rejected with its reason
while the others go in. The models describe the wire; services.ingest turns them into the
ledger payloads of docs/events.md (a phone number, for instance, arrives in clear and is stored
masked with its blind index only).
"""

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

# WeCom 会话内容存档 msgtypes, plus transfer (work-phone agents report WeChat transfers).
# Anything else is accepted too and kept whole in `raw`: a new WeCom type must not be lost.
KNOWN_MSGTYPES = (
    "text", "image", "revoke", "agree", "disagree", "voice", "video", "card", "location", "emotion", "file",
    "link", "weapp", "chatrecord", "todo", "vote", "collect", "redpacket", "meeting", "docmsg", "markdown",
    "news", "calendar", "mixed", "meeting_voice_call", "voip_doc_share", "external_redpacket", "sphfeed",
    "transfer",
)  # fmt: skip
MONEY_TYPES = ("redpacket", "external_redpacket", "transfer")
MEDIA_TYPES = ("image", "voice", "video", "file", "emotion", "meeting_voice_call")

Key = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Sha256 = Annotated[str, StringConstraints(pattern=r"^[0-9a-fA-F]{64}$", to_lower=True)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Attachment(Strict):
    sha256: Sha256
    name: str = Field("", max_length=255)
    size: int = Field(..., ge=0, le=1 << 40)
    mime: str = Field("application/octet-stream", max_length=100)


class MessageIn(Strict):
    msgtype: str = Field(..., pattern=r"^[a-z0-9_]{1,40}$")
    conversation: Key
    contact: Key | None = None
    group: Key | None = None
    text: str | None = Field(None, max_length=20000)
    attachment: Attachment | None = None
    amount: int | None = Field(None, ge=0, le=10**12, description="in fen")
    sender_role: Literal["staff", "customer"] | None = None
    raw: dict = Field(default_factory=dict)

    @model_validator(mode="after")
    def _party(self):
        if self.contact is None and self.group is None:
            raise ValueError("a message names its contact or its group")
        return self


class RecalledIn(Strict):
    message: Key
    conversation: Key


class DeletedOnDeviceIn(Strict):
    conversation: Key
    contact: Key | None = None
    group: Key | None = None


class CallIn(Strict):
    direction: Literal["in", "out"]
    number: str = Field(..., min_length=3, max_length=40, description="in clear; stored masked and indexed")
    duration_s: int = Field(..., ge=0, le=86400)
    attachment: Attachment | None = None
    note: str = Field("", max_length=5000)
    contact: Key | None = None


class ContactAddedIn(Strict):
    contact: Key
    name: str = Field("", max_length=100)
    phone: str | None = Field(None, max_length=40, description="in clear; stored masked and indexed")


class ContactIn(Strict):
    contact: Key


class Member(Strict):
    contact: Key | None = None
    employee: Key | None = None


class GroupCreatedIn(Strict):
    group: Key
    name: str = Field("", max_length=200)
    members: list[Member] = Field(default_factory=list, max_length=2000)
    has_company_observer: bool = False


class GroupMemberIn(Strict):
    group: Key
    member: Member


PAYLOADS: dict[str, type[BaseModel]] = {
    "message.sent": MessageIn,
    "message.received": MessageIn,
    "message.recalled": RecalledIn,
    "chat.deleted_on_device": DeletedOnDeviceIn,
    "call.logged": CallIn,
    "contact.added": ContactAddedIn,
    "contact.deleted_by_staff": ContactIn,
    "contact.deleted_by_customer": ContactIn,
    "group.created": GroupCreatedIn,
    "group.member_added": GroupMemberIn,
    "group.member_removed": GroupMemberIn,
}


class EventIn(Strict):
    kind: str = Field(..., max_length=64)
    source_id: str = Field(..., min_length=1, max_length=200)
    occurred_at: datetime
    employee: str | None = Field(
        None, max_length=150, description="integration tokens: the employee's number or user name"
    )
    payload: dict


MAX_BATCH = 1000
