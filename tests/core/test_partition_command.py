"""`custos partition` on SQLite: one line, nothing done (the PostgreSQL side: tests/ledger/test_partitioning.py)."""

import pytest
from django.core.management import call_command
from django.db import connection


@pytest.mark.skipif(connection.vendor == "postgresql", reason="PostgreSQL partitions; tested in tests/ledger")
@pytest.mark.parametrize("args", [["status"], ["apply", "--dry-run"], ["apply"], ["ahead"]])
def test_sqlite_is_left_alone(db, capsys, args):
    call_command("partition", *args)
    assert capsys.readouterr().out == "not PostgreSQL: tables are not partitioned, nothing to do\n"
    assert "ledger_entry_key" not in connection.introspection.table_names()
