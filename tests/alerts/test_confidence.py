"""How sure each stored hit is (exact, normalised, homophone, pinyin): kept with the hit, refilled by a
rebuild, shown on the alert page and in the API."""

import json
import re
from pathlib import Path

from django.utils import translation

from custos.alerts.models import Confidence, Hit
from custos.detection.engine import CONFIDENCES
from custos.ledger.projections import rebuild

from .conftest import message_event

# One message per confidence, each with the reading the engine gives it.
WRITTEN = {
    "这单咱们私下交易": ("private_deal", "exact", "high"),
    "飛單的事你放心": ("private_deal", "normalised", "high"),
    "这单咱们思下交易": ("private_deal", "homophone", "medium"),
    "si xia jiao yi 比较划算": ("private_deal", "pinyin", "medium"),
}
PENDING = Path(__file__).resolve().parents[2] / "src" / "custos" / "locale" / "pending" / "detection.json"


def _stored(seq):
    return [(h.category, h.confidence, h.severity) for h in Hit.objects.filter(entry_seq=seq)]


def test_choices_are_the_engines_confidences():
    assert tuple(Confidence.values) == CONFIDENCES


def test_each_hit_stores_how_it_was_read(company, send):
    entries = send(*[message_event(company.sales_a, text) for text in WRITTEN])
    for entry, (text, expected) in zip(entries, WRITTEN.items(), strict=True):
        assert _stored(entry.seq) == [expected], text


def test_a_shared_number_is_exact_as_digits_and_normalised_in_chinese_numerals(company, send):
    digits, numerals = send(
        message_event(company.sales_a, "我手机 13912345678，有事直接打"),
        message_event(company.sales_a, "我手机一三九一二三四五六七八，有事直接打"),
    )
    assert Hit.objects.get(entry_seq=digits.seq, category="contact_leak").confidence == "exact"
    assert Hit.objects.get(entry_seq=numerals.seq, category="contact_leak").confidence == "normalised"


def test_rebuild_refills_the_confidence(company, send):
    entries = send(*[message_event(company.sales_a, text) for text in WRITTEN])
    before = {e.seq: _stored(e.seq) for e in entries}
    # As rows stored before the column existed look: all at the default.
    Hit.objects.update(confidence="exact")
    rebuild("alerts.detect")
    assert {e.seq: _stored(e.seq) for e in entries} == before
    assert set(Hit.objects.values_list("confidence", flat=True)) == set(CONFIDENCES)


def test_alert_page_shows_the_confidence_of_each_hit(company, send, console):
    send(message_event(company.sales_a, "si xia jiao yi 比较划算"))
    hit = Hit.objects.get()
    page = console(company.manager_a).get(f"/alerts/{_alert_of(hit)}/").content.decode()
    [mark] = re.findall(r'<mark class="hit"[^>]*>', page)
    assert 'data-confidence="pinyin"' in mark and ("Pinyin" in mark or "拼音" in mark)
    [shown] = re.findall(r'<span class="confidence" data-confidence="(\w+)">([^<]+)</span>', page)
    assert shown[0] == "pinyin" and shown[1] in ("Pinyin", "拼音")


def test_api_evidence_carries_the_confidence(company, send, api):
    send(
        message_event(company.sales_a, "这单咱们思下交易"), message_event(company.sales_a, "这单咱们私下交易")
    )
    body = api(company.manager_a).get(f"alerts/{_alert_of(Hit.objects.first())}").json()
    hits = [h for item in body["items"] for h in item["hits"]]
    assert sorted((h["matched"], h["confidence"]) for h in hits) == [
        ("思下交易", "homophone"),
        ("私下交易", "exact"),
    ]
    labels = {h["confidence"]: h["confidence_label"] for h in hits}
    assert labels["homophone"] in ("Homophone or look-alike", "同音或形近")
    assert labels["exact"] in ("Exact", "原文")


def test_every_confidence_label_has_its_chinese():
    pending = json.loads(PENDING.read_text(encoding="utf-8"))
    with translation.override("en"):  # the msgids, whatever the catalogue holds by now
        chinese = {value: pending.get(str(label)) for value, label in Confidence.choices}
    assert chinese == {"exact": "原文", "normalised": "规范化", "homophone": "同音或形近", "pinyin": "拼音"}


def _alert_of(hit):
    from custos.alerts.models import Alert

    return next(a.pk for a in Alert.objects.all() if hit.entry_seq in a.evidence)
