"""Doubled-character terms, enclosed and Roman folds, word boundaries, and the confidence of each hit."""

import pytest

from custos.detection import words
from custos.detection.engine import CONFIDENCES, Engine
from custos.detection.lexicon import Term

CD, PD, KB, LEAK = "contact_diversion", "private_deal", "kickback", "contact_leak"


# A doubled-character term (扣扣, 偷偷加我) is met in the text with repeats collapsed; its single form
# must not stand for it wherever the message happens to repeat something else (谢谢).
@pytest.mark.parametrize(
    "text",
    [
        "你加我一下，扣款的事谢谢",
        "你加我一下，扣款的事",
        "偷加我吧谢谢",
        "谢谢，我加你一下，扣除运费后是多少",
        "哈哈哈，你加我好友，扣子颜色选哪个",
    ],
)
def test_a_single_character_is_no_doubled_term(engine, text):
    assert CD not in {h.category for h in engine.scan(text)}


@pytest.mark.parametrize(
    ("text", "category"),
    [("加我扣扣", CD), ("加我扣扣扣谢谢谢谢", CD), ("偷偷加我吧", CD), ("偷偷偷偷加我吧谢谢", CD)],
)
def test_the_doubled_term_itself_still_counts(categories, text, category):
    assert category in categories(text)


@pytest.mark.parametrize(
    "text",
    [
        "加我⒱⒳",  # parenthesised letters
        "加我⒲⒳",
        "加我ⅤⅩ",  # Roman numerals Ⅴ and Ⅹ are the letters
        "加我ⅴⅹ",
    ],
)
def test_enclosed_letters_and_roman_letters_fold(categories, text):
    assert CD in categories(text)


@pytest.mark.parametrize(
    "text",
    [
        "㈠㈢㈦㈠㈡㈢㈣㈤㈥㈦㈧",  # parenthesised CJK numerals
        "㊀㊂㊆㊀㊁㊂㊃㊄㊅㊆㊇",  # circled CJK numerals
        "ⅠⅢⅦⅠⅡⅢⅣ⑤⑥ⅦⅧ",  # Roman numerals as digits
        "ⅰⅲⅶⅰⅱⅲⅳ5ⅵⅶⅷ",
        "⑴⑶⑺⑴⑵⑶⑷⑸⑹⑺⑻",  # parenthesised digits
        "⒈⒊⒎⒈⒉⒊⒋⒌⒍⒎⒏",  # digits with a full stop
    ],
)
def test_enclosed_and_roman_numerals_fold_to_digits(engine, text):
    (hit,) = engine.scan(text)
    assert (hit.category, hit.matched, hit.confidence) == (LEAK, text, "normalised")


def test_folds_keep_one_unit_per_character(engine):
    for text in ["⒜⒵㈠㈩㊀Ⅳⅸ", "（一）第Ⅱ章"]:
        units = engine._norm.units(text)
        assert all(e - s == 1 for s, e in zip(units.starts, units.ends, strict=True))
    assert engine._norm.canonical("⒜⒵") == "az"
    assert engine._norm.canonical("ⅠⅡⅢⅣⅥⅦⅧⅨ") == "12346789"


@pytest.fixture(scope="module")
def latin():
    return Engine.from_default(
        extra_terms=[Term("av", "custom", "high"), Term("sex", "custom"), Term("test", "custom"), Term("vx")]
    )


@pytest.mark.parametrize(
    "text",
    ["I have a question", "Middlesex University", "ATESTB", "see wxyz.com", "attest", "vxyz", "savx"],
)
def test_latin_terms_do_not_match_inside_longer_words(latin, text):
    assert latin.scan(text) == []


@pytest.mark.parametrize(
    ("text", "matched"),
    [
        ("看av吗", "av"),
        ("sex shop", "sex"),
        ("a test run", "test"),
        ("TEST", "TEST"),
        ("加vx", "vx"),
        ("加vx123", "vx"),
        ("v.x 找我", "v.x"),
        ("加我 vx，谢谢", "vx"),
    ],
)
def test_latin_terms_match_as_words(latin, text, matched):
    assert matched in [h.matched for h in latin.scan(text)]


def test_the_shipped_latin_disguises_still_match_next_to_chinese(categories):
    assert CD in categories("快加我vx聊")
    assert CD in categories("加我wx")
    assert CD not in categories("加我wxyz")


def test_confidence_of_each_kind_of_reading(engine):
    def confidence(text):
        (hit,) = [h for h in engine.scan(text) if h.category != LEAK]
        return hit.confidence, hit.severity

    assert confidence("私下交易") == ("exact", "high")
    assert confidence("私 下 交 易") == ("normalised", "high")
    assert confidence("私私下下交易") == ("normalised", "high")
    assert confidence("ＳＩ下交易") == ("pinyin", "medium")
    assert confidence("私下交義") == ("homophone", "medium")  # 义 for 易
    assert confidence("飛單") == ("normalised", "high")  # traditional
    assert confidence("這單私下交易") == ("exact", "high")
    assert confidence("斯下交易") == ("homophone", "medium")  # a guess: one severity lower
    assert confidence("si xia jiao yi") == ("pinyin", "medium")
    assert confidence("加我薇信") == ("homophone", "high")  # a listed look-alike keeps its severity
    assert confidence("fei dan") == ("pinyin", "high")  # a term marked disguised too
    assert set(CONFIDENCES) == {"exact", "normalised", "homophone", "pinyin"}


@pytest.mark.parametrize(
    "text",
    [
        "买了十八斤苹果",  # 十八禁 (a 3-character term, too short for a homophone)
        "中地基要打牢",  # 中低级
        "学习要持之以恒",  # 持之一恒: the characters are an idiom of their own
        "这是您的第四单了",  # 四单 is no 私单
        "我会扣款的",  # 会扣 is no 回扣: 扣款 is a word
        "shang dan",  # pinyin of a two-syllable term not marked disguised
    ],
)
def test_homophones_of_ordinary_words_are_no_hits(text):
    engine = Engine.from_default(
        extra_terms=[Term("十八禁", "custom"), Term("中低级", "custom"), Term("持之一恒", "custom"), "商单"]
    )
    assert engine.scan(text) == [], text


def test_a_disguised_term_is_read_in_homophones_where_they_form_no_word(categories):
    assert KB in categories("给你汇扣")
    assert PD in categories("fei dan")


def test_edges_reject_a_term_completing_a_longer_word():
    # 主义 is the tail of 社会主义, but a common word in its own right: it stays a term everywhere
    assert words.edges("主义") == ((), ())
    engine = Engine.from_default(extra_terms=[Term("主义", "custom")])
    assert engine.scan("社会主义") != []
    engine = Engine.from_default(extra_terms=[Term("民共和国", "custom")])
    assert "人" in words.edges("民共和国")[0]  # the tail of 人民共和国
    assert engine.scan("中华人民共和国") == []
    assert engine.scan("民共和国的事") != []
