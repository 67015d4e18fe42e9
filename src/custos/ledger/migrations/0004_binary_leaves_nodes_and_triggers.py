"""Leaves move from canonical JSON to the binary LeafData of hashing.py; nodes for existing entries.

No head had been signed before this migration, so re-hashing the leaves of entries already
written (development databases only) breaks no commitment anyone holds. The triggers are lifted
on ledger_entry for that, then installed on every ledger table.
"""

from django.db import migrations


def forward(apps, schema_editor):
    from custos.ledger import hashing, merkle, triggers

    connection = schema_editor.connection
    db = connection.alias  # historical managers default to "default", not the database migrated
    Entry = apps.get_model("ledger", "Entry")
    Node = apps.get_model("ledger", "Node")
    triggers.remove(connection, tables=("ledger_entry",))
    leaves = []
    for entry in Entry.objects.using(db).order_by("seq").iterator(chunk_size=2000):
        leaf = hashing.entry_leaf_hash(entry)
        if bytes(entry.leaf_hash) != leaf:
            Entry.objects.using(db).filter(seq=entry.seq).update(leaf_hash=leaf)
        leaves.append(leaf)
    nodes, level = {}, 8
    while len(leaves) >> level:
        for i in range(len(leaves) >> level):
            nodes[(level, i)] = merkle.mth(leaves[i << level : (i + 1) << level])
        level += 1
    Node.objects.using(db).bulk_create([Node(level=lv, index=ix, hash=h) for (lv, ix), h in nodes.items()])
    triggers.install(connection)


def backward(apps, schema_editor):
    from custos.ledger import triggers

    triggers.remove(schema_editor.connection, tables=("ledger_node", "ledger_signedhead", "ledger_ledgerstate"))


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_tree_nodes_and_signed_heads")]
    operations = [migrations.RunPython(forward, backward)]
