"""Monthly declarative partitioning of the two big history tables, on PostgreSQL only.

ledger_entry     partitioned by month of recorded_at, primary key (seq, recorded_at)
archive_message  partitioned by month of occurred_at, primary key (id, occurred_at)

PostgreSQL wants every unique constraint of a partitioned table to include the partition key,
so the two uniquenesses the application relies on move to small key tables kept by triggers in
the same statement (hence the same transaction) as the row:

ledger_entry_key      (source, source_id) primary key: a second entry with the same pair fails
                      with a unique violation, exactly as the old constraint did; and seq
                      unique, which the primary key (seq, recorded_at) no longer guarantees.
archive_message_key   (entry_seq) primary key: one message per ledger entry.

Django keeps `seq` / `id` as the model's pk: the ORM only ever needs WHERE pk = x, which every
partition's index answers. The one foreign key into these tables (wecom MediaItem.message) is
kept by the application (db_constraint=False): PostgreSQL cannot reference `id` alone.

Partitions are named <table>_yYYYYmMM, plus <table>_default so that a row outside every month
created never fails; `ensure_ahead` (Huey, daily, and `custos partition ahead`) creates the next
months and moves any rows that fell into the default partition into their month.

`apply` converts an existing, non-partitioned table in one transaction (rows copied month by
month; the ledger's append-only triggers reinstalled) and does nothing on a table already
partitioned, so it is safe to re-run. SQLite is never touched.
"""

# Table and column names in the SQL below come from SPECS and the catalog, never from input; values
# go as parameters, except the month bounds, which are formatted from integers.
# ruff: noqa: S608

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.db import connections, transaction


@dataclass(frozen=True)
class Spec:
    table: str
    pk: str
    key: str  # the partition key column
    unique: tuple[str, ...]  # the uniqueness moved to <table>_key (its primary key)
    also: tuple[str, ...] = ()  # another one kept there (a UNIQUE constraint of the key table)

    @property
    def columns(self) -> tuple[str, ...]:
        return self.unique + self.also


SPECS = (
    # seq too: the primary key (seq, recorded_at) alone would let a second row with the same seq in.
    Spec("ledger_entry", "seq", "recorded_at", ("source", "source_id"), also=("seq",)),
    Spec("archive_message", "id", "occurred_at", ("entry_seq",)),
)
AHEAD_MONTHS = 3


def _month(d: datetime) -> tuple[int, int]:
    d = d.astimezone(UTC)
    return d.year, d.month


def _next(y: int, m: int) -> tuple[int, int]:
    return (y + 1, 1) if m == 12 else (y, m + 1)


def _bound(y: int, m: int) -> str:
    return f"{y:04d}-{m:02d}-01 00:00:00+00"


def partition_name(table: str, y: int, m: int) -> str:
    return f"{table}_y{y:04d}m{m:02d}"


def is_partitioned(cursor, table: str) -> bool:
    cursor.execute(
        "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid "
        "WHERE c.relname = %s AND c.relnamespace = 'public'::regnamespace",
        [table],
    )
    return cursor.fetchone() is not None


def partitions(cursor, table: str) -> list[str]:
    cursor.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid "
        "WHERE i.inhparent = %s::regclass ORDER BY c.relname",
        [table],
    )
    return [r[0] for r in cursor.fetchall()]


def _exists(cursor, name: str) -> bool:
    cursor.execute("SELECT to_regclass(%s)", [f"public.{name}"])
    return cursor.fetchone()[0] is not None


def _key_sql(spec: Spec) -> list[str]:
    t, cols, keys = spec.table, spec.columns, spec.unique
    new = ", ".join(f"NEW.{c}" for c in cols)
    old = " AND ".join(f"{c} = OLD.{c}" for c in keys)
    changed = " OR ".join(f"NEW.{c} IS DISTINCT FROM OLD.{c}" for c in cols)
    listed = ", ".join(cols)
    return [
        # Inserts (a whole COPY at a time: the pool's job appends 10,000 entries a batch) add
        # their keys in one set-based statement; a row trigger per entry cost 7 s of a
        # 62 s job at a million customers (bench.pool). A row put straight into a partition
        # (not through the parent, which only the tables' owner can do, like TRUNCATE of one
        # partition) gets no key; `custos ledger verify` still checks seq and leaves.
        f"""CREATE OR REPLACE FUNCTION {t}_add_keys() RETURNS trigger AS $$
        BEGIN INSERT INTO {t}_key ({listed}) SELECT {listed} FROM added; RETURN NULL; END $$ LANGUAGE plpgsql""",
        f"DROP TRIGGER IF EXISTS {t}_key_added ON {t}",
        f"""CREATE TRIGGER {t}_key_added AFTER INSERT ON {t} REFERENCING NEW TABLE AS added
            FOR EACH STATEMENT EXECUTE FUNCTION {t}_add_keys()""",
        f"""CREATE OR REPLACE FUNCTION {t}_keep_key() RETURNS trigger AS $$
        BEGIN
          IF TG_OP = 'DELETE' THEN
            DELETE FROM {t}_key WHERE {old};
          ELSIF {changed} THEN
            DELETE FROM {t}_key WHERE {old};
            INSERT INTO {t}_key ({", ".join(cols)}) VALUES ({new});
          END IF;
          RETURN NULL;
        END $$ LANGUAGE plpgsql""",
        f"""CREATE OR REPLACE FUNCTION {t}_clear_key() RETURNS trigger AS $$
        BEGIN TRUNCATE {t}_key; RETURN NULL; END $$ LANGUAGE plpgsql""",
        f"DROP TRIGGER IF EXISTS {t}_key_rows ON {t}",
        f"""CREATE TRIGGER {t}_key_rows AFTER UPDATE OR DELETE ON {t}
            FOR EACH ROW EXECUTE FUNCTION {t}_keep_key()""",
        f"DROP TRIGGER IF EXISTS {t}_key_truncate ON {t}",
        f"""CREATE TRIGGER {t}_key_truncate AFTER TRUNCATE ON {t}
            FOR EACH STATEMENT EXECUTE FUNCTION {t}_clear_key()""",
    ]


def plan(connection=None) -> list[str]:
    """What `apply` would do, one line per table (for --dry-run)."""
    connection = connection or connections["default"]
    if connection.vendor != "postgresql":
        return ["not PostgreSQL: nothing to do (SQLite keeps plain tables)"]
    lines = []
    with connection.cursor() as cursor:
        for spec in SPECS:
            if not _exists(cursor, spec.table):
                lines.append(f"{spec.table}: missing, skipped")
            elif is_partitioned(cursor, spec.table):
                lines.append(
                    f"{spec.table}: already partitioned ({len(partitions(cursor, spec.table))} partitions)"
                )
            else:
                cursor.execute(f"SELECT count(*), min({spec.key}), max({spec.key}) FROM {spec.table}")
                n, lo, hi = cursor.fetchone()
                lines.append(f"{spec.table}: would convert {n} rows ({lo} .. {hi}), by month of {spec.key}")
    return lines


def apply(connection=None, ahead: int = AHEAD_MONTHS, now: datetime | None = None, log=None) -> list[str]:
    """Partition every table of SPECS not partitioned yet; returns what was done. Re-runnable."""
    connection = connection or connections["default"]
    if connection.vendor != "postgresql":
        return []
    done = []
    for spec in SPECS:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            if not _exists(cursor, spec.table) or is_partitioned(cursor, spec.table):
                continue
            n = _convert(connection, cursor, spec, ahead, now or datetime.now(UTC), log)
            done.append(f"{spec.table}: converted {n} rows")
    ensure_ahead(connection, ahead, now)
    return done


def _convert(connection, cursor, spec: Spec, ahead: int, now: datetime, log) -> int:
    from custos.ledger import triggers

    t, tmp = spec.table, f"{spec.table}_partitioned"
    cursor.execute(f"LOCK TABLE {t} IN ACCESS EXCLUSIVE MODE")
    # Foreign keys into the table (wecom's MediaItem.message) cannot survive: the app keeps them.
    cursor.execute(
        "SELECT conrelid::regclass::text, conname FROM pg_constraint WHERE contype = 'f' AND confrelid = %s::regclass",
        [t],
    )
    for rel, name in cursor.fetchall():
        cursor.execute(f'ALTER TABLE {rel} DROP CONSTRAINT "{name}"')
    cursor.execute(
        "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'public' AND tablename = %s", [t]
    )
    indexes = cursor.fetchall()
    cursor.execute(
        "SELECT pg_get_serial_sequence(%s, %s), "
        "(SELECT attidentity FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s)",
        [t, spec.pk, t, spec.pk],
    )
    sequence, identity = cursor.fetchone()
    if t == triggers.ENTRY:
        triggers.remove(connection, [t])

    cursor.execute(f"DROP TABLE IF EXISTS {tmp} CASCADE")
    cursor.execute(
        f"CREATE TABLE {tmp} (LIKE {t} INCLUDING DEFAULTS INCLUDING STORAGE INCLUDING COMMENTS) "
        f"PARTITION BY RANGE ({spec.key})"
    )
    cursor.execute(f"ALTER TABLE {tmp} ADD PRIMARY KEY ({spec.pk}, {spec.key})")
    cursor.execute(f"SELECT min({spec.key}) FROM {t}")
    first = cursor.fetchone()[0] or now
    months = _months(first, now, ahead)
    cursor.execute(f"CREATE TABLE {t}_default PARTITION OF {tmp} DEFAULT")
    for y, m in months:
        _create(cursor, tmp, t, y, m)
    # Rows copied month by month: each INSERT reads one index range and writes one partition.
    copied = 0
    for y, m in months:
        ny, nm = _next(y, m)
        cursor.execute(
            f"INSERT INTO {tmp} SELECT * FROM {t} WHERE {spec.key} >= %s AND {spec.key} < %s",
            [_bound(y, m), _bound(ny, nm)],
        )
        copied += cursor.rowcount
        if log and cursor.rowcount:
            log(f"{t} {y:04d}-{m:02d}: {cursor.rowcount} rows")
    cursor.execute(
        f"INSERT INTO {tmp} SELECT * FROM {t} WHERE {spec.key} < %s OR {spec.key} >= %s",
        [_bound(*months[0]), _bound(*_next(*months[-1]))],
    )
    copied += cursor.rowcount

    cols = ", ".join(f"{c} {_type(cursor, t, c)} NOT NULL" for c in spec.columns)
    also = f", UNIQUE ({', '.join(spec.also)})" if spec.also else ""
    cursor.execute(f"DROP TABLE IF EXISTS {t}_key")
    cursor.execute(f"CREATE TABLE {t}_key ({cols}, PRIMARY KEY ({', '.join(spec.unique)}){also})")
    cursor.execute(f"INSERT INTO {t}_key SELECT {', '.join(spec.columns)} FROM {t}")

    # The id sequence: a serial/identity one dies with the old table, so a plain one takes over.
    if sequence or identity:
        cursor.execute(f"SELECT coalesce(max({spec.pk}), 0) FROM {t}")
        top = cursor.fetchone()[0]
        cursor.execute(f"CREATE SEQUENCE IF NOT EXISTS {t}_{spec.pk}_pseq")
        cursor.execute(f"SELECT setval('{t}_{spec.pk}_pseq', %s, %s)", [max(top, 1), top > 0])
    cursor.execute(f"DROP TABLE {t}")
    cursor.execute(f"ALTER TABLE {tmp} RENAME TO {t}")
    cursor.execute("SELECT conname FROM pg_constraint WHERE conrelid = %s::regclass AND contype = 'p'", [t])
    cursor.execute(f'ALTER TABLE {t} RENAME CONSTRAINT "{cursor.fetchone()[0]}" TO {t}_pkey')
    if sequence or identity:
        cursor.execute(f"ALTER SEQUENCE {t}_{spec.pk}_pseq OWNED BY {t}.{spec.pk}")
        cursor.execute(f"ALTER TABLE {t} ALTER {spec.pk} SET DEFAULT nextval('{t}_{spec.pk}_pseq')")
    # The old indexes, on the parent (so on every partition); a unique one becomes plain, the
    # key table enforcing it, and the primary key is the one made above.
    for name, definition in indexes:
        if name.endswith("_pkey"):
            continue
        definition = definition.replace("CREATE UNIQUE INDEX", "CREATE INDEX")
        definition = definition.replace(f" ON public.{t} ", f" ON {t} ").replace(
            f" ON ONLY public.{t} ", f" ON {t} "
        )
        cursor.execute(definition)
    for sql in _key_sql(spec):
        cursor.execute(sql)
    if t == triggers.ENTRY:
        triggers.install(connection, [t])
    cursor.execute(f"ANALYZE {t}")
    return copied


def _type(cursor, table: str, column: str) -> str:
    cursor.execute(
        "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = %s::regclass AND attname = %s",
        [table, column],
    )
    return cursor.fetchone()[0]


def _months(first: datetime, now: datetime, ahead: int) -> list[tuple[int, int]]:
    y, m = _month(first)
    last = _month(now)
    for _ in range(ahead):
        last = _next(*last)
    out = []
    while (y, m) <= last:
        out.append((y, m))
        y, m = _next(y, m)
    return out


def _create(cursor, parent: str, base: str, y: int, m: int) -> bool:
    name = partition_name(base, y, m)
    if _exists(cursor, name):
        return False
    lo, hi = _bound(y, m), _bound(*_next(y, m))
    default = f"{base}_default"
    key = next(s.key for s in SPECS if s.table == base)
    moved = False
    if _exists(cursor, default):
        cursor.execute(f"SELECT 1 FROM {default} WHERE {key} >= %s AND {key} < %s LIMIT 1", [lo, hi])
        moved = cursor.fetchone() is not None
    if not moved:
        cursor.execute(f"CREATE TABLE {name} PARTITION OF {parent} FOR VALUES FROM ('{lo}') TO ('{hi}')")
    else:
        # Rows of this month sit in the default partition: move them into a new table, then attach
        # it. The default partition's triggers are off for the move only (this transaction): the
        # rows are the same rows, their keys stay.
        cursor.execute(f"CREATE TABLE {name} (LIKE {parent} INCLUDING DEFAULTS INCLUDING STORAGE)")
        cursor.execute(
            f"INSERT INTO {name} SELECT * FROM {default} WHERE {key} >= %s AND {key} < %s", [lo, hi]
        )
        cursor.execute(f"ALTER TABLE {default} DISABLE TRIGGER USER")
        cursor.execute(f"DELETE FROM {default} WHERE {key} >= %s AND {key} < %s", [lo, hi])
        cursor.execute(f"ALTER TABLE {default} ENABLE TRIGGER USER")
        cursor.execute(f"ALTER TABLE {parent} ATTACH PARTITION {name} FOR VALUES FROM ('{lo}') TO ('{hi}')")
    return True


def ensure_ahead(connection=None, ahead: int = AHEAD_MONTHS, now: datetime | None = None) -> list[str]:
    """Create this month's and the next `ahead` months' partitions where missing. Idempotent."""
    connection = connection or connections["default"]
    if connection.vendor != "postgresql":
        return []
    now = now or datetime.now(UTC)
    created = []
    for spec in SPECS:
        with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
            if not _exists(cursor, spec.table) or not is_partitioned(cursor, spec.table):
                continue
            cursor.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"partition:{spec.table}"])
            if not _exists(cursor, f"{spec.table}_default"):
                cursor.execute(f"CREATE TABLE {spec.table}_default PARTITION OF {spec.table} DEFAULT")
            for y, m in _months(now, now, ahead):
                if _create(cursor, spec.table, spec.table, y, m):
                    created.append(partition_name(spec.table, y, m))
    return created
