"""The shared sample of 30 messages (../shared/data/detection-sample.jsonl): every one right."""

import json
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[3] / "shared" / "data" / "detection-sample.jsonl"


@pytest.fixture(scope="module")
def rows():
    if not SAMPLE.exists():
        pytest.skip(f"no detection sample at {SAMPLE}")
    return [json.loads(line) for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]


def test_sample_all_categories_found_and_no_false_hits(engine, rows):
    results = engine.scan_many([(row["text"], row["sender_role"]) for row in rows])
    missed, false_hits = [], []
    for row, hits in zip(rows, results, strict=True):
        got = {hit.category for hit in hits}
        if row["expect"] and not set(row["expect"]) <= got:
            missed.append((row["id"], row["text"], row["expect"], sorted(got)))
        if not row["expect"] and got:
            false_hits.append((row["id"], row["text"], sorted(got)))
    assert not missed, missed
    assert not false_hits, false_hits


def test_sample_spans_are_exact(engine, rows):
    for row in rows:
        for hit in engine.scan(row["text"], sender_role=row["sender_role"]):
            assert row["text"][hit.start : hit.end] == hit.matched
            assert hit.matched.strip() == hit.matched
