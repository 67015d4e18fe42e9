"""Per-character tables behind normalisation, built once from Unicode, OpenCC and pypinyin data.

Normalising is a `str.translate` over one list indexed by code point: a list lookup is the
cheapest per-character step CPython offers (a dict costs half as much again, a Python loop
twenty times), and it does in one pass what would otherwise be six: full-width → half-width,
case, traditional → simplified, look-alike folding, digits, dropping separators, and folding
every Chinese character onto its syllable unit.
"""

import functools
import sys
import unicodedata
from dataclasses import dataclass

import numpy
import opencc

from custos.detection import pinyin

# Messages of a batch are joined with this character; the main table keeps it, so it separates
# them in the normalised text too, and no term can match across it.
BOUNDARY = "\x00"
# Marks a dropped character in `main_array`; no code point.
DROP = 0xFFFFFFFF
# Below this many characters, str.translate is quicker than setting up the vector operations.
VECTOR_FROM = 256
# Past the last ideograph pypinyin knows (CJK extension G); the emoji blocks lie below it.
# Characters beyond are left as they are: translate leaves a character whose lookup fails.
TABLE_SIZE = 0x32400
# Emoji added after this Python's Unicode version are unassigned to it: drop them all the same.
_EMOJI_BLOCKS = range(0x1F000, 0x1FB00)
# Where a real character whose canonical form would be a syllable unit's code point goes instead:
# the private use area, which the main table drops from every text, so nothing else lands there.
_MOVED_BASE = 0xE000

# The ways a digit is written in a phone number meant to slip past a filter. Mapping them in the
# main table too keeps one normalised text for terms and numbers; terms are folded the same way.
CHINESE_DIGITS = {
    "零": "0", "〇": "0", "○": "0",
    "一": "1", "壹": "1", "幺": "1", "弌": "1",
    "二": "2", "贰": "2", "貳": "2", "弍": "2",
    "三": "3", "叁": "3", "參": "3", "弎": "3",
    "四": "4", "肆": "4",
    "五": "5", "伍": "5",
    "六": "6", "陆": "6", "陸": "6",
    "七": "7", "柒": "7",
    "八": "8", "捌": "8",
    "九": "9", "玖": "9",
}  # fmt: skip

# Roman numerals are a ready-made disguise for both digits (a phone number as ⅠⅢⅦ...) and the two
# letters of VX; NFKC spells most of them as several letters, which a one-for-one table cannot hold.
# Ⅴ and Ⅹ stay the letters v and x (Ⅴ信, ⅤⅩ: far more common in chat than a 5 or a 10 in a number);
# the others read as the digit of their value. Ⅺ and Ⅻ have no one-character reading and are left.
ROMAN = {
    **{chr(0x2160 + i): str(i + 1) for i in range(9)},
    **{chr(0x2170 + i): str(i + 1) for i in range(9)},
    "Ⅴ": "v", "ⅴ": "v", "Ⅹ": "x", "ⅹ": "x",
}  # fmt: skip
# What NFKC wraps round a letter, digit or ideograph it cannot write alone: ⒜ (a), ㈠ (一), ⑴ (1), ⒈ 1.
_ENCLOSING = str.maketrans("", "", "().")


@dataclass(frozen=True, eq=False)
class CharTables:
    # cp → unit code point, or None to drop the character (the fast path's translate table)
    main: list
    # `main` as an array over every code point, DROP for None: translates a long text in a few
    # vector operations (see `translate_main`)
    main_array: numpy.ndarray
    # cp → the character a syllable unit stands for, after folding: tells 微信 from its homophones
    fold: dict[int, str]
    # cp → 1 where `main` keeps the character, 0 where it drops it: where each unit comes from
    keep: list
    # cp → the folded character of the unit (`fold`, else the unit itself), None where dropped
    fold_kept: list
    # `fold_kept` as an array over every code point (DROP for None), for the characters a batch
    # keeps: whether a unit is written as a term writes it is read from these, in a few vector operations
    fold_array: numpy.ndarray
    # cp → 1 where `main` makes the character a digit, else 0: where the digits of a number come from
    digit_mark: list
    # width, case and traditional → simplified only, one character for one: what contexts read
    base: dict[int, str]
    # `base` with every spelling of a digit made ASCII, one for one: what numbers and ids are read from
    digits: dict[int, str]
    # a syllable → a character whose unit it is, to spell a Latin pinyin word in Chinese
    spelling: dict[str, str]


@functools.cache
def _t2s() -> dict[str, str]:
    # One OpenCC call over every ideograph, one a line: character by character keeps the mapping one
    # for one, which the offsets rely on; phrase-level conversion would buy nothing for matching.
    han = [chr(cp) for cp in range(0x3400, 0xA000)] + [chr(cp) for cp in range(0xF900, 0xFB00)]
    converted = opencc.OpenCC("t2s").convert("\n".join(han)).split("\n")
    return {t: s for t, s in zip(han, converted, strict=True) if t != s and len(s) == 1}


def _base_char(ch: str, t2s: dict[str, str]) -> str:
    if ch in ROMAN:
        return ROMAN[ch]
    n = unicodedata.normalize("NFKC", ch)
    if len(n) != 1:
        bare = n.translate(_ENCLOSING)
        n = bare if len(bare) == 1 and len(n) > 1 else ch
    low = n.lower()
    if len(low) == 1:
        n = low
    return t2s.get(n, n)


@functools.lru_cache(maxsize=8)
def build(lookalikes: tuple[tuple[str, str], ...] = ()) -> CharTables:
    """The tables for a look-alike folding (disguise → plain character); cached, immutable."""
    fold_lookalike = dict(lookalikes)
    t2s = _t2s()
    main: list = [clear_of_units(cp) for cp in range(TABLE_SIZE)]
    fold: dict[int, str] = {}
    base: dict[int, str] = {}
    digits: dict[int, str] = {}
    for cp in range(1, TABLE_SIZE):
        ch = chr(cp)
        category = unicodedata.category(ch)
        if category == "Cn":
            if cp in _EMOJI_BLOCKS:
                main[cp] = None
            continue
        b = _base_char(ch, t2s)
        f = fold_lookalike.get(b, b)
        digit = CHINESE_DIGITS.get(f)
        if digit is None and (value := unicodedata.digit(f, None)) is not None:
            digit = str(value)
        if b != ch:
            base[cp] = b
        if (digit or b) != ch:
            digits[cp] = digit or b
        if digit is not None:
            main[cp] = ord(digit)
        elif unicodedata.category(f)[0] in "LN":
            syllable = pinyin.syllable_of(ord(f))
            if syllable is not None:
                main[cp] = ord(pinyin.unit_of(syllable))
                fold[cp] = f
            else:
                main[cp] = clear_of_units(ord(f))
        else:
            main[cp] = None  # punctuation, symbols, spaces, controls, marks, emoji, private use
    spelling: dict[str, str] = {}
    # Prefer common ideographs (the basic block) over extension A: easier to read when debugging.
    for cp, f in sorted(fold.items(), key=lambda item: (item[0] < 0x4E00, item[0])):
        unit = chr(main[cp])
        syllable = pinyin.syllable_of(ord(f))
        if syllable not in spelling and f == chr(cp) and pinyin.unit_of(syllable) == unit:
            spelling[syllable] = f
    keep = [0 if unit is None else 1 for unit in main]
    main_array = numpy.arange(sys.maxunicode + 1, dtype=numpy.uint32)
    main_array[:TABLE_SIZE] = [DROP if unit is None else unit for unit in main]
    main_array.flags.writeable = False
    fold_kept = [ord(fold[cp]) if cp in fold else unit for cp, unit in enumerate(main)]
    fold_array = numpy.arange(sys.maxunicode + 1, dtype=numpy.uint32)
    fold_array[:TABLE_SIZE] = [DROP if unit is None else unit for unit in fold_kept]
    fold_array.flags.writeable = False
    digit_mark = [1 if unit is not None and 0x30 <= unit <= 0x39 else 0 for unit in main]
    return CharTables(
        main=main,
        main_array=main_array,
        fold=fold,
        keep=keep,
        fold_kept=fold_kept,
        fold_array=fold_array,
        digit_mark=digit_mark,
        base=base,
        digits=digits,
        spelling=spelling,
    )


def clear_of_units(cp: int) -> int:
    """A real character's code point in the canonical text: its own, unless a syllable unit has it."""
    units = _unit_count()
    if pinyin.UNIT_BASE <= cp < pinyin.UNIT_BASE + units:
        return _MOVED_BASE + cp - pinyin.UNIT_BASE
    return cp


@functools.cache
def _unit_count() -> int:
    return len(pinyin.syllables())


def translate_main(text: str, tables: CharTables) -> str:
    """`text.translate(tables.main)`, the same string, faster on long texts.

    str.translate looks each character up through Python objects (tens of nanoseconds a
    character); here the text goes to UTF-32, through the table as one array index, drops the
    DROPs and comes back: a few nanoseconds a character once the text is long enough to pay
    for the set-up. Lone surrogates pass through both ways unchanged, as with translate.
    """
    if len(text) < VECTOR_FROM:
        return text.translate(tables.main)
    return translate_codes(text, tables).tobytes().decode("utf-32-le", "surrogatepass")


def translate_codes(text: str, tables: CharTables) -> numpy.ndarray:
    """The code points of `text.translate(tables.main)` as an array: translate_main's vector path."""
    codes = numpy.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    units = tables.main_array.take(codes)
    return units[units != DROP]


def translate_kept(text: str, tables: CharTables) -> tuple[numpy.ndarray, numpy.ndarray]:
    """translate_codes, and the code points of the characters it kept, one for one with the units."""
    codes = numpy.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
    # take() over an index array is a third quicker than the same lookup written as main_array[codes].
    units = tables.main_array.take(codes)
    kept = units != DROP
    return units[kept], codes[kept]
