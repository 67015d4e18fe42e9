"""A text seen again is not worked out again: the engine remembers what a message worth a look holds."""

from custos.detection import Hit


def test_a_repeated_message_gets_the_same_hits_in_a_list_of_its_own(engine):
    text = "加我V信，私下交易"
    results = engine.scan_many([(text, "staff"), ("好的", "staff"), (text, "staff")])
    assert results[0] == results[2] == engine.scan(text) != []
    assert results[0] is not results[2]
    results[0].append(Hit("x", "x", "low", 0, 1, "加"))  # a caller changing its list changes no other
    assert engine.scan_many([(text, "staff")])[0] == results[2]
    assert engine.scan(text) == results[2]


def test_what_is_remembered_is_per_role(engine):
    # contact_leak is raised by staff only (default rules): the same text from a customer is clean.
    text = "我手机 13712345678"
    assert [h.category for h in engine.scan(text, "staff")] == ["contact_leak"]
    assert engine.scan(text, "customer") == []
    assert [[h.category for h in hits] for hits in engine.scan_many([(text, "customer"), (text, "staff")])] == [
        [],
        ["contact_leak"],
    ]


def test_long_messages_are_not_remembered():
    from custos.detection.engine import REMEMBER_UP_TO, Engine

    engine = Engine.from_default(extra_terms=["记住我"])  # an engine of its own: a cache of its own
    short, long = "加我V信", "您好，" * REMEMBER_UP_TO + "私下交易"
    assert engine.scan(short) and engine.scan(short) and engine.scan(long) and engine.scan(long)
    info = engine._looked_cache.cache_info()
    assert (info.hits, info.misses, info.currsize) == (1, 1, 1)
