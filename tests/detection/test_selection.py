"""Which messages of a batch are looked at closely (Engine._to_look): a short pattern only where it
is written as such, a stutter only where characters really double next to a pattern; never a
message with a hit left out, and `scan` one at a time deciding as `scan_many` does."""

from custos.detection.charmap import BOUNDARY
from custos.detection.engine import Engine
from custos.detection.lexicon import Term

ENGINE = Engine.from_default(
    extra_terms=[Term("回款公司", "kickback", "high"), Term("优惠券返现", "kickback", "high"), "记账"]
)

TEXTS = {
    # with hits
    "回扣照老规矩给你": True,
    "回回扣扣的事放心": True,
    "回回回扣的事放心": True,  # a run of three before the pattern's next unit
    "加我私私人微信": True,
    "这个回款公斯的事": True,  # a homophone of a four-unit term
    "hui kou zhao jiu": True,  # pinyin
    "这笔记记账上": True,
    "有优惠券返现吗": True,
    # without
    "有没有优惠券": False,  # you you hui: no character repeats
    "纪账的事": False,  # a homophone of a short term (记账) is no hit, nor worth a look
    "谢谢谢谢您的支持": False,
    "１９９８年的报纸": False,
}


def _looked(texts):
    return ENGINE._to_look(texts, ENGINE._norm.batch(BOUNDARY.join(texts)))


def test_a_batch_and_one_at_a_time_find_the_same():
    texts = list(TEXTS)
    many = ENGINE.scan_many([(t, "staff") for t in texts])
    assert many == [ENGINE.scan(t, "staff") for t in texts]
    assert {t: bool(hits) for t, hits in zip(texts, many, strict=True)} == TEXTS


def test_every_message_with_a_hit_is_looked_at_and_plain_ones_are_not():
    texts = list(TEXTS)
    looked = _looked(texts)
    for i, text in enumerate(texts):
        if TEXTS[text]:
            assert i in looked, text
    assert texts.index("纪账的事") not in looked
    assert texts.index("有没有优惠券") not in looked
    assert texts.index("１９９８年的报纸") not in looked


def test_the_single_message_decision_is_the_batchs():
    texts = [*TEXTS, "哈哈哈哈私下交易", "si si xia jiao yi", "好好好的微微信号abc123", "我手机 13912345678"]
    looked = _looked(texts)
    for i, text in enumerate(texts):
        alone = _looked([text])
        assert (0 in alone) == (i in looked), text


def test_a_lone_cue_is_not_looked_at_and_with_a_partner_it_is():
    # 离职 and 现金 open proximity rules; without a partner (找我, 给我) they make no hit
    lone = [
        "他上个月离职了，手续都办完了",
        "现金流很紧张",
        "离离职的事还早",
        # with repeats collapsed, 扣 reads as the doubled cue 扣扣 (QQ); a contact cue only that
        # text holds is never read, so these are lone too
        "他离职以后扣款的事好好说",
        "现金扣款的事谢谢谢谢",
    ]
    paired = ["我离职以后你来找我", "现金直接给我", "离职了，以后找我就行"]
    texts = lone + paired
    looked = _looked(texts)
    for i, text in enumerate(texts):
        assert (i in looked) == (text in paired), text
        assert (0 in _looked([text])) == (text in paired), text
        assert bool(ENGINE.scan(text, "staff")) == (text in paired), text
    assert ENGINE.scan_many([(t, "staff") for t in texts]) == [ENGINE.scan(t, "staff") for t in texts]
