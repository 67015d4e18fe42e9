"""Text → canonical form for matching, and back: where each canonical unit came from in the original.

The canonical form keeps letters, digits and one unit per Chinese syllable, folded (width, case,
traditional → simplified, look-alikes, digit spellings, homophones); everything else (spaces,
punctuation, symbols, emoji) is dropped. Latin words that spell pinyin become syllable units.

Two ways to compute it, which must agree exactly (a property test holds them to it):
- `canonical`: C-speed, no offsets: `re.sub` for Latin words, then one translate (vectorised
  for long texts, see charmap.translate_main). Run over every message: `canonical_batch` does
  the same for a joined batch and returns it in UTF-8, as the batch automaton reads it.
- `units`: also records each unit's span in the original (translates and `compress` for the
  characters, a loop over the syllables of pinyin words). Run only for the few messages with
  something to report, to turn canonical offsets into original ones.
"""

import functools
import re
from dataclasses import dataclass
from itertools import compress
from operator import methodcaller

import numpy

from custos.detection import charmap, pinyin
from custos.detection.charmap import BOUNDARY, CharTables

# A Latin word, with any digits, _ or - it runs into: pinyin is read from words of letters alone, so
# an id like chen_xiao_2026 stays letters and digits (what the id detector looks for), not syllables.
# The look-behind comes after the first letter so that re can skip ahead to letters (4x faster).
LATIN_WORD = re.compile(r"[A-Za-zＡ-Ｚａ-ｚ](?<![0-9０-９_\-].)[A-Za-zＡ-Ｚａ-ｚ0-9０-９_\-]*")
# Repeated units (回回扣扣). Phone numbers are read from the text before collapsing.
REPEAT = re.compile(r"([^\x00])\1+")
# From this many characters on, a text's units and folds are read through arrays, not translate().
VECTOR_UNITS_FROM = 48
VECTOR_REPEAT_FROM = 160
# Marks the fold of a collapsed run of different characters of one syllable (有优 in 有优惠).
MIXED = "\ufffd"
# Bytes of a text translated with CharTables.digit_mark and encoded to Latin-1 → 1 for a digit,
# 0 else (a character past the tables is left as it is and encoded as "?": no digit).
_DIGIT_FLAGS = bytes(int(byte == 1) for byte in range(256))


@dataclass(frozen=True, slots=True)
class Units:
    """A canonical string, with for each of its units the original span and the folded characters."""

    canon: str
    starts: tuple[int, ...]
    ends: tuple[int, ...]
    # the unit's characters before homophone folding (微 for a 薇, "wei" for a spelled syllable)
    folds: tuple[str, ...]
    # the unit is a syllable spelled in Latin letters (pinyin), not a character
    latin: tuple[bool, ...]

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Original span of canonical units [start, end)."""
        return self.starts[start], self.ends[end - 1]

    def collapsed(self) -> "Units":
        """The same text with runs of a repeated unit made one unit covering the whole run."""
        runs = [m.span() for m in REPEAT.finditer(self.canon)]
        if not runs:
            return self
        # Copied a stretch at a time between the runs: a long text repeats a few units at most.
        starts, ends, folds, latin = [], [], [], []
        pos = 0
        for a, b in runs:
            starts += self.starts[pos:a]
            ends += self.ends[pos:a]
            folds += self.folds[pos:a]
            latin += self.latin[pos:a]
            fold = self.folds[a]
            for other in self.folds[a + 1 : b]:
                if not fold.endswith(other):
                    # 有优 is one syllable said by two words, not a stutter: the unit keeps both, marked,
                    # so that only a term written so (买卖 in 私下买卖) reads it exactly.
                    fold = (fold if fold.startswith(MIXED) else MIXED + fold) + other
            starts.append(self.starts[a])
            ends.append(self.ends[b - 1])
            folds.append(fold)
            latin.append(any(self.latin[a:b]))
            pos = b
        starts += self.starts[pos:]
        ends += self.ends[pos:]
        folds += self.folds[pos:]
        latin += self.latin[pos:]
        return Units(collapse(self.canon), tuple(starts), tuple(ends), tuple(folds), tuple(latin))


class Normaliser:
    def __init__(self, tables: CharTables):
        self.tables = tables
        self._spell = functools.lru_cache(maxsize=65536)(self._spell_uncached)

    def _spell_uncached(self, word: str) -> str:
        syllables = pinyin.segment(word)
        if syllables is None:
            return word
        return "".join(self.tables.spelling[s] for s in syllables)

    def _spell_match(self, match: re.Match) -> str:
        word = match.group()
        # Ids and order numbers are never pinyin; kept out of the cache, they cannot flood it.
        return self._spell(word) if word.isalpha() else word

    def canonical(self, text: str) -> str:
        if LATIN_WORD.search(text):
            text = LATIN_WORD.sub(self._spell_match, text)
        return charmap.translate_main(text, self.tables)

    def canonical_batch(self, joined: str) -> tuple[bytes, numpy.ndarray]:
        """`canonical` of messages joined with BOUNDARY, in UTF-8 (what the batch automaton reads),
        and the byte offset where each message's part starts, with one past the end after the last.

        The offsets come from the vectorised translate, so no Python code runs per message: the
        part of message i is encoded[starts[i] : starts[i + 1] - 1].
        """
        if LATIN_WORD.search(joined):
            joined = LATIN_WORD.sub(self._spell_match, joined)
        # UTF-8 of the canonical text is ASCII for digits, letters and BOUNDARY, three bytes for a
        # syllable unit; the zero bytes in it are the boundaries, and nothing else.
        canon = charmap.translate_codes(joined, self.tables).tobytes().decode("utf-32-le", "surrogatepass")
        encoded = canon.encode("utf-8", "surrogatepass")
        return encoded, _starts(encoded)

    def batch(self, joined: str) -> "Batch":
        """`canonical_batch`, with what the engine's choice of messages to look at reads besides (see
        Batch)."""
        spelled: list[int] = []
        if LATIN_WORD.search(joined):

            def spell(match: re.Match) -> str:
                word = self._spell_match(match)
                if word != match.group():
                    spelled.append(match.start())
                return word

            joined = LATIN_WORD.sub(spell, joined)
        units, origins = charmap.translate_kept(joined, self.tables)
        encoded = units.tobytes().decode("utf-32-le", "surrogatepass").encode("utf-8", "surrogatepass")
        return Batch(encoded, _starts(encoded), units, origins, spelled, numpy.flatnonzero(units == 0))

    def units(self, text: str) -> Units:
        tables = self.tables
        canon: list[str] = []
        starts: list[int] = []
        ends: list[int] = []
        folds: list[str] = []
        latin: list[bool] = []

        def plain(start: int, end: int) -> None:
            if end - start >= VECTOR_UNITS_FROM:
                vector(start, end)
                return
            # One character, one unit or none: three translates and a compress say which, in C.
            piece = text[start:end]
            kept = list(
                compress(range(start, end), piece.translate(tables.keep).encode("latin-1", "replace"))
            )
            canon.append(piece.translate(tables.main))
            starts.extend(kept)
            ends.extend(map((1).__add__, kept))
            folds.extend(piece.translate(tables.fold_kept))
            latin.extend([False] * len(kept))

        def vector(start: int, end: int) -> None:
            # The same through the tables' arrays: a few vector operations instead of a lookup per
            # character, quicker from a few dozen characters on.
            codes = numpy.frombuffer(text[start:end].encode("utf-32-le", "surrogatepass"), dtype="<u4")
            main = tables.main_array.take(codes)
            kept = numpy.flatnonzero(main != charmap.DROP)
            canon.append(main[kept].tobytes().decode("utf-32-le", "surrogatepass"))
            starts.extend((kept + start).tolist())
            ends.extend((kept + (start + 1)).tolist())
            folds.extend(tables.fold_array.take(codes[kept]).tobytes().decode("utf-32-le", "surrogatepass"))
            latin.extend([False] * len(kept))

        pos = 0
        for word in LATIN_WORD.finditer(text):
            syllables = pinyin.segment(word.group())
            if syllables is None:
                continue
            plain(pos, word.start())
            at = word.start()
            for syllable in syllables:
                canon.append(pinyin.unit_of(syllable))
                starts.append(at)
                ends.append(at + len(syllable))
                folds.append(syllable)
                latin.append(True)
                at += len(syllable)
            pos = word.end()
        plain(pos, len(text))
        return Units("".join(canon), tuple(starts), tuple(ends), tuple(folds), tuple(latin))

    def digit_origins(self, text: str) -> list[int]:
        """Where each digit of the canonical text comes from in `text`, in order: what `units` tells
        of its digit units (one character each), without building the others. Reading a phone
        number needs no more; most digit runs (order numbers, prices) turn out to be none."""
        flags = text.translate(self.tables.digit_mark).encode("latin-1", "replace").translate(_DIGIT_FLAGS)
        origins: list[int] = []
        pos = 0
        # As in `units`: a word spelled as pinyin becomes syllables, whatever its letters fold to.
        for word in LATIN_WORD.finditer(text):
            if pinyin.segment(word.group()) is None:
                continue
            origins += compress(range(pos, word.start()), flags[pos : word.start()])
            pos = word.end()
        origins += compress(range(pos, len(text)), flags[pos:])
        return origins

    def folded(self, text: str) -> str:
        """The folded characters of the units (Latin words left as letters): 薇信 → 微信, not the syllables."""
        return text.translate(self.tables.fold_kept)

    def folds_repeat(self, text: str) -> bool:
        """Whether REPEAT finds a repeat in `folded(text)`: whether a character is really doubled."""
        if len(text) < VECTOR_REPEAT_FROM:
            return bool(REPEAT.search(text.translate(self.tables.fold_kept)))
        codes = numpy.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype="<u4")
        folds = self.tables.fold_array.take(codes)
        folds = folds[folds != charmap.DROP]
        return bool(((folds[1:] == folds[:-1]) & (folds[1:] != 0)).any())

    def base(self, text: str) -> str:
        """Width, case and traditional → simplified folded; same length and offsets as `text`."""
        return text.translate(self.tables.base)

    def digits(self, text: str) -> str:
        """`base` with every spelling of a digit made ASCII; same length and offsets as `text`."""
        return text.translate(self.tables.digits)


@dataclass(frozen=True, slots=True)
class Batch:
    """Messages joined with BOUNDARY, normalised at once."""

    encoded: bytes  # the canonical text in UTF-8
    starts: numpy.ndarray  # where each message starts in `encoded`, one past the end after the last
    units: numpy.ndarray  # the canonical text's code points (BOUNDARY is 0)
    # the code point each unit was read from (after pinyin words were spelled in Chinese): what the
    # unit's fold is read from (CharTables.fold_array)
    origins: numpy.ndarray
    # offsets in the joined text of the Latin words read as pinyin: their messages read by sound
    spelled: list
    # where each BOUNDARY stands in `units`: message i's units are [bounds[i-1] + 1, bounds[i])
    bounds: numpy.ndarray

    @property
    def firsts(self) -> numpy.ndarray:
        """Each message's first unit."""
        return numpy.concatenate(([0], self.bounds + 1))

    @property
    def lasts(self) -> numpy.ndarray:
        """One past each message's last unit (its BOUNDARY, or the end of the batch)."""
        return numpy.concatenate((self.bounds, [len(self.units)]))


def _starts(encoded: bytes) -> numpy.ndarray:
    # UTF-8 of the canonical text is ASCII for digits, letters and BOUNDARY, more bytes for a
    # syllable unit; the zero bytes in it are the boundaries, and nothing else.
    bounds = numpy.flatnonzero(numpy.frombuffer(encoded, dtype=numpy.uint8) == ord(BOUNDARY))
    starts = numpy.empty(len(bounds) + 2, dtype=numpy.intp)
    starts[0] = 0
    starts[1:-1] = bounds + 1
    starts[-1] = len(encoded) + 1
    return starts


_FIRST = methodcaller("group", 1)  # a C-level callable: re expands a "\\1" template in Python


def collapse(canon: str) -> str:
    """The fast path's `Units.collapsed`."""
    return REPEAT.sub(_FIRST, canon)
