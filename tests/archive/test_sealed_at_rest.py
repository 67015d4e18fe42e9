"""Message bodies and ledger payloads sealed at rest (issue #20): what the tables hold, what the
code reads, and the migrations' step that seals rows written before."""

import json
import types

from django.db import connection

from custos.archive import search_keys, selectors
from custos.archive.models import Message
from custos.core import sealed
from custos.ledger.models import Entry
from custos.ledger.verify import verify
from tests.ledger.conftest import dba

SECRET = "我的手机13912345678，地址天河路385号"


def _raw(sql: str, params=()) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def test_a_message_is_sealed_in_the_archive_the_ledger_and_the_index(company, device, ev):
    device(company.sales_a).send(
        ev.msg("s1", SECRET, contact="wm_seal"),
        ev.msg("s2", "天河路385号太古汇", contact="wm_seal", msgtype="location"),
    )
    text, name, extra, keys = _raw(
        "SELECT text, attachment_name, extra, search_keys FROM archive_message WHERE source_id = 's1'"
    )[0]
    assert text.startswith("v1:") and "13912345678" not in text
    (text_2,) = _raw("SELECT text FROM archive_message WHERE source_id = 's2'")[0]
    assert text_2.startswith("v1:") and "太古汇" not in text_2 and (extra or "v1:").startswith("v1:")
    stored = " ".join(p for (p,) in _raw("SELECT payload FROM ledger_entry WHERE payload IS NOT NULL"))
    assert "13912345678" not in stored and "天河路" not in stored and "太古汇" not in stored
    keys = keys if isinstance(keys, list) else keys.split()
    assert keys and not any(c in "".join(keys) for c in "天河路手机")  # hashes, no characters
    # The code reads them opened.
    assert Message.objects.get(source_id="s1").text == SECRET
    assert Message.objects.get(source_id="s2").text == "天河路385号太古汇"
    assert json.loads(Entry.objects.get(source_id="s1").payload)["text"] == SECRET
    found = selectors.search(company.auditor, selectors.SearchFilters(q="地址天河路385号"))
    assert [m.source_id for m in found] == ["s1"]
    assert not selectors.search(company.auditor, selectors.SearchFilters(q="天河路386号")).exists()
    assert verify().size == Entry.objects.count()


def test_a_long_term_is_confirmed_on_the_opened_rows(company, device, ev):
    # Both hold the bigrams of 大衣服 (大衣, 衣服), only one the phrase.
    device(company.sales_a).send(ev.msg("c1", "这件大衣服帖"), ev.msg("c2", "大衣和衣服都有"))
    hits = selectors.search(company.auditor, selectors.SearchFilters(q="大衣服"))
    assert [m.source_id for m in hits] == ["c1"]
    candidates = set(selectors.words_first(company.auditor, selectors.SearchFilters(q="大衣服")))
    assert len(candidates) == 2  # the index alone cannot tell them apart


def test_rows_written_before_sealing_are_sealed_by_the_migration_step(company, device, ev):
    device(company.sales_a).send(ev.msg("old-1", SECRET, contact="wm_old"))
    entry = Entry.objects.get(source_id="old-1")
    clear = entry.payload
    # As a database from before migrations archive 0008 and ledger 0005 holds them: in clear.
    with dba() as cursor:
        cursor.execute("UPDATE ledger_entry SET payload = %s WHERE seq = %s", [clear, entry.seq])
        cursor.execute(
            "UPDATE archive_message SET text = %s, extra = %s WHERE source_id = 'old-1'", [SECRET, "{}"]
        )
    assert Message.objects.get(source_id="old-1").text == SECRET  # still read, as it is
    editor = types.SimpleNamespace(connection=connection)
    columns = {"text": "archive.message.text", "attachment_name": "archive.message.attachment_name",
               "extra": "archive.message.extra"}  # fmt: skip
    assert sealed.seal_existing(editor, "archive_message", columns) == 1
    # the ledger's triggers allow it: a payload replaced by a sealed one, nothing else changed
    assert sealed.seal_existing(editor, "ledger_entry", {"payload": "ledger.entry.payload"}, key="seq") == 1
    assert sealed.seal_existing(editor, "ledger_entry", {"payload": "ledger.entry.payload"}, key="seq") == 0
    (text,) = _raw("SELECT text FROM archive_message WHERE source_id = 'old-1'")[0]
    (payload,) = _raw("SELECT payload FROM ledger_entry WHERE seq = %s", [entry.seq])[0]
    assert text.startswith("v1:") and payload.startswith("v1:")
    assert Message.objects.get(source_id="old-1").text == SECRET
    assert Entry.objects.get(seq=entry.seq).payload == clear
    assert verify().size == Entry.objects.count()  # no leaf changed


def test_a_clear_payload_cannot_be_written_over_a_sealed_one(company, device, ev):
    import pytest
    from django.db import DatabaseError, transaction

    device(company.sales_a).send(ev.msg("t1", "你好"))
    entry = Entry.objects.get(source_id="t1")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_entry SET payload = %s WHERE seq = %s", ['{"text":"改了"}', entry.seq])
    # a re-sealing of the same text is allowed (what `custos keys rotate` does)
    with connection.cursor() as cursor:
        resealed = sealed.seal(entry.payload, sealed.aad_of("ledger.entry.payload"))
        cursor.execute("UPDATE ledger_entry SET payload = %s WHERE seq = %s", [resealed, entry.seq])
    assert Entry.objects.get(seq=entry.seq).payload == entry.payload
    assert search_keys.needs_confirming("你好呀") and not search_keys.needs_confirming("你好")
