"""Whether a copy of the database would show chats or customers' contacts in clear (issue #20).

Reads every row of every table (SQLite: iterdump) and the job queue's file, and looks in them for
what the archive and the customer records hold sealed, read back opened through the models: each
chat's text and file name, each customer's phone number, WeChat id and address. Used by
`custos archive seal-check` and by the dump test (tests/archive/test_sealed_dump.py).
"""

import re
import sqlite3
from pathlib import Path

from django.conf import settings
from django.db import connection

NON_ASCII_RUN = re.compile(r"[^\x00-\x7f]{2,}")
DIGITS = re.compile(r"(?<!\d)\d{11}(?!\d)")
WORD = re.compile(r"[A-Za-z0-9_.@-]{4,}")
KINDS = ("text", "phone", "wechat", "address")


def secrets() -> dict[str, set[str]]:
    """What must not be found in clear: the longest run of Chinese of each text and file name
    (of four characters at least), phone numbers (11 digits), WeChat ids, addresses' Chinese."""
    from custos.archive.models import Message
    from custos.customers import contacts
    from custos.customers.models import CustomerContact

    found: dict[str, set[str]] = {kind: set() for kind in KINDS}
    for text, name in Message.objects.values_list("text", "attachment_name").iterator(chunk_size=5000):
        for value in (text, name):
            runs = NON_ASCII_RUN.findall(value or "")
            if runs and len(max(runs, key=len)) >= 4:
                found["text"].add(max(runs, key=len))
    for contact in CustomerContact.objects.all().iterator(chunk_size=2000):
        value = contacts.open_value(contact)
        if contact.kind == "phone":
            found["phone"].add(value.removeprefix("+86")[-11:])
        elif contact.kind == "wechat":
            found["wechat"].add(value)
        elif contact.kind == "address":
            runs = NON_ASCII_RUN.findall(value)
            if runs:
                found["address"].add(max(runs, key=len))
    return found


def database_text() -> str:
    """Every row of every table, as text (SQLite: its dump)."""
    if connection.vendor == "sqlite":
        connection.ensure_connection()
        return "\n".join(connection.connection.iterdump())
    out = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT t::text FROM {connection.ops.quote_name(table)} AS t")  # noqa: S608
            out.extend(row[0] for row in cursor.fetchall())
    return "\n".join(out)


def queue_text() -> str:
    """The job queue, where it is a file (Huey on SQLite): every row of its tables."""
    filename = settings.HUEY.get("filename")
    if not filename or not Path(filename).exists():
        return ""
    with sqlite3.connect(filename) as db:
        db.text_factory = lambda b: b.decode("utf-8", "replace")
        return "\n".join(db.iterdump())


def leaks(dump: str, wanted: dict[str, set[str]]) -> dict[str, list[str]]:
    """Each kind's secrets found in clear in `dump`."""
    # What a reader could find: runs of Chinese, numbers of eleven digits, words.
    chinese = "\n".join(set(NON_ASCII_RUN.findall(dump)))
    numbers = set(DIGITS.findall(dump))
    words = set(WORD.findall(dump))
    return {
        "text": sorted(t for t in wanted["text"] if t in chinese),
        "address": sorted(a for a in wanted["address"] if a in chinese),
        "phone": sorted(wanted["phone"] & numbers),
        "wechat": sorted(wanted["wechat"] & words),
    }
