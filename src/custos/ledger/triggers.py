"""Database triggers that make the ledger append-only, whoever connects.

ledger_entry       UPDATE and DELETE refused, except two changes of the payload alone, every
                   other column unchanged: a retention redaction (a value to NULL), and
                   re-sealing it under another field key (`custos keys rotate`: a sealed
                   "v<n>:..." value to a different sealed value). The leaf commits to the plain
                   payload's hash, so `custos ledger verify`, which opens each payload and hashes
                   it, catches a payload replaced by anything but a re-sealing of the same text.
ledger_node        UPDATE and DELETE refused.
ledger_signedhead  UPDATE and DELETE refused.
ledger_ledgerstate DELETE refused; UPDATE only if size does not shrink.

TRUNCATE is refused on PostgreSQL too (SQLite has none). Only someone who can drop triggers can
get past them, and `custos ledger verify` catches what such a person changes.
"""

# Every column of ledger_entry but payload: what a redaction must leave as it is. Listed here,
# not read from the model, so a migration installs the triggers its own schema had.
ENTRY_FIXED_COLUMNS = (
    "seq",
    "kind",
    "occurred_at",
    "recorded_at",
    "actor_id",
    "unit_id",
    "customer_id",
    "source",
    "source_id",
    "payload_hash",
    "leaf_hash",
)

ENTRY = "ledger_entry"
FROZEN = ("ledger_node", "ledger_signedhead")
STATE = "ledger_ledgerstate"
TABLES = (ENTRY, *FROZEN, STATE)


def _sqlite_redaction_only() -> str:
    same = " AND ".join(f"NEW.{c} IS OLD.{c}" for c in ENTRY_FIXED_COLUMNS)
    resealed = "(NEW.payload GLOB 'v[0-9]*:?*' AND NEW.payload IS NOT OLD.payload)"
    return f"OLD.payload IS NOT NULL AND (NEW.payload IS NULL OR {resealed}) AND {same}"


def _sqlite(table: str) -> list[str]:
    no_delete = f"""CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
        BEGIN SELECT RAISE(ABORT, '{table} is append-only: rows are never deleted'); END"""
    if table == ENTRY:
        no_update = f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
            WHEN NOT ({_sqlite_redaction_only()})
            BEGIN SELECT RAISE(ABORT, '{table} is append-only: the only changes allowed are redacting a payload to NULL and re-sealing it'); END"""
    elif table == STATE:
        no_update = f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
            WHEN NEW.size < OLD.size OR NEW.id IS NOT OLD.id
            BEGIN SELECT RAISE(ABORT, '{table}: the ledger size never shrinks'); END"""
    else:
        no_update = f"""CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
            BEGIN SELECT RAISE(ABORT, '{table} is append-only: rows are never updated'); END"""
    return [no_update, no_delete]


_PG_FUNCTIONS = [
    """CREATE OR REPLACE FUNCTION custos_refuse_ledger_change() RETURNS trigger AS $$
       BEGIN RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP; END
       $$ LANGUAGE plpgsql""",
    # A redaction may set payload to NULL, a key rotation re-seal it, and neither change anything
    # else; to_jsonb(row) - 'payload' compares every other column, including any added later.
    """CREATE OR REPLACE FUNCTION custos_guard_ledger_entry() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'UPDATE' AND OLD.payload IS NOT NULL AND (NEW.payload IS NULL
             OR (NEW.payload ~ '^v[0-9]+:.' AND NEW.payload IS DISTINCT FROM OLD.payload)) THEN
           IF (to_jsonb(NEW) - 'payload') = (to_jsonb(OLD) - 'payload') THEN
             RETURN NEW;
           END IF;
         END IF;
         RAISE EXCEPTION '% is append-only: % refused (the only changes allowed are redacting a payload to NULL and re-sealing it)',
           TG_TABLE_NAME, TG_OP;
       END
       $$ LANGUAGE plpgsql""",
    """CREATE OR REPLACE FUNCTION custos_guard_ledger_state() RETURNS trigger AS $$
       BEGIN
         IF TG_OP = 'UPDATE' AND NEW.size >= OLD.size AND NEW.id = OLD.id THEN
           RETURN NEW;
         END IF;
         RAISE EXCEPTION '%: % refused, the ledger size never shrinks', TG_TABLE_NAME, TG_OP;
       END
       $$ LANGUAGE plpgsql""",
]


def _pg(table: str) -> list[str]:
    function = {ENTRY: "custos_guard_ledger_entry", STATE: "custos_guard_ledger_state"}.get(
        table, "custos_refuse_ledger_change"
    )
    return [
        f"""CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table}
            FOR EACH ROW EXECUTE FUNCTION {function}()""",
        f"""CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table}
            FOR EACH STATEMENT EXECUTE FUNCTION custos_refuse_ledger_change()""",
    ]


def _remove_sql(connection, table: str) -> list[str]:
    if connection.vendor == "postgresql":
        return [
            f"DROP TRIGGER IF EXISTS {table}_{name} ON {table}" for name in ("append_only", "no_truncate")
        ]
    return [f"DROP TRIGGER IF EXISTS {table}_{name}" for name in ("no_update", "no_delete")]


def _present(connection, tables) -> list[str]:
    # Skip tables a partly migrated database does not have yet (the flush command runs anywhere).
    existing = set(connection.introspection.table_names())
    return [t for t in (tables or TABLES) if t in existing]


def install(connection, tables=None) -> None:
    """(Re)install the triggers on `tables` (default: all ledger tables that exist)."""
    tables = _present(connection, tables)
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql" and tables:
            for sql in _PG_FUNCTIONS:
                cursor.execute(sql)
        for table in tables:
            for sql in _remove_sql(connection, table):
                cursor.execute(sql)
            for sql in _pg(table) if connection.vendor == "postgresql" else _sqlite(table):
                cursor.execute(sql)


def remove(connection, tables=None) -> None:
    """Drop the triggers, as a DBA could. Used by flush and the tamper tests, never by the app."""
    with connection.cursor() as cursor:
        for table in _present(connection, tables):
            for sql in _remove_sql(connection, table):
                cursor.execute(sql)
