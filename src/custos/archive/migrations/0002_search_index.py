"""Search over Chinese text, which has no spaces to split words at: trigrams.

SQLite: an FTS5 table with the trigram tokenizer over archive_message.search_text, kept in step
by triggers (external content, so the text is stored once). PostgreSQL: pg_trgm and a GIN index
over upper(search_text), which serves Django's icontains (UPPER(col) LIKE UPPER('%...%')).
"""

from django.db import migrations

SQLITE = [
    "CREATE VIRTUAL TABLE archive_message_fts USING fts5("
    "search_text, content='archive_message', content_rowid='id', tokenize='trigram')",
    "CREATE TRIGGER archive_message_fts_ai AFTER INSERT ON archive_message BEGIN "
    "INSERT INTO archive_message_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
    "CREATE TRIGGER archive_message_fts_ad AFTER DELETE ON archive_message BEGIN "
    "INSERT INTO archive_message_fts(archive_message_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); END",
    "CREATE TRIGGER archive_message_fts_au AFTER UPDATE OF search_text ON archive_message BEGIN "
    "INSERT INTO archive_message_fts(archive_message_fts, rowid, search_text) "
    "VALUES ('delete', old.id, old.search_text); "
    "INSERT INTO archive_message_fts(rowid, search_text) VALUES (new.id, new.search_text); END",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS archive_message_fts_au",
    "DROP TRIGGER IF EXISTS archive_message_fts_ad",
    "DROP TRIGGER IF EXISTS archive_message_fts_ai",
    "DROP TABLE IF EXISTS archive_message_fts",
]
POSTGRES = [
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    # On upper(): Django's icontains is UPPER(col) LIKE UPPER(%s) on PostgreSQL, and this is what it uses.
    "CREATE INDEX IF NOT EXISTS archive_message_search_trgm ON archive_message "
    "USING gin (upper(search_text) gin_trgm_ops)",
]
POSTGRES_DROP = ["DROP INDEX IF EXISTS archive_message_search_trgm"]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for sql in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("archive", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRES}),
            _run({"sqlite": SQLITE_DROP, "postgresql": POSTGRES_DROP}),
        )
    ]
