"""The keys search finds messages by, with no word in them: keyed hashes (HMAC-SHA256 under the
index key, custos.core.crypto.index_key, truncated to 12 hex digits).

Chinese has no spaces to split words at, so a message is found by the characters and the pairs
of neighbouring characters (bigrams) of its text, file name or call note, upper-cased; a term of
one or two characters is then exactly one key, a longer one the keys of its bigrams, which every
message holding it has but which a message may have without holding it: such a term is confirmed
on the opened rows (selectors.search). On PostgreSQL the keys of the message's kind, msgtype,
employee and customer are in the same GIN index, so one index scan intersects the words with
the filters (migration 0005's reason, still true). SQLite indexes the words' keys with FTS5.

A copy of the database holds only these hashes: without the index key nobody can tell which
characters they stand for, though equal characters still have equal keys (how often each
occurs can be counted, as for any index that answers look-ups).
"""

import hashlib
import hmac

from django.db import connection

from custos.core import crypto

LENGTH = 12  # hex digits: 48 bits, a collision among a corpus's grams is a confirmed-away miss
EXACT = 2  # a term of at most this many characters is exactly its keys (no confirmation needed)


def _token(domain: bytes, value: str) -> str:
    return hmac.new(crypto.index_key(), domain + value.encode(), hashlib.sha256).hexdigest()[:LENGTH]


def _grams(text: str) -> set[str]:
    text = text.upper()
    grams = {c for c in text if not c.isspace()}
    grams.update(a + b for a, b in zip(text, text[1:], strict=False) if not (a.isspace() or b.isspace()))
    return grams


def text_keys(*parts: str | None) -> list[str]:
    """The keys of a message's searchable text (its text, file name, call note)."""
    grams: set[str] = set()
    for part in parts:
        if part:
            grams |= _grams(part)
    return sorted(_token(b"g\x00", g) for g in grams)


def term_keys(term: str) -> list[str]:
    """The keys every message holding `term` has: its character, or its bigrams."""
    term = term.upper()
    if len(term) < EXACT:
        return [_token(b"g\x00", term)] if term else []
    return sorted({_token(b"g\x00", term[i : i + 2]) for i in range(len(term) - 1)})


def needs_confirming(term: str) -> bool:
    return len(term) > EXACT


def filter_key(name: str, value) -> str:
    """The key of a filter: k kind, t msgtype, e employee, c customer."""
    return _token(b"f\x00" + name.encode() + b"\x00", str(value))


def filter_keys(kind: str, msgtype: str, employee_id: int, customer_id: int | None) -> list[str]:
    keys = [filter_key("k", kind), filter_key("t", msgtype), filter_key("e", employee_id)]
    if customer_id is not None:
        keys.append(filter_key("c", customer_id))
    return keys


def stored(keys: list[str]):
    """The column's value as this database keeps it: an array (PostgreSQL), words (SQLite, FTS5)."""
    return keys if connection.vendor == "postgresql" else " ".join(keys)


def row_keys(row: dict, words: list[str]) -> list[str]:
    """A new message row's keys: its words', and on PostgreSQL its filters' beside them."""
    if connection.vendor != "postgresql":
        return words
    return words + filter_keys(row["kind"], row["msgtype"], row["employee_id"], row["customer_id"])
