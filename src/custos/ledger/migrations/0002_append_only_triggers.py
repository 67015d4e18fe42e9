from django.db import migrations


def install(apps, schema_editor):
    from custos.ledger import triggers

    triggers.install(schema_editor.connection, tables=("ledger_entry",))


def remove(apps, schema_editor):
    from custos.ledger import triggers

    triggers.remove(schema_editor.connection, tables=("ledger_entry",))


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]
    operations = [migrations.RunPython(install, remove)]
