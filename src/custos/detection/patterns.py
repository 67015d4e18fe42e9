"""The engine's automata: every written form of every term, cue word and allowed phrase, normalised.

Two Aho-Corasick automata over the same canonical text:
- `full` holds everything and runs over a single message that deserves a close look (and
  `collapsed`, the same with repeats collapsed, over its text with repeats collapsed);
- `trigger` holds only what can start a hit (terms, the cue words that open a proximity rule or
  precede a contact id, and stuttered fragments of those) and runs over whole batches. Most
  messages of a working day trigger nothing, and never meet Python code of their own. It reads
  the canonical text in UTF-8 (bytes): over a str, ahocorasick_rs maps every byte offset to a
  character offset first, an array eight times the text's size, which the batch does not need.
"""

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass

import numpy
from ahocorasick_rs import MATCHKIND_STANDARD, AhoCorasick, BytesAhoCorasick

from custos.detection import lexicon, pinyin, words
from custos.detection.lexicon import LexiconError, Rules, Term
from custos.detection.normalise import Normaliser, collapse

TERM, CUE, ALLOW = range(3)
TERM_BIT = 1
SEVERITY_RANK = {severity: rank for rank, severity in enumerate(lexicon.SEVERITIES)}
_MAX_FORMS = 256


@dataclass(frozen=True, slots=True)
class Entry:
    kind: int
    name: str  # a term's rule name, or a cue group
    category: str = ""
    severity: str = ""
    # unit folds of every written form: a match reading like one of them is no mere homophone
    exact: frozenset = frozenset()
    # the written forms themselves (the term and its synonym spellings): a match that is one of
    # them character for character is exact, not merely normalised
    forms: frozenset = frozenset()
    # commonly written in homophones or pinyin (lexicon.Term.disguised)
    disguised: bool = False
    # what may not come just before / after a match: the rest of a common word the term is only
    # the tail / head of (words.edges), base-folded
    before: tuple = ()
    after: tuple = ()


@dataclass(frozen=True, eq=False)
class Automaton:
    search: AhoCorasick
    entries_of: tuple[tuple[int, ...], ...]  # pattern → its entries
    masks: tuple[int, ...]  # pattern → TERM_BIT | the bits of its cue groups
    # pattern → {entry: runs} for the collapsed automaton: a written form with a doubled unit (扣扣,
    # 偷偷加我) collapses to its single form, which the text must hold at least as many times over
    # (runs: how many times each collapsed unit must repeat, one tuple per such form)
    needs: tuple[dict, ...] = ()

    def find(self, canon: str) -> list[tuple[int, int, int]]:
        return self.search.find_matches_as_indexes(canon, overlapping=True)

    def mask(self, matches) -> int:
        masks = self.masks
        mask = 0
        for pattern, _, _ in matches:
            mask |= masks[pattern]
        return mask


@dataclass(frozen=True, eq=False)
class Patterns:
    full: Automaton
    # the patterns with repeated units collapsed, for text with repeats collapsed: 私下买卖 is
    # si xia mai mai, and its stutter 私私下下买买卖卖 collapses to si xia mai
    collapsed: Automaton
    entries: tuple[Entry, ...]
    entry_masks: tuple[int, ...]  # entry → TERM_BIT or its cue group's bit
    group_bits: dict[str, int]
    trigger: BytesAhoCorasick  # over canonical text in UTF-8; offsets are byte offsets
    terms: int
    # indexes of trigger patterns that are only a stutter fragment, no term or cue of their own
    stutter_only: frozenset
    # the same as a mask over trigger pattern indexes, for a batch's matches at once
    stutter_mask: numpy.ndarray


class _Builder:
    """Collects written forms into patterns → entries."""

    def __init__(self, normaliser: Normaliser, rules: Rules):
        self.norm = normaliser
        self.rules = rules
        self.keys: dict[tuple, int] = {}
        self.specs: list[list] = []  # [kind, name, category, severity, set of folds, set of forms, disguised]
        self.patterns: dict[str, list[int]] = {}

    def forms(self, word: str) -> list[str]:
        """The word and its disguise spellings from the synonyms table."""
        plain = "".join(self.rules.lookalikes.get(ch, ch) for ch in self.norm.base(word))
        forms = {plain}
        for key, spellings in self.rules.synonyms.items():
            if key in plain:
                forms |= {form.replace(key, spelling) for form in forms for spelling in spellings}
                if len(forms) > _MAX_FORMS:
                    break
        return sorted(forms)

    def add(
        self,
        word: str,
        kind: int,
        name: str,
        category: str = "",
        severity: str = "",
        readings: bool = True,
        disguised: bool = False,
    ) -> bool:
        key = (kind, name, category)
        index = self.keys.get(key)
        if index is None:
            index = self.keys[key] = len(self.specs)
            self.specs.append([kind, name, category, severity, set(), set(), disguised])
        elif SEVERITY_RANK.get(severity, -1) > SEVERITY_RANK.get(self.specs[index][3], -1):
            self.specs[index][3] = severity
        self.specs[index][6] = self.specs[index][6] or disguised
        added = False
        for form in self.forms(word):
            units = self.norm.units(form)
            if not units.canon:
                continue
            self.specs[index][5].update((form, word.strip()))
            self.specs[index][4].add(units.folds)
            self.specs[index][4].add(units.collapsed().folds)
            self._register(units.canon, index)
            added = True
            if readings:
                # The phrase's own reading (银行 is yin hang, not yin xing): matches the pinyin a
                # person would spell out where a character has several readings.
                spoken = "".join(
                    pinyin.unit_of(piece) if is_syllable else self.norm.canonical(piece)
                    for piece, is_syllable in pinyin.phrase_syllables(form)
                )
                if spoken and spoken != units.canon:
                    self._register(spoken, index)
        return added

    def _register(self, pattern: str, index: int) -> None:
        entries = self.patterns.setdefault(pattern, [])
        if index not in entries:
            entries.append(index)


def _stutters(patterns: Iterable[str]) -> set[str]:
    """Fragments a stutter (回回扣扣) leaves of the patterns: each bigram with either unit doubled.

    After collapsing repeats such a text matches a pattern, so a message holding one of these
    fragments gets the collapsed pass; a doubled unit next to nothing a pattern continues with
    (谢谢您, 哈哈哈) does not.
    """
    out = set()
    for pattern in patterns:
        for a, b in zip(pattern, pattern[1:], strict=False):
            if a != b:
                out.add(a + a + b)
                out.add(a + b + b)
    return out


def build(
    normaliser: Normaliser,
    rules: Rules,
    terms: Iterable[Term],
    allow: Iterable[str],
    trigger_groups: set[str],
    followed_groups: dict[str, Iterable[str]],
) -> Patterns:
    """The automata. Words of `trigger_groups` trigger a closer look wherever they are; words of
    `followed_groups` only when followed by one of the group's followers (a contact app's name
    by what could start an id: 微信 is everywhere, 微信 w or 微信号 1 is not)."""
    builder = _Builder(normaliser, rules)
    count = 0
    for term in terms:
        if term.severity not in SEVERITY_RANK:
            raise LexiconError(
                f"term {term.text!r}: severity {term.severity!r} is not one of {', '.join(lexicon.SEVERITIES)}"
            )
        if not builder.add(
            term.text,
            TERM,
            f"term:{term.text.strip()}",
            term.category,
            term.severity,
            disguised=term.disguised,
        ):
            raise LexiconError(f"term {term.text!r} has no letter, digit or character to match")
        count += 1
    for group, group_words in rules.cues.items():
        for word in group_words:
            builder.add(word, CUE, group)
    for phrase in allow:
        builder.add(phrase, ALLOW, "", readings=False)

    entries = tuple(
        Entry(
            kind,
            name,
            category,
            severity,
            frozenset(folds),
            frozenset(forms),
            disguised,
            *_edges(kind, forms),
        )
        for kind, name, category, severity, folds, forms, disguised in builder.specs
    )
    group_bits = {group: 1 << (1 + i) for i, group in enumerate(rules.cues)}
    full = _automaton(builder.patterns, entries, group_bits)
    collapsed: dict[str, list[int]] = {}
    # collapsed pattern → entry → runs tuples, for the forms that hold a doubled unit; None marks an
    # entry that a form without one reaches too (no repeat needed)
    needs: dict[str, dict[int, set | None]] = {}
    for pattern, indexes in builder.patterns.items():
        key = collapse(pattern)
        merged = collapsed.setdefault(key, [])
        merged.extend(i for i in indexes if i not in merged)
        runs = tuple(len(m.group()) for m in _RUN.finditer(pattern))
        doubled = any(r > 1 for r in runs)
        wants = needs.setdefault(key, {})
        for i in indexes:
            if not doubled:
                wants[i] = None
            elif wants.get(i, set()) is not None:
                wants.setdefault(i, set()).add(runs)

    triggers = [
        pattern
        for pattern, indexes in builder.patterns.items()
        if any(
            entries[i].kind == TERM or (entries[i].kind == CUE and entries[i].name in trigger_groups)
            for i in indexes
        )
    ]
    trigger = set(triggers)
    for pattern, indexes in builder.patterns.items():
        for index in indexes:
            entry = entries[index]
            if entry.kind == CUE and entry.name in followed_groups:
                trigger.update(pattern + follower for follower in followed_groups[entry.name])
    stutters = _stutters(triggers) - trigger
    trigger_keys = sorted(trigger | stutters)
    stutter_mask = numpy.array([pattern in stutters for pattern in trigger_keys], dtype=bool)
    stutter_mask.flags.writeable = False
    collapsed_automaton = _automaton(collapsed, entries, group_bits)
    collapsed_automaton = dataclasses.replace(
        collapsed_automaton,
        needs=tuple(
            {i: tuple(sorted(r)) for i, r in needs[key].items() if r is not None} for key in collapsed
        ),
    )
    return Patterns(
        full=full,
        collapsed=collapsed_automaton,
        entries=entries,
        entry_masks=tuple(
            TERM_BIT if e.kind == TERM else group_bits[e.name] if e.kind == CUE else 0 for e in entries
        ),
        group_bits=group_bits,
        trigger=BytesAhoCorasick([key.encode() for key in trigger_keys], matchkind=MATCHKIND_STANDARD),
        terms=count,
        stutter_only=frozenset(numpy.flatnonzero(stutter_mask).tolist()),
        stutter_mask=stutter_mask,
    )


_RUN = re.compile(r"(.)\1*", re.DOTALL)


def _edges(kind: int, forms: set) -> tuple[tuple, tuple]:
    """Before/after contexts of a term's Chinese forms that would make it part of a longer word."""
    if kind != TERM:
        return (), ()
    before: set[str] = set()
    after: set[str] = set()
    for form in forms:
        if _HAN.fullmatch(form):
            b, a = words.edges(form)
            before.update(b)
            after.update(a)
    return tuple(sorted(before)), tuple(sorted(after))


_HAN = re.compile(r"[\u3400-\u9fff]{2,}")


def _automaton(
    patterns: dict[str, list[int]], entries: tuple[Entry, ...], group_bits: dict[str, int]
) -> Automaton:
    keys = list(patterns)
    entries_of = tuple(tuple(patterns[p]) for p in keys)
    masks = []
    for indexes in entries_of:
        mask = 0
        for index in indexes:
            entry = entries[index]
            if entry.kind == TERM:
                mask |= TERM_BIT
            elif entry.kind == CUE:
                mask |= group_bits[entry.name]
        masks.append(mask)
    return Automaton(AhoCorasick(keys, matchkind=MATCHKIND_STANDARD), entries_of, tuple(masks))
