"""Lexicon and rules files: the shipped ones load, an operator's are read strictly."""

import pytest

from custos.detection import lexicon
from custos.detection.engine import Engine
from custos.detection.lexicon import LexiconError, Term

CATEGORIES = {
    "private_deal",
    "contact_diversion",
    "kickback",
    "payment_diversion",
    "poaching",
    "contact_leak",
}


def test_the_shipped_lexicon_covers_every_category_with_severities():
    terms = lexicon.load_terms(lexicon.DEFAULT_LEXICON)
    rules = lexicon.load_rules(lexicon.DEFAULT_RULES)
    assert set(rules.categories) >= CATEGORIES
    assert {t.category for t in terms} | {"contact_leak"} == CATEGORIES
    assert {t.severity for t in terms} <= set(lexicon.SEVERITIES)
    assert len({t.text for t in terms}) == len(terms)


def test_read_terms_defaults_and_comments():
    terms = lexicon.read_terms(
        ["# comment", "", "私人号码", "跑路\tpoaching", "红包私发\tkickback\thigh"], "x.tsv"
    )
    assert terms == [
        Term("私人号码", "custom", "medium"),
        Term("跑路", "poaching", "medium"),
        Term("红包私发", "kickback", "high"),
    ]


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("a\tb\tc\td\te", "line 1: expected term, category, severity, disguised"),
        ("词\tkickback\thigh\tyes", "line 1: fourth field 'yes'"),
        ("\tkickback", "line 1: empty term"),
        ("词\tNot A Name", "line 1: category 'Not A Name'"),
        ("词\tkickback\tsevere", "line 1: severity 'severe'"),
    ],
)
def test_read_terms_errors_name_the_line(line, message):
    with pytest.raises(LexiconError, match=message):
        lexicon.read_terms([line], "x.tsv")


def test_load_terms_reports_a_missing_file(tmp_path):
    with pytest.raises(LexiconError, match="cannot read lexicon"):
        lexicon.load_terms(tmp_path / "missing.tsv")


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            {
                "near": [{"name": "n", "category": "nope", "first": "a", "then": "a", "within": 1}],
                "cues": {"a": ["x"]},
            },
            "unknown category",
        ),
        (
            {
                "categories": {"c": {}},
                "near": [{"name": "n", "category": "c", "first": "a", "then": "b", "within": 1}],
                "cues": {"a": ["x"]},
            },
            "unknown cue group 'b'",
        ),
        ({"lookalikes": {"微信": "薇"}}, "not one character"),
        (
            {"cues": {"a": "x"}, "categories": {"c": {}}, "negative": [{"categories": ["c"], "around": "("}]},
            "error",
        ),
        ({"categories": {"c": {"roles": 3}}}, "expected a list of words"),
    ],
)
def test_rules_errors(data, message):
    with pytest.raises(LexiconError, match=message):
        lexicon.parse_rules(data, "rules.toml")


def test_extra_terms_add_to_the_default_lexicon():
    engine = Engine.from_default(
        extra_terms=[Term("跑路了", "poaching", "high"), "内部暗号", ("洗单", "private_deal")]
    )
    assert [h.rule for h in engine.scan("我要跑 路 了")] == ["term:跑路了"]
    assert [(h.category, h.severity) for h in engine.scan("内部暗号")] == [("custom", "medium")]
    assert {h.category for h in engine.scan("帮你洗洗单单")} == {"private_deal"}
    assert engine.size == Engine.from_default().size + 3


def test_a_term_with_nothing_to_match_is_refused():
    with pytest.raises(LexiconError, match="nothing|no letter"):
        Engine.from_default(extra_terms=["！！"])


def test_allow_list_numbers_accounts_and_channels():
    engine = Engine.from_default(allow=["138-0013-8000", "custos_official", "门店小号"])
    assert engine.scan("我手机 13800138000") == []
    assert [h.matched for h in engine.scan("我手机 13900139000")] == ["13900139000"]
    assert engine.scan("微信号 custos_official") == []
    assert engine.scan("加我门店小号") == []
    assert Engine.from_default().scan("加我门店小号") != []
