"""/api/v1/ledger: entries scoped to the caller, signed heads, proofs a client can check."""

import base64
from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives import serialization
from django.test import Client

from custos.ledger import heads, merkle
from custos.ledger.models import Entry
from custos.ledger.services import Event, append_batch, redact


@pytest.fixture
def story(company):
    """Entries in each store, by each salesperson, about customers, at known times."""
    c = company
    t = lambda day: datetime(2026, 3, day, 9, 0, tzinfo=UTC)  # noqa: E731
    appended = append_batch(
        [
            Event(
                "chat.sent",
                {"text": "你好"},
                actor_id=c.sales_a.pk,
                unit_id=c.store_a.pk,
                customer_id=501,
                occurred_at=t(1),
            ),
            Event(
                "chat.sent",
                {"text": "在吗"},
                actor_id=c.sales_a_peer.pk,
                unit_id=c.store_a.pk,
                customer_id=502,
                occurred_at=t(2),
            ),
            Event(
                "chat.recalled",
                {"msg": 1},
                actor_id=c.sales_a.pk,
                unit_id=c.store_a.pk,
                customer_id=501,
                occurred_at=t(3),
            ),
            Event(
                "chat.sent",
                {"text": "优惠"},
                actor_id=c.sales_a2.pk,
                unit_id=c.store_a2.pk,
                customer_id=503,
                occurred_at=t(4),
            ),
            Event(
                "chat.sent",
                {"text": "价格"},
                actor_id=c.sales_b.pk,
                unit_id=c.store_b.pk,
                customer_id=504,
                occurred_at=t(5),
            ),
            Event(
                "customer.deleted",
                {"why": "?"},
                actor_id=c.sales_b.pk,
                unit_id=c.store_b.pk,
                customer_id=504,
                occurred_at=t(6),
            ),
        ]
    )
    c.seq = {
        name: a.entry.seq
        for name, a in zip(["a1", "a_peer", "a_recall", "a2", "b1", "b_delete"], appended, strict=True)
    }
    return c


def seqs(response) -> list[int]:
    assert response.status_code == 200, response.content
    return [item["seq"] for item in response.json()["items"]]


def all_seqs(client, **params) -> list[int]:
    return seqs(client.get("ledger/entries", limit=500, **params))


@pytest.mark.parametrize("who", ["auditor", "executive", "admin"])
def test_auditors_executives_and_admins_see_every_entry(story, api, who):
    assert all_seqs(api(getattr(story, who))) == list(Entry.objects.values_list("seq", flat=True))


def ours(story, visible):
    """The story's entries among those visible (the company fixture wrote some entries too)."""
    return [x for x in visible if x in story.seq.values()]


def test_a_store_manager_sees_entries_of_the_store_only(story, api):
    s = story.seq
    visible = all_seqs(api(story.manager_a))
    assert ours(story, visible) == [s["a1"], s["a_peer"], s["a_recall"]]
    assert set(Entry.objects.filter(seq__in=visible).values_list("unit_id", flat=True)) == {story.store_a.pk}
    assert ours(story, all_seqs(api(story.manager_b))) == [s["b1"], s["b_delete"]]


def test_a_region_manager_sees_the_stores_below(story, api):
    s = story.seq
    visible = all_seqs(api(story.region_manager))
    assert ours(story, visible) == [s["a1"], s["a_peer"], s["a_recall"], s["a2"]]
    units = set(Entry.objects.filter(seq__in=visible).values_list("unit_id", flat=True))
    assert units <= {story.south.pk, story.store_a.pk, story.store_a2.pk}


def test_sales_see_what_they_did_themselves(story, api):
    s = story.seq
    visible = all_seqs(api(story.sales_a))
    assert ours(story, visible) == [s["a1"], s["a_recall"]]
    assert set(Entry.objects.filter(seq__in=visible).values_list("actor_id", flat=True)) == {story.sales_a.pk}
    assert ours(story, all_seqs(api(story.sales_b))) == [s["b1"], s["b_delete"]]


def test_filters(story, api):
    s, client = story.seq, api(story.auditor)
    assert all_seqs(client, kind="chat.") == [s["a1"], s["a_peer"], s["a_recall"], s["a2"], s["b1"]]
    assert all_seqs(client, kind="chat.recalled") == [s["a_recall"]]
    assert all_seqs(client, actor_id=story.sales_b.pk) == [s["b1"], s["b_delete"]]
    assert all_seqs(client, customer_id=501) == [s["a1"], s["a_recall"]]
    assert all_seqs(client, since="2026-03-02T09:00:00Z", until="2026-03-04T09:00:00Z") == [
        s["a_peer"],
        s["a_recall"],
    ]
    assert all_seqs(api(story.manager_a), customer_id=504) == []  # filters narrow the scope, never widen it


def test_pagination(story, api):
    client = api(story.auditor)
    total = Entry.objects.count()
    page = client.get("ledger/entries", limit=2, offset=3).json()
    assert page["count"] == total
    assert [i["seq"] for i in page["items"]] == [3, 4]


def test_an_entry_as_json(story, api):
    body = api(story.manager_a).get(f"ledger/entries/{story.seq['a1']}").json()
    entry = Entry.objects.get(seq=story.seq["a1"])
    assert body["payload"] == {"text": "你好"} and body["redacted"] is False
    assert body["kind"] == "chat.sent" and body["customer_id"] == 501 and body["unit_id"] == story.store_a.pk
    assert body["leaf_hash"] == bytes(entry.leaf_hash).hex() and body["payload_hash"] == entry.payload_hash
    assert body["occurred_at"].startswith("2026-03-01T")


def test_a_redacted_entry_shows_no_body(story, api):
    redact([story.seq["a1"]], "retention")
    body = api(story.auditor).get(f"ledger/entries/{story.seq['a1']}").json()
    assert body["payload"] is None and body["redacted"] is True and body["payload_hash"]


def test_an_entry_of_another_store_is_not_found(story, api):
    response = api(story.manager_a).get(f"ledger/entries/{story.seq['b1']}")
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"
    assert "价格" not in response.content.decode()
    assert api(story.sales_a).get(f"ledger/entries/{story.seq['a_peer']}").status_code == 404
    assert api(story.auditor).get("ledger/entries/999999").status_code == 404
    assert api(story.auditor).get(f"ledger/entries/{2**64}").status_code == 422


@pytest.mark.parametrize(
    "params",
    [
        {"since": "yesterday"},
        {"actor_id": "x"},
        {"limit": -1},
        {"kind": "k" * 65},
        {"since": "2026-03-05T00:00:00Z", "until": "2026-03-01T00:00:00Z"},
        {"since": "0001-01-01T00:00:00+08:00"},
        {"actor_id": 2**64},
    ],
)
def test_bad_list_parameters_are_4xx(story, api, params):
    response = api(story.auditor).get("ledger/entries", **params)
    assert 400 <= response.status_code < 500, response.content
    assert response.json()["error"] == "invalid"


def test_anonymous_callers_get_nothing(story):
    for path in ("entries", "entries/0", "head", "proof/inclusion?seq=0", "proof/consistency?old=1"):
        response = Client().get(f"/api/v1/ledger/{path}")
        assert response.status_code == 401, path


def test_head_and_key_for_anyone_signed_in(story, api):
    assert api(story.sales_a).get("ledger/head").status_code == 404  # nothing signed yet
    head = heads.sign_head()
    body = api(story.sales_a).get("ledger/head").json()
    assert body["size"] == head.size and body["root_hash"] == bytes(head.root_hash).hex()
    key = serialization.load_pem_public_key(body["public_key"].encode())
    signed = heads.tree_head_bytes(body["timestamp_ms"], body["size"], bytes.fromhex(body["root_hash"]))
    key.verify(base64.b64decode(body["signature"]), signed)  # a client checks the head on its own


def test_inclusion_proof_checks_out_against_the_signed_head(story, api):
    head = heads.sign_head()
    body = api(story.manager_a).get("ledger/proof/inclusion", seq=story.seq["a1"]).json()
    assert body["size"] == head.size and body["head"]["id"] == head.pk
    assert body["root_hash"] == bytes(head.root_hash).hex()
    leaf = bytes.fromhex(api(story.manager_a).get(f"ledger/entries/{story.seq['a1']}").json()["leaf_hash"])
    assert merkle.verify_inclusion(
        leaf, story.seq["a1"], body["size"], [bytes.fromhex(p) for p in body["proof"]], bytes(head.root_hash)
    )


def test_inclusion_proof_for_a_given_size_without_a_head(story, api):
    size = story.seq["a_recall"] + 1
    body = api(story.auditor).get("ledger/proof/inclusion", seq=story.seq["a1"], size=size).json()
    assert body["size"] == size and body["head"] is None


def test_inclusion_proof_of_an_entry_out_of_scope_is_not_found(story, api):
    heads.sign_head()
    response = api(story.manager_a).get("ledger/proof/inclusion", seq=story.seq["b1"])
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"seq": -1}, 422),
        ({"seq": "x"}, 422),
        ({}, 422),
        ({"seq": 0, "size": 0}, 422),
        ({"seq": 0, "size": 10**6}, 400),
    ],
)
def test_bad_inclusion_parameters_are_4xx(story, api, params, status):
    response = api(story.auditor).get("ledger/proof/inclusion", **params)
    assert response.status_code == status, response.content


def test_an_entry_past_the_head_is_a_clear_400(story, api):
    heads.sign_head()
    later = append_batch([Event("chat.sent", {}, actor_id=story.sales_a.pk, unit_id=story.store_a.pk)])[
        0
    ].entry
    response = api(story.auditor).get("ledger/proof/inclusion", seq=later.seq)
    assert response.status_code == 400
    assert "is not among the first" in response.json()["message"]


def test_consistency_proof_between_two_heads(story, api):
    first = heads.sign_head()
    append_batch([Event("chat.sent", {"n": i}) for i in range(300)])
    second = heads.sign_head()
    body = api(story.sales_a).get("ledger/proof/consistency", old=first.size).json()
    assert body["new"] == second.size
    assert (
        body["old_root"] == bytes(first.root_hash).hex() and body["new_root"] == bytes(second.root_hash).hex()
    )
    proof = [bytes.fromhex(p) for p in body["proof"]]
    assert merkle.verify_consistency(
        first.size, second.size, bytes(first.root_hash), bytes(second.root_hash), proof
    )


@pytest.mark.parametrize(
    ("params", "status"),
    [
        ({"old": 0}, 422),
        ({"old": "x"}, 422),
        ({}, 422),
        ({"old": 5, "new": 3}, 400),
        ({"old": 1, "new": 10**6}, 400),
    ],
)
def test_bad_consistency_parameters_are_4xx(story, api, params, status):
    response = api(story.auditor).get("ledger/proof/consistency", **params)
    assert response.status_code == status, response.content
    assert response.json()["error"] == "invalid"
