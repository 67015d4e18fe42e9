"""Phone numbers, WeChat ids and QQ numbers in a message: the contact_leak detectors.

Mobile numbers are found in the canonical text, where every way of writing a digit (一, 幺, ①,
full-width) is already an ASCII digit and the separators put between digits are gone: a run of
11 or more digits there is a candidate, checked against the original. Ids are looked for just
after a word that names a contact app ("微信号", "vx", "qq"), in the digit-folded original.
"""

import functools
import re

import phonenumbers

# A run of digits holding no such sequence holds no mobile number, however it is cut. Searching for
# it rather than for runs of digits is ten times faster: re skips ahead to each literal 1.
_MOBILE_LIKE = re.compile(r"1[3-9][0-9]{9}")
# The same over a canonical text in UTF-8 (a batch's, see Engine.scan_many): digits are one byte
# each there, so it matches where the str pattern matches the str.
_MOBILE_LIKE_UTF8 = re.compile(rb"1[3-9][0-9]{9}")
# Between two numbers rather than inside one: a disguise puts spaces, dashes or emoji between
# digits, a list of numbers puts commas.
_NUMBER_BREAK = re.compile(r"[,，、;；。/|\n]")
_MOBILE = re.compile(r"(?:0{0,2}86)?(1[3-9][0-9]{9})")
_LETTER = re.compile(r"[A-Za-zＡ-Ｚａ-ｚ]")
# WeChat: 6-20 characters, a letter first, then letters, digits, _ or -.
_ID_AFTER = re.compile(r"[\s:：=＝是为号码]{0,6}(?P<id>[a-z][-_a-z0-9]{5,19})(?![-_a-z0-9])")
_NUMBER_AFTER = re.compile(r"[\s:：=＝是为号码]{0,6}(?P<number>[1-9][0-9]{4,11})(?![0-9])")
_LABEL = re.compile(r"号|id|:|：|是")
ID_WINDOW = 32


def mobile_runs(canon: str) -> list[tuple[int, int]]:
    """Runs of digits in a canonical text that may hold a mobile number, as (start, end)."""
    runs = []
    for m in _MOBILE_LIKE.finditer(canon):
        start, end = m.span()
        if runs and start < runs[-1][1]:
            continue
        while start and "0" <= canon[start - 1] <= "9":
            start -= 1
        while end < len(canon) and "0" <= canon[end] <= "9":
            end += 1
        runs.append((start, end))
    return runs


def mobile_like(encoded: bytes) -> list[int]:
    """Byte offsets in a UTF-8 canonical text where `mobile_runs` of its str would find a run."""
    return [m.start() for m in _MOBILE_LIKE_UTF8.finditer(encoded)]


@functools.lru_cache(maxsize=4096)
def mobile(digits: str) -> str | None:
    """The national number when `digits` is a valid Chinese mobile number (with or without 86)."""
    m = _MOBILE.fullmatch(digits)
    if m is None:
        return None
    try:
        number = phonenumbers.parse("+86" + m.group(1))
    except phonenumbers.NumberParseException:
        return None
    if not phonenumbers.is_valid_number(number):
        return None
    kind = phonenumbers.number_type(number)
    if kind not in (phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE):
        return None
    return m.group(1)


def mobile_spans(text: str, digits: list[tuple[str, int, int]]) -> list[tuple[int, int, str]]:
    """Mobile numbers in a run of canonical digits, each given with its original span.

    The run is cut where the original has a list separator between two digits; each piece, and
    failing those the whole run, is tried. A run glued to Latin letters is a code (JD00123...),
    not a phone number.
    """
    first, last = digits[0][1], digits[-1][2]
    if (first and _LETTER.match(text, first - 1)) or _LETTER.match(text, last):
        return []
    pieces: list[list[tuple[str, int, int]]] = [[digits[0]]]
    for previous, current in zip(digits, digits[1:], strict=False):
        if _NUMBER_BREAK.search(text, previous[2], current[1]):
            pieces.append([])
        pieces[-1].append(current)
    found = []
    for piece in pieces:
        number = mobile("".join(d for d, _, _ in piece))
        if number:
            found.append((piece[0][1], piece[-1][2], number))
    if not found and len(pieces) > 1:
        number = mobile("".join(d for d, _, _ in digits))
        if number:
            found.append((first, last, number))
    return found


def contact_id_after(folded: str, at: int, labelled: bool) -> tuple[str, int, int] | None:
    """A WeChat id or contact number starting right after `at` in the digit-folded message.

    Returns (kind, start, end), kind "wechat_id" or "contact_number". Without a label (微信号,
    "id", a colon), an all-letter word is too likely an ordinary word to be taken for an id.
    """
    window = folded[at : at + ID_WINDOW]
    m = _ID_AFTER.match(window)
    if m:
        value = m.group("id")
        if labelled or _LABEL.search(window, 0, m.start("id")) or re.search(r"[0-9_-]", value):
            return "wechat_id", at + m.start("id"), at + m.end("id")
    m = _NUMBER_AFTER.match(window)
    if m and mobile(m.group("number")) is None:
        return "contact_number", at + m.start("number"), at + m.end("number")
    return None
