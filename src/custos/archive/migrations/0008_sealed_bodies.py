"""Message bodies sealed at rest: text, file name and the rest of the body (extra) become
AES-GCM ciphertext under the field keys (custos.core.sealed); the rows already archived are
sealed here, batch by batch."""

from django.db import migrations

import custos.core.sealed

COLUMNS = {
    "text": "archive.message.text",
    "attachment_name": "archive.message.attachment_name",
    "extra": "archive.message.extra",
}


def seal(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        # Altering the columns rebuilt the table on SQLite, which drops its triggers: the ones
        # keeping the search index (0002) in step are made again.
        from importlib import import_module

        fts = import_module("custos.archive.migrations.0002_search_index")
        for sql in fts.SQLITE[1:]:
            schema_editor.execute(sql.replace("CREATE TRIGGER", "CREATE TRIGGER IF NOT EXISTS"))
    custos.core.sealed.seal_existing(schema_editor, "archive_message", COLUMNS)


class Migration(migrations.Migration):
    dependencies = [
        ("archive", "0007_contact_consent"),
    ]

    operations = [
        migrations.AlterField(
            model_name="message",
            name="attachment_name",
            field=custos.core.sealed.SealedTextField(blank=True, seal_as="archive.message.attachment_name"),
        ),
        migrations.AlterField(
            model_name="message",
            name="extra",
            field=custos.core.sealed.SealedJSONField(
                blank=True, default=dict, seal_as="archive.message.extra"
            ),
        ),
        migrations.AlterField(
            model_name="message",
            name="text",
            field=custos.core.sealed.SealedTextField(blank=True, seal_as="archive.message.text"),
        ),
        # Not reversible: the clear text is what this removes.
        migrations.RunPython(seal, migrations.RunPython.noop),
    ]
