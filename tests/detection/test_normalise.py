"""The canonical form: what folds onto what, and where each unit came from."""

import pytest

from custos.detection import pinyin


@pytest.fixture(scope="module")
def norm(engine):
    return engine._norm


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("ｗｘ", "wx"),  # full-width → half-width
        ("WX", "wx"),  # case
        ("個人", "个人"),  # traditional → simplified
        ("薇信", "微信"),  # look-alike
        ("威信", "微信"),
        ("私 单", "私单"),  # separators dropped
        ("私🙂单", "私单"),
        ("私\u200b单", "私单"),
        ("si dan", "私单"),  # pinyin spelled out
        ("SiDan", "私单"),
        ("四单", "4单"),  # Chinese numerals are digits
        ("幺三七", "137"),
        ("①③⑦", "137"),
        ("１３７", "137"),
    ],
)
def test_folds_onto_the_same_canonical_text(norm, a, b):
    assert norm.canonical(a) == norm.canonical(b)


@pytest.mark.parametrize(("a", "b"), [("私单", "四单"), ("微信", "wx"), ("qq", "扣扣"), ("回扣", "扣子")])
def test_keeps_apart(norm, a, b):
    assert norm.canonical(a) != norm.canonical(b)


def test_homophones_share_a_unit_but_not_a_fold(norm):
    a, b = norm.units("回扣"), norm.units("会扣")
    assert a.canon == b.canon
    assert a.folds != b.folds


def test_units_know_their_original_span(norm):
    text = "加 我 ｗｘ！ si dan"
    units = norm.units(text)
    spans = [text[s:e] for s, e in zip(units.starts, units.ends, strict=True)]
    assert spans == ["加", "我", "ｗ", "ｘ", "si", "dan"]
    assert units.latin == (False, False, False, False, True, True)
    assert units.span(4, 6) == (text.index("si"), len(text))


def test_collapsed_units_cover_the_whole_run(norm):
    text = "回回扣扣"
    collapsed = norm.units(text).collapsed()
    assert len(collapsed.canon) == 2
    assert collapsed.span(0, 2) == (0, 4)


def test_an_id_stays_letters_and_digits(norm):
    # chen and xiao would be syllables on their own; inside an id they are not read as pinyin.
    assert norm.canonical("chen_xiao_2026") == "chenxiao2026"
    assert norm.canonical("chen xiao") != "chenxiao"


@pytest.mark.parametrize(
    ("word", "syllables"),
    [
        ("sixiajiaoyi", ("si", "xia", "jiao", "yi")),
        ("xian", ("xian",)),
        ("jiawoweixin", ("jia", "wo", "wei", "xin")),
        ("ＷｅｉＸｉｎ", ("wei", "xin")),
        ("vx", None),
        ("hello", None),
        ("n", None),
    ],
)
def test_pinyin_segmentation(word, syllables):
    assert pinyin.segment(word) == syllables


def test_base_and_digits_keep_offsets(norm):
    text = "微信號：①③⑦ＡＢ"
    assert len(norm.base(text)) == len(text)
    assert norm.base(text) == "微信号:137ab"
    assert norm.digits("幺三七一二") == "13712"


def test_syllable_units_are_two_bytes_in_utf8_and_no_real_character_reads_as_one(norm):
    # The automata read the canonical text in UTF-8: a unit is two bytes there, not three.
    units = {pinyin.unit_of(s) for s in pinyin.syllables()}
    assert all(len(unit.encode()) == 2 for unit in units)
    # Letters such as ā, ǎ, ɑ have the units' code points; in the canonical text they are moved away.
    for cp in range(0x80, 0x800):
        assert not set(norm.canonical(chr(cp))) & units, hex(cp)
    assert norm.canonical("ā") == norm.canonical("Ā") != norm.canonical("啊")
