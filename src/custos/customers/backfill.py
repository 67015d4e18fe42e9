"""Filling the search keys of rows written before they existed (migration 0005, and
`custos customers reindex-search` after a restore from an old backup or an index key change).

Takes the model classes, so the migration can pass its historical ones.
"""

BATCH = 1000


def _in_batches(queryset, model, field: str, compute) -> int:
    rows, done = [], 0
    for row in queryset.iterator(chunk_size=BATCH):
        setattr(row, field, compute(row))
        rows.append(row)
        if len(rows) >= BATCH:
            model.objects.bulk_update(rows, [field])
            done, rows = done + len(rows), []
    model.objects.bulk_update(rows, [field])
    return done + len(rows)


def fill(customer_model, contact_model) -> tuple[int, int]:
    """(customers, phones) given their keys: names their pinyin, phones the keyed index of their
    last four digits, which needs each number opened once with the field key."""
    from custos.customers import contacts, names

    customers = _in_batches(
        customer_model.objects.only("pk", "name"),
        customer_model,
        "search_key",
        lambda c: names.search_key(c.name),
    )
    phones = _in_batches(
        contact_model.objects.filter(kind="phone").only("pk", "customer_id", "kind", "value_encrypted"),
        contact_model,
        "tail_index",
        lambda c: contacts.tail_index("phone", contacts.open_value(c)),
    )
    return customers, phones
