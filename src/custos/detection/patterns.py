"""The engine's automata: every written form of every term, cue word and allowed phrase, normalised.

Two Aho-Corasick automata over the same canonical text:
- `full` holds everything and runs over a single message that deserves a close look (and
  `collapsed`, the same with repeats collapsed, over its text with repeats collapsed);
- `trigger` holds only what can start a hit (terms, the cue words that open a proximity rule or
  precede a contact id) and runs over whole batches, with what tells a match of it that may
  count (`by_sound`, `written_at`) from one that cannot, and what reads a stutter (`pairs`,
  `collapsed_trigger`). Most messages of a working day trigger nothing, and never meet Python
  code of their own. It reads
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
from custos.detection.normalise import MIXED, Normaliser, collapse

TERM, CUE, ALLOW = range(3)
TERM_BIT = 1
SEVERITY_RANK = {severity: rank for rank, severity in enumerate(lexicon.SEVERITIES)}
_MAX_FORMS = 256
# As Engine._reading: a homophone of a pattern this long is read as the pattern.
HOMOPHONE_MIN_UNITS = 4


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
    # (runs: (collapsed unit, how many times) for each unit that must repeat, one tuple per such form)
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
    # trigger pattern → whether a match of it can count however it is written: read by sound
    # (HOMOPHONE_MIN_UNITS or more, or a term marked disguised). A shorter one counts only written as
    # the term writes it (once folded), or spelled in pinyin, or stuttered.
    by_sound: numpy.ndarray
    # trigger pattern → what a match of it stands for: TERM_BIT and the bits of the cue groups (a
    # followed cue, 微信 before an id, its group's): a cue that only opens a proximity rule, with
    # none of its partners in the message, adds up to no hit (Engine._to_look)
    trigger_masks: tuple[int, ...]
    # the folded written forms of what the shorter trigger patterns stand for, over folded text
    # (Normaliser.folded): a message that holds none of them has nothing short to read exactly
    written: AhoCorasick | None
    # trigger pattern → {units: forms}: a match of a shorter pattern counts only where the folded
    # characters of its first `units` units are one of the forms (the term or cue as written)
    written_at: tuple
    # every pair of different units next to each other in a trigger pattern, as a << 21 | b, sorted:
    # a stutter (回回扣扣) doubles a unit next to its neighbour in a pattern
    pairs: numpy.ndarray
    # the trigger patterns (not the followed cues) with repeats collapsed, over a stuttering
    # message's canonical text collapsed, in UTF-8; and which of them may be read by sound, judged
    # on their collapsed length as the collapsed pass reads them (偷偷加我 is 偷加我 there)
    pair_set: frozenset  # the same, for one message at a time
    collapsed_trigger: BytesAhoCorasick | None
    collapsed_by_sound: numpy.ndarray
    collapsed_longest: int  # units of the longest of them


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


def _doubled(runs: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """(unit, times) for the units of a form that repeat: what a text must repeat too."""
    return tuple((k, n) for k, n in enumerate(runs) if n > 1)


def _pairs(patterns: Iterable[str]) -> numpy.ndarray:
    """What a stutter (回回扣扣) of the patterns leaves: a unit doubled next to its neighbour in one.

    After collapsing repeats such a text matches a pattern, so a message where a doubled unit stands
    next to a unit it neighbours in a pattern gets the collapsed pass; a doubled unit next to nothing
    a pattern continues with (谢谢您, 哈哈哈) does not.
    """
    out = set()
    for pattern in patterns:
        for a, b in zip(pattern, pattern[1:], strict=False):
            if a != b:
                out.add(ord(a) << 21 | ord(b))
    return numpy.array(sorted(out), dtype=numpy.int64)


def _reads(written_at: dict, key: str, units: int, entries: Iterable[Entry]) -> None:
    """Records the written forms (folded) a match of a shorter trigger pattern must read as."""
    forms = written_at.setdefault(key, {}).setdefault(units, set())
    for entry in entries:
        forms.update(
            "".join(folds) for folds in entry.exact if len(folds) == units and MIXED not in "".join(folds)
        )


def _by_sound(pattern: str, entries: Iterable[Entry]) -> bool:
    """Whether a match of a trigger pattern may be read as a homophone (Engine._reading, _reads_as)."""
    return any(
        len(pattern) >= HOMOPHONE_MIN_UNITS or (entry.kind == TERM and entry.disguised and len(pattern) >= 2)
        for entry in entries
    )


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

    # trigger pattern → whether it may be read by sound; a followed cue (微信 before an id) is read
    # as the cue alone
    trigger: dict[str, bool] = {}
    trigger_mask: dict[str, int] = {}
    # entries a trigger pattern that is read only as written stands for
    exact_only: set[int] = set()
    collapsed_trigger: dict[str, bool] = {}
    # shorter trigger pattern → {units read: folded written forms that long}
    written_at: dict[str, dict[int, set[str]]] = {}
    for pattern, indexes in builder.patterns.items():
        starts = [
            i
            for i in indexes
            if entries[i].kind == TERM or (entries[i].kind == CUE and entries[i].name in trigger_groups)
        ]
        if starts:
            sound = _by_sound(pattern, (entries[i] for i in starts))
            trigger[pattern] = trigger.get(pattern, False) or sound
            for i in starts:
                bit = TERM_BIT if entries[i].kind == TERM else group_bits[entries[i].name]
                trigger_mask[pattern] = trigger_mask.get(pattern, 0) | bit
            key = collapse(pattern)
            collapsed_sound = _by_sound(key, (entries[i] for i in starts))
            collapsed_trigger[key] = collapsed_trigger.get(key, False) or collapsed_sound
            if not (sound and collapsed_sound):
                exact_only.update(starts)
            if not sound:
                _reads(written_at, pattern, len(pattern), (entries[i] for i in starts))
        for index in indexes:
            entry = entries[index]
            if entry.kind == CUE and entry.name in followed_groups:
                sound = _by_sound(pattern, (entry,))
                for follower in followed_groups[entry.name]:
                    trigger[pattern + follower] = trigger.get(pattern + follower, False) or sound
                    bit = group_bits[entry.name]
                    trigger_mask[pattern + follower] = trigger_mask.get(pattern + follower, 0) | bit
                    if not sound:
                        _reads(written_at, pattern + follower, len(pattern), (entry,))
                if not sound:
                    exact_only.add(index)
    triggers = [pattern for pattern in builder.patterns if pattern in trigger]
    trigger_keys = sorted(trigger)
    by_sound = numpy.array([trigger[pattern] for pattern in trigger_keys], dtype=bool)
    by_sound.flags.writeable = False
    collapsed_keys = sorted(collapsed_trigger)
    pairs = _pairs(triggers)
    # Folded characters, one per unit: the marks of a collapsed run (MIXED) are not in a text's folds.
    written = sorted(
        {"".join(folds).replace(MIXED, "") for i in exact_only for folds in entries[i].exact} - {""}
    )
    collapsed_automaton = _automaton(collapsed, entries, group_bits)
    collapsed_automaton = dataclasses.replace(
        collapsed_automaton,
        needs=tuple(
            {i: tuple(sorted(_doubled(runs) for runs in r)) for i, r in needs[key].items() if r is not None}
            for key in collapsed
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
        by_sound=by_sound,
        trigger_masks=tuple(trigger_mask[pattern] for pattern in trigger_keys),
        written=AhoCorasick(written, matchkind=MATCHKIND_STANDARD) if written else None,
        written_at=tuple(
            {n: frozenset(forms) for n, forms in written_at[key].items()} if key in written_at else None
            for key in trigger_keys
        ),
        pairs=pairs,
        pair_set=frozenset(pairs.tolist()),
        collapsed_trigger=BytesAhoCorasick(
            [key.encode() for key in collapsed_keys], matchkind=MATCHKIND_STANDARD
        )
        if collapsed_keys
        else None,
        collapsed_by_sound=numpy.array([collapsed_trigger[key] for key in collapsed_keys], dtype=bool),
        collapsed_longest=max(map(len, collapsed_keys), default=0),
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
