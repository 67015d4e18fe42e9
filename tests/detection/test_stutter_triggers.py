"""scan_many skips a message whose only trigger is a stutter fragment, unless something real is there."""

from custos.detection.engine import Engine
from custos.detection.lexicon import Term


def test_a_stutter_fragment_alone_is_no_look_but_never_hides_a_term():
    engine = Engine.from_default(extra_terms=[Term("优惠券返现", "kickback", "high")])
    texts = [
        "有没有优惠券",  # 有优惠 reads you you hui: a fragment of a stutter, nothing repeats
        "有优惠券返现吗",  # the fragment ends first and hides the term from the batch search
        "回回扣扣的事放心",  # a real stutter
        "好的谢谢",
    ]
    results = engine.scan_many([(t, "staff") for t in texts])
    assert results == [engine.scan(t, "staff") for t in texts]
    assert [bool(r) for r in results] == [False, True, True, False]
    assert results[1][0].matched == "优惠券返现"
    # Results without hits share one list; callers only read them.
    assert results[0] == [] and results[3] == []
