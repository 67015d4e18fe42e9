"""archive_message partitioned by month of occurred_at on PostgreSQL (custos.core.partitioning)."""

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, connection, transaction

from custos.archive.models import Message
from custos.core import partitioning

pytestmark = pytest.mark.skipif(
    connection.vendor != "postgresql",
    reason="declarative partitioning is PostgreSQL's; SQLite keeps plain tables",
)

MONTHS = [datetime(2026, 9, 15, tzinfo=UTC), datetime(2026, 10, 15, tzinfo=UTC)]


def _where(id_) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT tableoid::regclass::text FROM archive_message WHERE id = %s", [id_])
        return cursor.fetchone()[0]


def test_messages_land_in_the_month_they_occurred(company, device, ev):
    partitioning.ensure_ahead(connection, ahead=0, now=MONTHS[1])
    phone = device(company.sales_a)
    r = phone.send(ev.msg("old", at=MONTHS[1]), ev.msg("older", at=datetime(2020, 1, 1, tzinfo=UTC)))
    assert r.status_code == 200, r.content
    old, older = Message.objects.get(source_id="old"), Message.objects.get(source_id="older")
    assert _where(old.id) == "archive_message_y2026m10"
    assert _where(older.id) == "archive_message_default"
    assert Message.objects.get(pk=old.pk).entry_seq == old.entry_seq
    with pytest.raises(IntegrityError), transaction.atomic():  # one message per entry, still
        Message.objects.filter(pk=older.pk).update(entry_seq=old.entry_seq)
    assert old.occurred_at - MONTHS[1] < timedelta(seconds=1)
