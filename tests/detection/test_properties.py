"""Properties over generated text: offsets always exact, disguises between characters never hide a term."""

import os

import opencc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pypinyin import Style, lazy_pinyin

from custos.detection import charmap, lexicon
from custos.detection.normalise import Normaliser, collapse

TERMS = lexicon.load_terms(lexicon.DEFAULT_LEXICON)
TO_TRADITIONAL = opencc.OpenCC("s2t")
# What a person puts between characters to dodge a filter; none of it is a letter or a digit.
SEPARATORS = [" ", "　", "-", "_", "*", "#", "~", ".", "，", "、", "！", "·", "/", "|", "【", "】",
              "🙂", "💰", "❤️", "👍🏻", "\u200b", "\ufe0f", "\t"]  # fmt: skip
# Text to throw at the normaliser: Chinese (simplified and traditional), Latin, digits in every
# spelling, separators, emoji, and the odd control or private-use character.
ALPHABET = st.sampled_from(
    list("加我微信薇威私人单飞回扣好处费现金给离职新店開個們號碼一二三四五六七八九零幺①②③１２３")
    + list("abcxyzVXQWjiaoweixnsdu0123456789_-")
    + [ch for sep in SEPARATORS for ch in sep]
    + ["\x00", "\ue000", "\U0001f600", "\U00020000", "é", "Ⅻ", "ﬁ"]
)
TEXTS = st.text(alphabet=ALPHABET, max_size=60)
# CUSTOS_HYPOTHESIS_EXAMPLES=5000 for a deeper search than the suite's default.
FAST = settings(
    max_examples=int(os.environ.get("CUSTOS_HYPOTHESIS_EXAMPLES", "300")),
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


@FAST
@given(TEXTS)
def test_units_agree_with_the_fast_canonical_form(engine, text):
    norm = engine._norm
    units = norm.units(text)
    assert units.canon == norm.canonical(text)
    assert len(units.starts) == len(units.ends) == len(units.folds) == len(units.canon)
    assert all(0 <= s < e <= len(text) for s, e in zip(units.starts, units.ends, strict=True))
    assert list(units.starts) == sorted(units.starts)
    collapsed = units.collapsed()
    assert collapsed.canon == collapse(units.canon)


@FAST
@given(TEXTS)
def test_digit_origins_agree_with_the_units(engine, text):
    # The engine reads digit runs from digit_origins when nothing else needs the units.
    units = engine._norm.units(text)
    digits = [i for i, unit in enumerate(units.canon) if "0" <= unit <= "9"]
    assert engine._norm.digit_origins(text) == [units.starts[i] for i in digits]
    assert all(units.ends[i] == units.starts[i] + 1 for i in digits)


@FAST
@given(TEXTS)
def test_digit_origins_agree_with_the_units_where_letters_fold_onto_digits(text):
    # A look-alike table may read a letter as a digit (o for 0); inside a word spelled as pinyin
    # (weixin) the letter is part of a syllable, not a digit, in both.
    norm = Normaliser(charmap.build((("i", "1"), ("o", "0"), ("s", "5"))))
    units = norm.units(text)
    digits = [i for i, unit in enumerate(units.canon) if "0" <= unit <= "9"]
    assert norm.digit_origins(text) == [units.starts[i] for i in digits]


@FAST
@given(TEXTS, st.sampled_from(["staff", "customer", None]))
def test_hits_point_at_the_original_text(engine, text, role):
    for hit in engine.scan(text, sender_role=role):
        assert 0 <= hit.start < hit.end <= len(text)
        assert text[hit.start : hit.end] == hit.matched


@FAST
@given(st.lists(TEXTS, max_size=8))
def test_a_batch_scans_like_its_messages_one_by_one(engine, texts):
    assert engine.scan_many([(t, "staff") for t in texts]) == [engine.scan(t) for t in texts]


@FAST
@given(st.sampled_from(TERMS), st.data())
def test_separators_between_characters_do_not_hide_a_term(engine, term, data):
    chars = list(term.text)
    disguised = chars[0]
    for ch in chars[1:]:
        disguised += "".join(data.draw(st.lists(st.sampled_from(SEPARATORS), max_size=3))) + ch
    before = data.draw(st.sampled_from(["", "您好，", "那个 "]))
    text = before + disguised + data.draw(st.sampled_from(["", "。", "，谢谢"]))
    hits = engine.scan(text)
    assert term.category in {hit.category for hit in hits}, (text, hits)
    for hit in hits:
        assert text[hit.start : hit.end] == hit.matched


@pytest.mark.parametrize("term", TERMS, ids=[t.text for t in TERMS])
def test_every_term_is_found_written_out_in_pinyin_in_traditional_and_stuttered(categories, term):
    spelled = " ".join(lazy_pinyin(term.text, style=Style.NORMAL))
    if term.disguised or len(term.text) >= 3:
        # pinyin of a short term is ordinary Latin text (si dan) unless it is marked disguised
        assert term.category in categories(spelled), spelled
    traditional = TO_TRADITIONAL.convert(term.text)
    assert term.category in categories(traditional), traditional
    stuttered = "".join(ch * 2 for ch in term.text)
    assert term.category in categories(stuttered), stuttered


@FAST
@given(
    st.lists(
        st.one_of(ALPHABET, st.characters(codec=None, exclude_categories=()), st.just("\ud800")),
        min_size=charmap.VECTOR_FROM,
        max_size=charmap.VECTOR_FROM * 3,
    ).map("".join)
)
def test_the_vectorised_translate_is_str_translate(engine, text):
    # Long texts (a joined batch) go through numpy; any code point, lone surrogates included.
    tables = engine._norm.tables
    assert charmap.translate_main(text, tables) == text.translate(tables.main)
