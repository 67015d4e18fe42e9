"""What every benchmark needs: a scratch database on the server it is pointed at, and Django on it."""

import os


def admin(postgres_url: str, sql: str) -> None:
    """Run one statement outside a transaction (CREATE/DROP DATABASE) on the server of postgres_url."""
    import psycopg

    with psycopg.connect(postgres_url.replace("postgres://", "postgresql://", 1), autocommit=True) as conn:
        conn.execute(sql)


def setup_django(tmp: str, postgres_url: str | None, bench_db: str) -> str:
    """Django on a fresh database (bench_db on that PostgreSQL server, else SQLite in tmp), migrated.

    Returns the database vendor.
    """
    os.environ["DJANGO_SETTINGS_MODULE"] = "custos.settings"
    os.environ["CUSTOS_DATA_DIR"] = tmp
    os.environ.setdefault("CUSTOS_LOG_LEVEL", "WARNING")
    if postgres_url:
        admin(postgres_url, f"DROP DATABASE IF EXISTS {bench_db}")
        admin(postgres_url, f"CREATE DATABASE {bench_db}")
        os.environ["DATABASE_URL"] = postgres_url.rsplit("/", 1)[0] + "/" + bench_db
    else:
        os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from django.db import connection

    return connection.vendor
