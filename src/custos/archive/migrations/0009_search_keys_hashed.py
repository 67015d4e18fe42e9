"""Search over sealed text: the search index holds keyed hashes, not words (search_keys.py).

search_text (the clear text, file name and call note, which both indexes were built over) goes.
In its place search_keys: on PostgreSQL a plain text[] (no longer generated: the database cannot
make keyed hashes without the key) under the same GIN index; on SQLite the keys as words under
an FTS5 table. The rows already archived get their keys from search_text before it is dropped.
"""

from django.db import migrations

import custos.archive.models

BATCH = 5000


def drop_word_indexes(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS archive_message_search_keys")
        schema_editor.execute("ALTER TABLE archive_message DROP COLUMN IF EXISTS search_keys")
        schema_editor.execute("ALTER TABLE archive_message ADD COLUMN search_keys text[] NOT NULL DEFAULT '{}'")
    else:
        for name in ("au", "ad", "ai"):
            schema_editor.execute(f"DROP TRIGGER IF EXISTS archive_message_fts_{name}")
        schema_editor.execute("DROP TABLE IF EXISTS archive_message_fts")
        schema_editor.execute("ALTER TABLE archive_message ADD COLUMN search_keys text NOT NULL DEFAULT ''")


def fill_keys(apps, schema_editor):
    from custos.archive import search_keys as keys

    connection = schema_editor.connection
    pg = connection.vendor == "postgresql"
    last = 0
    with connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT id, search_text, kind, msgtype, employee_id, customer_id FROM archive_message"
                " WHERE id > %s ORDER BY id LIMIT %s",
                [last, BATCH],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            last = rows[-1][0]
            out = []
            for pk, text, kind, msgtype, employee, customer in rows:
                found = keys.text_keys(text)
                if pg:
                    out.append((found + keys.filter_keys(kind, msgtype, employee, customer), pk))
                elif found:
                    out.append((" ".join(found), pk))
            if out:
                cursor.executemany("UPDATE archive_message SET search_keys = %s WHERE id = %s", out)


SQLITE_FTS = [
    "CREATE VIRTUAL TABLE archive_message_fts USING fts5("
    "search_keys, content='archive_message', content_rowid='id', tokenize='unicode61')",
    "CREATE TRIGGER archive_message_fts_ai AFTER INSERT ON archive_message BEGIN "
    "INSERT INTO archive_message_fts(rowid, search_keys) VALUES (new.id, new.search_keys); END",
    "CREATE TRIGGER archive_message_fts_ad AFTER DELETE ON archive_message BEGIN "
    "INSERT INTO archive_message_fts(archive_message_fts, rowid, search_keys) "
    "VALUES ('delete', old.id, old.search_keys); END",
    "CREATE TRIGGER archive_message_fts_au AFTER UPDATE OF search_keys ON archive_message BEGIN "
    "INSERT INTO archive_message_fts(archive_message_fts, rowid, search_keys) "
    "VALUES ('delete', old.id, old.search_keys); "
    "INSERT INTO archive_message_fts(rowid, search_keys) VALUES (new.id, new.search_keys); END",
    "INSERT INTO archive_message_fts(archive_message_fts) VALUES ('rebuild')",
]


def build_key_indexes(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("CREATE INDEX archive_message_search_keys ON archive_message USING gin (search_keys)")
        schema_editor.execute("DROP FUNCTION IF EXISTS custos_search_keys(text, text, text, bigint, bigint)")
        schema_editor.execute("DROP FUNCTION IF EXISTS custos_bigrams(text)")
    else:
        for sql in SQLITE_FTS:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [
        ("archive", "0008_sealed_bodies"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AddField(
                    model_name="message",
                    name="search_keys",
                    field=custos.archive.models.SearchKeysField(blank=True, default=list),
                ),
            ],
            database_operations=[migrations.RunPython(drop_word_indexes)],
        ),
        migrations.RunPython(fill_keys),
        migrations.RemoveField(model_name="message", name="search_text"),
        migrations.RunPython(build_key_indexes),
    ]
