"""Detection inside ingestion: message entries scanned in the append transaction, hits stored."""

import json

from custos.alerts.models import Alert, Hit
from custos.ledger.models import Entry
from custos.ledger.projections import rebuild

from .conftest import event, message_event


def test_hits_are_stored_with_offsets_in_the_original_text(company, send):
    text = "您好！加我 V 信吧，以后私下交易"
    [appended] = send(message_event(company.sales_a, text))
    hits = list(Hit.objects.filter(entry_seq=appended.seq))
    categories = {h.category for h in hits}
    assert {"contact_diversion", "private_deal"} <= categories
    for hit in hits:
        assert text[hit.start : hit.end] == hit.matched
        assert hit.actor_id == company.sales_a.pk and hit.unit_id == company.store_a.pk


def test_a_batch_of_messages_in_one_append(company, send):
    texts = ["好的，明天见", "回扣照老规矩", "这款有白色和黑色", "加#我#薇#信"]
    results = send(*[message_event(company.sales_a, t) for t in texts])
    hit_seqs = set(Hit.objects.values_list("entry_seq", flat=True))
    assert hit_seqs == {results[1].seq, results[3].seq}


def test_contact_leak_only_for_staff_senders(company, send):
    staff, customer = send(
        message_event(company.sales_a, "我手机 13912345678，有事直接打"),
        message_event(company.sales_a, "我手机 13912345678，有事直接打", role="customer"),
    )
    leak = Hit.objects.get(entry_seq=staff.seq, category="contact_leak")
    assert leak.matched == "13*******78" and (leak.start, leak.end) == (4, 15)  # stored masked
    assert not Hit.objects.filter(entry_seq=customer.seq, category="contact_leak").exists()
    assert Alert.objects.filter(rule="contact_leak").count() == 1


def test_non_text_and_redacted_messages_are_skipped(company, send):
    send(message_event(company.sales_a, None, msgtype="image"))
    assert not Hit.objects.exists()


def test_rebuild_brings_hits_back_without_raising_again(company, send):
    send(
        message_event(company.sales_a, "这单咱们私下交易"), message_event(company.sales_b, "回扣照老规矩给你")
    )
    before = list(
        Hit.objects.order_by("entry_seq", "start").values_list("entry_seq", "category", "start", "end")
    )
    alerts = Alert.objects.count()
    raised = Entry.objects.filter(kind="alert.raised").count()
    assert alerts == 2 and raised == 2
    rebuild("alerts.detect")
    after = list(
        Hit.objects.order_by("entry_seq", "start").values_list("entry_seq", "category", "start", "end")
    )
    assert after == before
    assert Alert.objects.count() == alerts
    assert Entry.objects.filter(kind="alert.raised").count() == raised


def test_word_alert_written_to_the_ledger(company, send):
    [appended] = send(message_event(company.sales_a, "钱直接转到我个人账户上", customer_id=None))
    alert = Alert.objects.get()
    assert alert.rule == "sensitive_words" and alert.category == "payment_diversion"
    assert alert.employee == company.sales_a and alert.unit == company.store_a
    assert alert.evidence == [appended.seq]
    entry = Entry.objects.get(kind="alert.raised")
    payload = json.loads(entry.payload)
    assert payload == {
        "alert": alert.pk,
        "rule": "sensitive_words",
        "category": "payment_diversion",
        "severity": alert.severity,
        "evidence": [appended.seq],
        "reason": "",
    }


def test_deletions_raise_and_count(company, send):
    for i in range(3):
        send(event("contact.deleted_by_staff", company.sales_a, {"contact": f"wm_{i}"}))
    assert Alert.objects.filter(rule="customer_deleted").count() == 3
    mass = Alert.objects.get(rule="mass_deletion")
    assert len(mass.evidence) == 3 and mass.severity == "high"
    send(event("contact.deleted_by_staff", company.sales_a, {"contact": "wm_9"}))
    mass.refresh_from_db()
    assert len(mass.evidence) == 4 and Alert.objects.filter(rule="mass_deletion").count() == 1
