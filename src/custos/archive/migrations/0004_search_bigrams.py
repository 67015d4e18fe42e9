"""PostgreSQL: two-character search terms through an index of bigrams.

pg_trgm needs three characters, yet the commonest Chinese words have two (大衣, 退款, 投诉): a
search for one read every message in the viewer's scope (0.3-0.6 s at a million). The bigrams of
upper(search_text) are kept in a generated column under a GIN index, which answers "holds 大衣".

A stored column rather than an index over the expression: the bigrams are worked out once, when
a message is written (the index would have to work them out then too), and a plan that reads
rows one by one compares a stored array (under a microsecond) instead of rebuilding it (ten).
SQLite is unchanged (FTS5 trigrams, a scan for shorter terms).
"""

from django.db import migrations

POSTGRES = [
    # IMMUTABLE, as a generated column needs, and so that a constant argument is folded when planning.
    "CREATE OR REPLACE FUNCTION custos_bigrams(t text) RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$"
    " SELECT ARRAY(SELECT substr(t, i, 2) FROM generate_series(1, char_length(t) - 1) AS i)"
    " $$",
    "ALTER TABLE archive_message ADD COLUMN search_bigrams text[]"
    " GENERATED ALWAYS AS (custos_bigrams(upper(search_text))) STORED",
    "CREATE INDEX archive_message_search_bigrams ON archive_message USING gin (search_bigrams)",
]
POSTGRES_DROP = [
    "DROP INDEX IF EXISTS archive_message_search_bigrams",
    "ALTER TABLE archive_message DROP COLUMN IF EXISTS search_bigrams",
    "DROP FUNCTION IF EXISTS custos_bigrams(text)",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("archive", "0003_blob_key_version")]

    operations = [migrations.RunPython(_run(POSTGRES), _run(POSTGRES_DROP))]
