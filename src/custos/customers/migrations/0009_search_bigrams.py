"""PostgreSQL: the name search's "contains" read off a GIN index of the key's two-character pieces.

pg_trgm can only use its index for a LIKE '%...%' with three characters or more in a row: a name of
two (任磊, 张娟) or initials (hd) read the whole table, 100-250 ms at a million customers. Every
piece of two characters of the key is indexed instead (custos_bigrams); a search asks for the rows
holding all of the query's pieces, then confirms the LIKE on those (customers.selectors). The
trigram index it replaces is dropped: nothing else reads it. SQLite: nothing (a plain LIKE).
"""

from django.db import migrations

FUNCTION = """
CREATE OR REPLACE FUNCTION custos_bigrams(text) RETURNS text[]
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT coalesce(array_agg(DISTINCT substr($1, i, 2)), '{}') FROM generate_series(1, length($1) - 1) i
$$"""


def forwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(FUNCTION)
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS customer_search_key_bigrams ON customers_customer "
        "USING gin (custos_bigrams(search_key))"
    )
    schema_editor.execute("DROP INDEX IF EXISTS customer_search_key_trgm")


def backwards(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS customer_search_key_trgm ON customers_customer USING gin (search_key gin_trgm_ops)"
    )
    schema_editor.execute("DROP INDEX IF EXISTS customer_search_key_bigrams")
    schema_editor.execute("DROP FUNCTION IF EXISTS custos_bigrams(text)")


class Migration(migrations.Migration):
    dependencies = [("customers", "0008_product_lines")]

    operations = [migrations.RunPython(forwards, backwards, elidable=False)]
