import pytest
from django.core.management import call_command

from custos.archive import blobs
from custos.archive import demo as archive_demo
from custos.archive.models import Conversation, ExternalContact, Message
from custos.customers import demo as customers_demo
from custos.org import demo as org_demo


@pytest.mark.django_db
def test_demo_archive_is_worth_opening():
    org_demo.build(2026)
    customers_demo.build(2026, total=300)
    counts = archive_demo.build(2026, per_staff=4)
    assert counts["rejected"] == 0 and counts["accepted"] > 500
    assert Message.objects.filter(msgtype="image").exists() and Message.objects.filter(msgtype="voice").exists()
    image = Message.objects.filter(msgtype="image").first()
    assert blobs.read_bytes(image.attachment_sha256).startswith(b"\x89PNG")
    assert Message.objects.filter(kind="call.logged", customer_id__isnull=False).exists()
    assert Message.objects.filter(recalled_at__isnull=False).exists()
    assert ExternalContact.objects.filter(customer_id__isnull=True).exists()  # leads to link
    assert Conversation.objects.filter(customer_id__isnull=False).count() > Conversation.objects.count() // 2
    call_command("ledger", "verify")
