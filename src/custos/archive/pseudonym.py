"""Customers' WeChat ids never kept in clear (issue #20 item 3): a keyed pseudonym instead.

A work phone names a WeChat contact by the customer's WeChat id. Where that id enters Custos
(services.ingest, so the API, `custos archive ingest` and the demos alike; and the projection, for
entries an older Custos appended), it is replaced by
`wx:` + the same HMAC-SHA256 under the index key as the customers' WeChat blind index
(customers.contacts.index), so:
- the same id gives the same key (re-sent events still deduplicate, chats still group);
- a database without the index key cannot tell which id a key stands for;
- matching a contact to its customer is an exact look-up of the key's hex in the customers'
  blind indexes (archive.matching).

Left in clear: WeCom's external ids (wm…/wo…, opaque per company, needed for WeCom's API) and
group chat ids (wr…), keys already pseudonymised, and the demo's `tel_…` placeholders.
"""

import re

from custos.customers import contacts

PREFIX = "wx:"
# What WeChat allows in an id (a letter first; letters, digits, _ and -): no "single:…" or "tel:…"
_WECHAT_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{1,63}$")
_CLEAR = ("wm", "wo", "wr", "tel_", "tel:", PREFIX)


def is_wechat_id(key: str) -> bool:
    """Whether a contact key is (as far as Custos can tell) a WeChat id to pseudonymise."""
    return bool(key) and not key.startswith(_CLEAR) and _WECHAT_ID.match(key) is not None


def of(key: str | None) -> str | None:
    """The key to keep for a contact key as sent: its pseudonym when it is a WeChat id."""
    if key is None or not is_wechat_id(key):
        return key
    return PREFIX + contacts.index(contacts.Kind.WECHAT, key.lower())


def wechat_index(key: str) -> str | None:
    """The customers' WeChat blind index a pseudonym stands for (None when `key` is none)."""
    return key[len(PREFIX):] if key.startswith(PREFIX) else None


def payload(data: dict) -> dict:
    """A validated wire payload with every WeChat id in it replaced by its pseudonym (and the
    contact's own id beside it as `wechat_id`, which only sealed columns keep)."""
    raw = data.get("contact")
    if raw is not None:
        data["contact"] = of(raw)
        if data["contact"] != raw:
            # the id itself, for the console: sealed in the ledger's payload and on the contact
            data["wechat_id"] = raw
    # a one-to-one chat is keyed by its contact's id (a recall names only the conversation): the
    # same pseudonym; a group's key is the group's
    if data.get("conversation") and not data.get("group"):
        data["conversation"] = of(data["conversation"])
    member = data.get("member")
    if isinstance(member, dict) and member.get("contact"):
        member["contact"] = of(member["contact"])
    for m in data.get("members") or ():
        if isinstance(m, dict) and m.get("contact"):
            m["contact"] = of(m["contact"])
    return data
