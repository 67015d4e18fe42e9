"""Toneless pinyin: the syllable of every character pypinyin knows, and Latin words read as pinyin.

Homophones are matched by folding every Chinese character onto one "unit" per toneless syllable
(微, 薇, 威 and "wei" are one unit). A character's syllable is its first reading in pypinyin's
dictionary: the same choice for the text and for the terms, so a term written with the very
characters of the text always matches, whatever the phrase would really be read as.
"""

import functools
import re
import unicodedata

from pypinyin import Style, lazy_pinyin
from pypinyin.contrib.tone_convert import to_normal
from pypinyin.pinyin_dict import pinyin_dict

# Units are code points from U+0100 on, one per syllable (about 400): two bytes each in UTF-8, so
# the automata read two bytes per Chinese character, not the three of an ideograph or a private-use
# character (a third fewer bytes to search). The real characters of that range (ā, ǎ, ɑ, ...) are
# moved out of the units' way in the canonical text (charmap.clear_of_units): no character reads
# as a syllable it is not.
UNIT_BASE = 0x0100
_LONGEST_SYLLABLE = 6
_LONGEST_WORD = 40
_HAN_RUN = re.compile(r"[\u3400-\u9fff\uf900-\ufaff\U00020000-\U0003134f]+")


@functools.cache
def _readings() -> tuple[dict[int, str], dict[str, str]]:
    first = {cp: to_normal(readings.split(",", 1)[0]) for cp, readings in pinyin_dict.items()}
    units = {syllable: chr(UNIT_BASE + i) for i, syllable in enumerate(sorted(set(first.values())))}
    return first, units


def syllable_of(cp: int) -> str | None:
    return _readings()[0].get(cp)


def unit_of(syllable: str) -> str | None:
    return _readings()[1].get(syllable)


def syllables() -> frozenset[str]:
    return frozenset(_readings()[1])


@functools.cache
def _spellable() -> frozenset[str]:
    # m, n and hm are interjections; letting them through would read every stray n as a syllable.
    return frozenset(s for s in syllables() if any(v in s for v in "aeiouv"))


@functools.lru_cache(maxsize=65536)
def segment(word: str) -> tuple[str, ...] | None:
    """The pinyin syllables a Latin word spells ("sixiajiaoyi" → si xia jiao yi), or None.

    Of the ways to cut the word, the one with the fewest syllables wins, and a syllable starting
    with a vowel inside the word costs extra: written pinyin would put an apostrophe there
    (xi'an), so "xian" is one syllable and "jiangou" is jian gou rather than jiang ou.
    """
    if len(word) > _LONGEST_WORD or not word.isalpha():
        return None  # an order number, an id: never pinyin, and too many to remember
    word = unicodedata.normalize("NFKC", word).lower()  # full-width letters, one for one
    if not word.isascii():
        return None
    spellable = _spellable()
    n = len(word)
    best: list[tuple[float, int] | None] = [None] * (n + 1)
    best[0] = (0.0, 0)
    for i in range(n):
        if best[i] is None:
            continue
        cost = best[i][0]
        for j in range(i + 1, min(n, i + _LONGEST_SYLLABLE) + 1):
            piece = word[i:j]
            if piece in spellable:
                step = cost + 1 + (0.5 if i and piece[0] in "aeo" else 0)
                if best[j] is None or step < best[j][0]:
                    best[j] = (step, i)
    if best[n] is None:
        return None
    cuts = []
    j = n
    while j:
        i = best[j][1]
        cuts.append(word[i:j])
        j = i
    return tuple(reversed(cuts))


def phrase_syllables(text: str) -> list[tuple[str, bool]]:
    """Text as it is read aloud: (syllable, True) for each Chinese character, read in the context of
    its phrase (银行 is yin hang), and (character, False) for everything else."""
    out: list[tuple[str, bool]] = []
    pos = 0
    for run in _HAN_RUN.finditer(text):
        out.extend((ch, False) for ch in text[pos : run.start()])
        readings = lazy_pinyin(run.group(), style=Style.NORMAL, v_to_u=False)
        if len(readings) == len(run.group()):
            out.extend((r, r in syllables()) for r in readings)
        else:
            out.extend((ch, False) for ch in run.group())
        pos = run.end()
    out.extend((ch, False) for ch in text[pos:])
    return out
