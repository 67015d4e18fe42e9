"""PostgreSQL: drop the pg_trgm index of the messages' text (migration 0002).

Since 0005 a search finds its hits through search_keys alone, its bigrams, and checks a phrase on
the rows it found; nothing reads the trigram index any more, while every message ingested still
paid for its entries in a second GIN index. Reversing builds it again (38 s at 10M messages).
SQLite keeps its FTS5 table, which its searches use.
"""

from django.db import migrations

INDEX = "archive_message_search_trgm"


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


def build(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {INDEX} ON archive_message USING gin (upper(search_text) gin_trgm_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [("archive", "0005_search_keys")]

    operations = [migrations.RunPython(drop, build)]
