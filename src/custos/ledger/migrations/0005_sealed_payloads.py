"""Ledger payloads sealed at rest (custos.core.sealed): the triggers learn the one new change
they allow (re-sealing a payload, triggers.py), then the payloads already written are sealed.
No leaf changes: payload_hash and the leaf commit to the plain canonical JSON."""

from django.db import migrations

import custos.core.sealed


def forward(apps, schema_editor):
    from custos.ledger import triggers

    triggers.install(schema_editor.connection)
    custos.core.sealed.seal_existing(
        schema_editor, "ledger_entry", {"payload": "ledger.entry.payload"}, key="seq", batch=5000
    )


def backward(apps, schema_editor):
    from custos.ledger import triggers

    triggers.install(schema_editor.connection)


class Migration(migrations.Migration):
    dependencies = [
        ("ledger", "0004_binary_leaves_nodes_and_triggers"),
    ]

    operations = [
        migrations.AlterField(
            model_name="entry",
            name="payload",
            field=custos.core.sealed.SealedTextField(null=True, seal_as="ledger.entry.payload"),
        ),
        migrations.RunPython(forward, backward),
    ]
