"""Mobile numbers, WeChat ids and QQ numbers: what counts as one, and where it is."""

import pytest

from custos.detection import phones


@pytest.mark.parametrize(
    ("digits", "expected"),
    [
        ("13712345678", "13712345678"),
        ("8613712345678", "13712345678"),
        ("008613712345678", "13712345678"),
        ("19912345678", "19912345678"),
        ("12345678901", None),  # no such prefix
        ("4008208820", None),  # a hotline
        ("1371234567", None),  # one digit short
        ("137123456789", None),  # one too many
    ],
)
def test_mobile(digits, expected):
    assert phones.mobile(digits) == expected


def test_mobile_runs_widen_to_the_whole_run():
    assert phones.mobile_runs("我手机13712345678") == [(3, 14)]
    assert phones.mobile_runs("x0013712345678901y") == [(1, 17)]
    assert phones.mobile_runs("价格15900") == []


def test_mobile_spans_split_a_list_and_refuse_codes():
    text = "13712345678，13812345678"
    digits = [(ch, i, i + 1) for i, ch in enumerate(text) if ch.isdigit()]
    assert [n for _, _, n in phones.mobile_spans(text, digits)] == ["13712345678", "13812345678"]
    code = "SF13712345678"
    digits = [(ch, i, i + 1) for i, ch in enumerate(code) if ch.isdigit()]
    assert phones.mobile_spans(code, digits) == []


@pytest.mark.parametrize(
    ("folded", "labelled", "expected"),
    [
        (" chen_xiao_2026 加一下", False, ("wechat_id", "chen_xiao_2026")),
        ("：wangwei", True, ("wechat_id", "wangwei")),
        (" wangwei", False, None),  # an unlabelled word is likely just a word
        ("号是 wangwei", False, ("wechat_id", "wangwei")),
        (" 12345678", False, ("contact_number", "12345678")),
        (" 13712345678", False, None),  # a mobile number: the phone detector reports it
        (" abc", True, None),  # too short for a WeChat id
        ("支付 20 元", False, None),
    ],
)
def test_contact_id_after(folded, labelled, expected):
    found = phones.contact_id_after(folded, 0, labelled)
    assert (found and (found[0], folded[found[1] : found[2]])) == expected
