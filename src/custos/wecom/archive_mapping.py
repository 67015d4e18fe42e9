"""A decrypted chat-archive message (会话内容存档) → the archive's ledger entry (docs/events.md).

Pure: no database. The caller gives the WeCom members it knows (userid → employee) and gets back an
Event to append, or the reason the message is set aside. Field names are WeCom's (获取会话内容,
developer.work.weixin.qq.com/document/path/91774): every message has msgid, action (send / recall /
switch), from, tolist, roomid, msgtime (ms) and msgtype, and its content under a key that is mostly the
msgtype (text{content}, image{md5sum,filesize,sdkfileid}...), except external_redpacket (under
"redpacket"), docmsg ("doc"), and markdown, news, voiptext, qydiskfile ("info").

Who the entry is about:
- `from` is a member userid (staff → message.sent) or an external id (wo…/wm…: a customer →
  message.received);
- a one-to-one chat's conversation and contact are the customer's external id; a group chat's
  conversation and group are its roomid, and its contact is the customer who spoke (none for staff);
- the entry's employee is the staff member in the chat: the sender, or for a customer's message the
  first member of tolist the directory knows. A chat with no customer in it (staff with staff) or with
  a member the directory does not know is set aside with that reason, never dropped.

Every type keeps its WeCom object whole in `raw` (with sdkfileid and md5sum for media), so nothing WeCom
said is lost; `text` is what detection and search read: the words of the message, a chat record's items,
a link's title and description, a file's name. An unknown msgtype is kept whole in `raw` with no text.
"""

from __future__ import annotations

import json
import mimetypes
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pydantic import ValidationError

from custos.archive.schemas import MessageIn, RecalledIn
from custos.ledger.services import Event

SOURCE = "wecom_archive"
MAX_TEXT = 20000  # the archive's limit on `text` (archive.schemas.MessageIn)
EXTERNAL_PREFIXES = ("wo", "wm")  # external contacts' ids (wo: an enterprise WeChat user, wm: a WeChat user)
# Top-level fields turned into payload keys; everything else of a message goes to `raw`.
ENVELOPE = ("msgid", "action", "msgtime", "msgtype", "roomid", "tolist")
# Where a type's object sits when the key is not the msgtype itself.
CONTENT_KEY = {
    "external_redpacket": "redpacket",
    "docmsg": "doc",
    "markdown": "info",
    "news": "info",
    "voiptext": "info",
    "qydiskfile": "info",
    "meeting_notification": "info",
}
# Media: the type's object carries sdkfileid; mime and a default name for the file fetched.
MEDIA = {
    "image": ("image/jpeg", "jpg"),
    "voice": ("audio/amr", "amr"),
    "video": ("video/mp4", "mp4"),
    "file": (None, None),  # its own filename and fileext
    "emotion": (None, None),  # type 1 gif, 2 png
    "meeting_voice_call": ("application/octet-stream", "bin"),
    "voip_doc_share": (None, None),
}


class AsideStatus:
    INTERNAL = "internal"
    UNKNOWN_MEMBER = "unknown_member"
    INVALID = "invalid"


@dataclass(frozen=True)
class Member:
    employee_id: int
    unit_id: int | None


@dataclass
class MediaSpec:
    sdkfileid: str
    md5sum: str
    size: int | None
    name: str
    mime: str


@dataclass
class Mapped:
    msgid: str
    msgtype: str
    occurred_at: datetime | None
    event: Event | None = None
    aside: str | None = None  # AsideStatus when the message is not appended
    reason: str = ""
    media: MediaSpec | None = None  # the entry waits for this file
    recalls: str | None = None  # a recall: the msgid of the message recalled


def is_external(userid: str) -> bool:
    return userid.startswith(EXTERNAL_PREFIXES)


def userids(message: Mapping[str, Any]) -> set[str]:
    """Every WeCom id a message names (for one look-up of the members of a whole page)."""
    found = {str(message.get("from") or ""), str(message.get("user") or "")}
    tolist = message.get("tolist")
    if isinstance(tolist, list):
        found.update(str(u) for u in tolist)
    return {u for u in found if u and not is_external(u)}


def _time(value: Any) -> datetime | None:
    try:
        ms = int(value)
    except (TypeError, ValueError):
        return None
    if ms <= 0:
        return None
    # WeCom gives milliseconds; an exporter that wrote seconds is read as such.
    seconds = ms / 1000 if ms > 10**11 else ms
    try:
        return datetime.fromtimestamp(seconds, tz=UTC)
    except (OverflowError, OSError, ValueError):
        return None


def _s(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def _join(*parts: Any) -> str | None:
    text = "\n".join(p for p in (_s(x) for x in parts) if p)
    return text[:MAX_TEXT] if text else None


def _int(value: Any) -> int | None:
    try:
        number = int(value)
    except (TypeError, ValueError):
        return None
    return number if number >= 0 else None


def _inner(content: Any) -> dict:
    """chatrecord and mixed items carry their object as a JSON string (sometimes as the object)."""
    if isinstance(content, dict):
        return content
    if isinstance(content, str):
        try:
            value = json.loads(content, strict=False)
        except json.JSONDecodeError:
            return {"content": content}
        return value if isinstance(value, dict) else {}
    return {}


def _item_text(kind: str, obj: dict) -> str | None:
    """The words of a chat record's or a mixed message's item (type ChatRecordText, text, link...)."""
    kind = kind.lower().removeprefix("chatrecord")
    if kind in ("text", "markdown"):
        return _join(obj.get("content"))
    if kind == "link":
        return _join(obj.get("title"), obj.get("description"), obj.get("link_url"))
    if kind == "file":
        return _join(obj.get("filename"))
    if kind in ("location",):
        return _join(obj.get("title"), obj.get("address"))
    if kind in ("mixed", "chatrecord"):
        return _items_text(obj.get("item"))
    return _join(obj.get("content"), obj.get("title"))


def _items_text(items: Any) -> str | None:
    if not isinstance(items, list):
        return None
    return _join(*(_item_text(_s(i.get("type")), _inner(i.get("content"))) for i in items if isinstance(i, dict)))


# Each type's searchable text and amount in fen from its object.
def _text(o: dict):
    return _join(o.get("content")), None


def _nothing(o: dict):
    return None, None


def _link(o: dict):
    return _join(o.get("title"), o.get("description"), o.get("link_url")), None


def _weapp(o: dict):
    return _join(o.get("title"), o.get("description"), o.get("displayname")), None


def _card(o: dict):
    return _join(o.get("corpname"), o.get("userid")), None


def _location(o: dict):
    return _join(o.get("title"), o.get("address")), None


def _file(o: dict):
    return _join(o.get("filename")), None


def _chatrecord(o: dict):
    return _join(o.get("title"), _items_text(o.get("item"))), None


def _todo(o: dict):
    return _join(o.get("title"), o.get("content")), None


def _vote(o: dict):
    items = o.get("voteitem") if isinstance(o.get("voteitem"), list) else []
    return _join(o.get("votetitle"), *items), None


def _collect(o: dict):
    details = o.get("details") if isinstance(o.get("details"), list) else []
    return _join(o.get("room_name"), o.get("title"), *(d.get("ques") for d in details if isinstance(d, dict))), None


def _redpacket(o: dict):
    return _join(o.get("wish")), _int(o.get("totalamount"))


def _meeting(o: dict):
    return _join(o.get("topic"), o.get("address"), o.get("remarks")), None


def _doc(o: dict):
    return _join(o.get("title"), o.get("link_url")), None


def _markdown(o: dict):
    return _join(o.get("content") or o.get("markdown")), None


def _news(o: dict):
    items = o.get("item") if isinstance(o.get("item"), list) else []
    return _join(*(f"{_s(i.get('title'))} {_s(i.get('description'))}" for i in items if isinstance(i, dict))), None


def _calendar(o: dict):
    return _join(o.get("title"), o.get("place"), o.get("remarks")), None


def _mixed(o: dict):
    return _items_text(o.get("item")), None


def _sphfeed(o: dict):
    return _join(o.get("sph_name"), o.get("feed_desc")), None


TYPES: dict[str, Callable[[dict], tuple[str | None, int | None]]] = {
    "text": _text,
    "image": _nothing,
    "agree": _nothing,
    "disagree": _nothing,
    "voice": _nothing,
    "video": _nothing,
    "card": _card,
    "location": _location,
    "emotion": _nothing,
    "file": _file,
    "link": _link,
    "weapp": _weapp,
    "chatrecord": _chatrecord,
    "todo": _todo,
    "vote": _vote,
    "collect": _collect,
    "redpacket": _redpacket,
    "external_redpacket": _redpacket,
    "meeting": _meeting,
    "docmsg": _doc,
    "markdown": _markdown,
    "news": _news,
    "calendar": _calendar,
    "mixed": _mixed,
    "meeting_voice_call": _nothing,
    "voip_doc_share": _file,
    "sphfeed": _sphfeed,
    "voiptext": _nothing,
    "qydiskfile": _file,
    "meeting_notification": _text,
}


def content_of(message: Mapping[str, Any], msgtype: str) -> dict:
    obj = message.get(CONTENT_KEY.get(msgtype, msgtype))
    if not isinstance(obj, dict) and msgtype in CONTENT_KEY:
        obj = message.get(msgtype)  # an exporter that used the msgtype as the key
    return obj if isinstance(obj, dict) else {}


def media_of(msgid: str, msgtype: str, obj: dict) -> MediaSpec | None:
    if msgtype not in MEDIA:
        return None
    sdkfileid = _s(obj.get("sdkfileid"))
    if not sdkfileid:
        return None
    mime, ext = MEDIA[msgtype]
    name = _s(obj.get("filename"))
    if msgtype == "emotion":
        ext = "gif" if _int(obj.get("type")) == 1 else "png"
        mime = f"image/{ext}"
    if not name:
        ext = ext or _s(obj.get("fileext")) or "bin"
        name = f"{msgid[:60]}.{ext}"
    if mime is None:
        mime = mimetypes.guess_type(name)[0] or "application/octet-stream"
    size = _int(obj.get("filesize") or obj.get("voice_size") or obj.get("imagesize"))
    return MediaSpec(sdkfileid, _s(obj.get("md5sum")).lower(), size, name[:255], mime[:100])


def _raw(message: Mapping[str, Any]) -> dict:
    raw = {k: v for k, v in message.items() if k not in ENVELOPE}
    tolist = message.get("tolist")
    if isinstance(tolist, list):
        if message.get("roomid"):
            # A group's tolist is every other member, on every message: its size only, not a copy each time.
            raw["tolist_size"] = len(tolist)
        else:
            raw["tolist"] = tolist
    return raw


def _reason(exc: ValidationError) -> str:
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    return f"{where}: {first.get('msg', '')}"[:300]


def map_message(message: Mapping[str, Any], members: Mapping[str, Member]) -> Mapped:
    msgid = _s(message.get("msgid"))
    action = _s(message.get("action"))
    msgtype = _s(message.get("msgtype")) or ("switch" if action == "switch" else "")
    occurred = _time(message.get("msgtime") or message.get("time"))
    out = Mapped(msgid=msgid, msgtype=msgtype[:40], occurred_at=occurred)
    if not msgid or len(msgid) > 200:
        out.aside, out.reason = AsideStatus.INVALID, "msgid: missing or longer than 200 characters"
        return out
    if occurred is None:
        out.aside, out.reason = AsideStatus.INVALID, "msgtime: missing or not a time"
        return out

    if action == "switch":
        # A member logged in on another device (切换企业日志): the member's own fact, no chat.
        user = _s(message.get("user"))
        member = members.get(user)
        if member is None:
            out.aside, out.reason = AsideStatus.UNKNOWN_MEMBER, f"member {user or '?'} is not in the directory"
            return out
        out.event = Event(
            kind="wecom.device_switched", payload={"user": user}, actor_id=member.employee_id,
            unit_id=member.unit_id, source=SOURCE, source_id=msgid, occurred_at=occurred,
        )  # fmt: skip
        return out

    sender = _s(message.get("from"))
    tolist = [str(u) for u in message.get("tolist") or [] if isinstance(u, str | int)]
    roomid = _s(message.get("roomid"))
    everyone = [sender, *tolist]
    externals = [u for u in everyone if is_external(u)]
    if not externals:
        unknown = [u for u in everyone if u and u not in members]
        if unknown:
            out.aside, out.reason = AsideStatus.UNKNOWN_MEMBER, f"member {unknown[0]} is not in the directory"
        else:
            out.aside, out.reason = AsideStatus.INTERNAL, "a chat between staff members only"
        return out
    if is_external(sender):
        role, contact = "customer", sender
        staff = next((u for u in tolist if u in members), None)
        if staff is None:
            named = next((u for u in tolist if not is_external(u)), None)
            out.aside = AsideStatus.UNKNOWN_MEMBER
            out.reason = f"member {named} is not in the directory" if named else "no staff member in the chat"
            return out
    else:
        role, staff = "staff", sender
        if sender not in members:
            out.aside, out.reason = AsideStatus.UNKNOWN_MEMBER, f"member {sender or '?'} is not in the directory"
            return out
        contact = None if roomid else externals[0]
    member = members[staff]
    conversation = roomid or contact or ""

    def event(kind: str, payload: dict) -> Event:
        return Event(
            kind=kind, payload=payload, actor_id=member.employee_id, unit_id=member.unit_id,
            source=SOURCE, source_id=msgid, occurred_at=occurred,
        )  # fmt: skip

    if msgtype == "revoke" or action == "recall":
        pre = _s(content_of(message, "revoke").get("pre_msgid"))
        try:
            payload = RecalledIn(message=pre, conversation=conversation).model_dump(mode="json")
        except ValidationError as exc:
            out.aside, out.reason = AsideStatus.INVALID, _reason(exc)
            return out
        out.event, out.recalls = event("message.recalled", payload), pre
        return out

    obj = content_of(message, msgtype)
    text, amount = TYPES.get(msgtype, _nothing)(obj)
    if msgtype in ("redpacket", "external_redpacket") and amount is None:
        amount = 0  # the archive requires an amount for money; WeCom left it out: 0 and the object in raw
    payload = {
        "msgtype": msgtype,
        "conversation": conversation,
        "contact": contact,
        "group": roomid or None,
        "text": text,
        "attachment": None,
        "amount": amount,
        "sender_role": role,
        "raw": _raw(message),
    }
    try:
        payload = MessageIn.model_validate(payload).model_dump(mode="json")
    except ValidationError as exc:
        out.aside, out.reason = AsideStatus.INVALID, _reason(exc)
        return out
    out.event = event("message.sent" if role == "staff" else "message.received", payload)
    out.media = media_of(msgid, msgtype, obj)
    return out
