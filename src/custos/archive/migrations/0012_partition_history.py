"""PostgreSQL only: ledger_entry and archive_message partitioned by month (custos.core.partitioning).

A new database gets empty partitioned tables here; an existing one has its rows copied month by
month in this migration's transaction, which holds both tables locked: see docs/deploy.md for
the time it takes and `custos partition apply --dry-run` to see it first. SQLite: nothing.
"""

from django.db import migrations


def forwards(apps, schema_editor):
    from custos.core import partitioning

    partitioning.apply(schema_editor.connection)


class Migration(migrations.Migration):
    atomic = False  # apply() opens one transaction per table

    dependencies = [
        ("archive", "0011_wechat_ids_to_pseudonyms"),
        ("ledger", "0005_sealed_payloads"),
        ("wecom", "0003_media_message_kept_by_app"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop, elidable=False)]
