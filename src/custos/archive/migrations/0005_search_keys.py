"""PostgreSQL: the search index holds each message's kind, msgtype, employee and customer
beside its bigrams.

A search for a common word with a kind filter (顺丰 in call notes) found its candidates by the
word alone and read every one of them to check the kind: 340,000 rows for no hit at 10 million
messages; a store manager's search read every hit in the company to find the store's. With
these as keys in the same GIN index ("\x01k" + kind, "\x01t" + msgtype, "\x01e" + employee id,
"\x01c" + customer id: three characters at least, so never a bigram), one index scan
intersects the words with them and reads only the messages that have all.

The generated column search_bigrams becomes search_keys (PostgreSQL 15 cannot change a
generated column's expression in place, so the column is rebuilt: a rewrite of the table).
"""

from django.db import migrations

POSTGRES = [
    "CREATE OR REPLACE FUNCTION custos_search_keys(t text, kind text, msgtype text, employee bigint, customer bigint)"
    " RETURNS text[] LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$"
    " SELECT custos_bigrams(upper(t))"
    " || ARRAY[chr(1) || 'k' || kind, chr(1) || 't' || msgtype, chr(1) || 'e' || employee]"
    " || CASE WHEN customer IS NULL THEN '{}'::text[] ELSE ARRAY[chr(1) || 'c' || customer] END"
    " $$",
    "DROP INDEX IF EXISTS archive_message_search_bigrams",
    "ALTER TABLE archive_message DROP COLUMN IF EXISTS search_bigrams",
    "ALTER TABLE archive_message ADD COLUMN search_keys text[]"
    " GENERATED ALWAYS AS (custos_search_keys(search_text, kind, msgtype, employee_id, customer_id)) STORED",
    "CREATE INDEX archive_message_search_keys ON archive_message USING gin (search_keys)",
]
POSTGRES_DROP = [
    "DROP INDEX IF EXISTS archive_message_search_keys",
    "ALTER TABLE archive_message DROP COLUMN IF EXISTS search_keys",
    "DROP FUNCTION IF EXISTS custos_search_keys(text, text, text, bigint, bigint)",
    "ALTER TABLE archive_message ADD COLUMN search_bigrams text[]"
    " GENERATED ALWAYS AS (custos_bigrams(upper(search_text))) STORED",
    "CREATE INDEX archive_message_search_bigrams ON archive_message USING gin (search_bigrams)",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("archive", "0004_search_bigrams")]

    operations = [migrations.RunPython(_run(POSTGRES), _run(POSTGRES_DROP))]
