"""The engine's API: hits, spans, batches, threads."""

from concurrent.futures import ThreadPoolExecutor

from custos.detection import Engine, Hit


def test_hit_fields_and_span(engine):
    text = "您好！以后加#我#薇#信，方便联系"
    (hit,) = engine.scan(text)
    assert hit == Hit(
        "contact_diversion", "near:add_me_on_private_app", "high", 5, 12, "加#我#薇#信", "homophone"
    )
    assert text[hit.start : hit.end] == hit.matched
    assert hit.as_dict()["matched"] == "加#我#薇#信"
    assert hit.as_dict()["confidence"] == "homophone"


def test_hits_come_in_order_one_per_finding(engine):
    hits = engine.scan("飞单的事你知我知，回扣照给，我手机13712345678")
    assert [h.start for h in hits] == sorted(h.start for h in hits)
    assert [h.category for h in hits] == ["private_deal", "private_deal", "kickback", "contact_leak"]


def test_a_term_inside_a_wider_hit_of_its_category_is_not_repeated(engine):
    # near:add_me_on_private_app covers 加我私人微信; the term 私人微信 inside it adds nothing.
    hits = engine.scan("加我私人微信")
    assert [(h.rule, h.matched) for h in hits] == [("near:add_me_on_private_app", "加我私人微信")]


def test_proximity_stays_within_a_sentence(engine):
    assert engine.scan("加我。微信支付也可以") == []
    assert engine.scan("加我。我微信是") != []


def test_batches(engine):
    assert engine.scan_many([]) == []
    texts = ["", "飞单", "a\x00b 回扣", "好的"]
    results = engine.scan_many([(t, "staff") for t in texts])
    assert [[h.category for h in hits] for hits in results] == [[], ["private_deal"], ["kickback"], []]
    assert results[2][0].matched == "回扣"


def test_a_nul_character_is_a_separator_like_any_other(engine):
    # NUL separates the messages of a batch inside the engine; in a message it is just dropped.
    assert [h.matched for h in engine.scan("飞\x00单")] == ["飞\x00单"]
    assert [
        [h.matched for h in hits] for hits in engine.scan_many([("飞\x00单", "staff"), ("回扣", "staff")])
    ] == [
        ["飞\x00单"],
        ["回扣"],
    ]


def test_a_long_message(engine):
    text = "您好，" * 5000 + "私下交易" + "谢谢" * 5000
    (hit,) = engine.scan(text)
    assert hit.matched == "私下交易" and text[hit.start : hit.end] == "私下交易"


def test_default_engine_is_built_once():
    assert Engine.from_default() is Engine.from_default()


def test_threads_share_one_engine(engine):
    texts = ["加我V信", "回回扣扣", "我手机 13712345678", "好的", "si xia jiao yi", "飛單"] * 200
    expected = [engine.scan(t) for t in texts]
    with ThreadPoolExecutor(max_workers=8) as pool:
        got = list(pool.map(engine.scan, texts))
    assert got == expected
