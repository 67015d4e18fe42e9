"""The detection engine: built once from a lexicon and rules, then shared (immutable, thread-safe).

    engine = Engine.from_default(extra_terms=[Term("私人号码", "contact_diversion", "high")],
                                 allow=["4008208820", "custos_official"])
    engine.scan("加我 V 信", sender_role="staff")
    → [Hit(category="contact_diversion", rule="near:add_me_on_private_app", severity="high",
           start=0, end=6, matched="加我 V 信")]
    engine.scan_many([(text, role), ...])   # a batch: what ingestion should call

How messages are scanned:
1. normalise (normalise.py): one canonical unit per letter, digit or Chinese syllable, with
   disguises folded and separators dropped; a batch is normalised as one joined string, kept
   in UTF-8 with the byte offset where each message starts (numpy finds them, not a loop);
2. run the trigger automaton (patterns.py) over the batch: terms and the cue words that open a
   proximity rule or precede a contact id; and look for runs of digits that may hold a mobile
   number. A match of a pattern shorter than HOMOPHONE_MIN_UNITS counts only where the folded
   characters there are a written form of it (a short homophone is no hit, so no reason to
   look), and a stutter only where a doubled character stands next to a pattern neighbour and
   the text round it, repeats collapsed, holds a pattern (`_to_look`). A message whose matches are
   all cues that only open a proximity rule (离职, 现金) goes on only where its full matches add
   up to something, a partner among them (`_lone_of`). Most messages stop here, never touched by
   Python code of their own;
3. for each message that triggered: match every pattern (and, if a character repeats, every
   pattern over the text with repeats collapsed), and where the matches can add up to a hit,
   rebuild the canonical text unit by unit with its offsets (`Normaliser.units`) to check them
   against the rules (a homophone of a short word is no match, allowed channels, sender role,
   proximity within a sentence, negative contexts) and report spans of the original text.
   The outcome is remembered per text and role (a bounded LRU): a text sent again, a template
   or a copied message, costs a lookup.
"""

import dataclasses
import functools
import re
import string
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from operator import itemgetter

import numpy

from custos.detection import charmap, lexicon, patterns, phones, words
from custos.detection.charmap import BOUNDARY
from custos.detection.lexicon import SEVERITIES, Rules, Term
from custos.detection.normalise import LATIN_WORD, MIXED, REPEAT, Normaliser, Units, collapse
from custos.detection.patterns import ALLOW, CUE, HOMOPHONE_MIN_UNITS, SEVERITY_RANK, TERM, TERM_BIT, Entry

CONTACT_LEAK = "contact_leak"
# Cue groups after which a WeChat id or contact number is looked for; in id_label the word itself
# says an id follows (微信号), so an all-letter id is taken too.
ID_CUE_GROUPS = {"contact_app": False, "id_label": True}
# Proximity rules and "before" contexts do not reach across a sentence.
SENTENCE_END = re.compile(r"[。！？!?；;\n]")
# How sure a hit is, most sure first: the term as written; written otherwise but the same once width,
# case, traditional characters, separators and repeats are folded; a homophone or a look-alike
# character (薇信, 斯下交易); spelled out in pinyin (fei dan).
CONFIDENCES = ("exact", "normalised", "homophone", "pinyin")
EXACT, NORMALISED, HOMOPHONE, PINYIN = CONFIDENCES
# A homophone or pinyin reading is a guess, and its hit is raised one severity lower than the term;
# unless the lexicon says so itself: a listed look-alike character (薇 for 微) or a term marked
# disguised, which people are known to write that way.
# A homophone of a word HOMOPHONE_MIN_UNITS long is taken for the word (with a 10,000-term lexicon,
# a shorter one sounds like ordinary speech: 十八斤 for 十八禁); a term marked disguised is read so
# however short. patterns.py holds the number: which messages deserve a look depends on it too.
# Pinyin spelled out: three syllables or more, or a term marked disguised (fei dan, hui kou).
PINYIN_MIN_UNITS = 3
_LATIN_LETTER = re.compile(r"[A-Za-z]")
# Punctuation of ordinary prose: a homophone read across it is a coincidence of two sentences.
_PROSE = re.compile(r"[。！？!?；;，,、：:\n]")
# Between a contact app's name and an id: 微信号 abc123, 微信是 abc123.
_ID_LABELS = ("号", "是", "为", "码", "号码")
_ACCOUNT_ID = re.compile(r"[a-z][-_a-z0-9]{5,19}")
# Where a contact id could be: Latin letters, or digits (QQ numbers in Chinese numerals are digits
# in the canonical text).
_ID_CHARACTER = re.compile(r"[A-Za-zＡ-Ｚａ-ｚ]")
_DIGIT = re.compile(r"[0-9]")
_NO_HITS: list = []
# Longer messages are not remembered (see Engine._looked): chat messages that come back verbatim are short.
REMEMBER_UP_TO = 512


@dataclass(frozen=True, slots=True)
class Hit:
    category: str
    rule: str
    severity: str
    start: int  # offsets in the original text, end exclusive: matched == text[start:end]
    end: int
    matched: str
    # one of CONFIDENCES; `severity` already accounts for it
    confidence: str = EXACT

    def as_dict(self) -> dict:
        return {
            "category": self.category,
            "rule": self.rule,
            "severity": self.severity,
            "confidence": self.confidence,
            "start": self.start,
            "end": self.end,
            "matched": self.matched,
        }


@dataclass(frozen=True, slots=True)
class _Candidate:
    category: str
    rule: str
    severity: str
    pieces: tuple  # (start, end, entry) in canonical units: one for a term, two for a near rule


@dataclass(slots=True)
class _Pass:
    """The matches of one canonical text of a message, sorted for the rules."""

    candidates: list
    cues: dict  # group → [(start, end, entry)]
    allowed: list  # [(start, end, entry)] of allowed channels (company_channel tells which read so)
    channels: list | None = None  # (start, end) of those that do, once units are known

    def company_channel(self, units: Units, start: int, end: int) -> bool:
        """Whether [start, end) overlaps an allowed phrase that is not inside it: 微信 in 企业微信."""
        if not self.allowed:
            return False
        if self.channels is None:
            # Read exactly (or spelled in pinyin), not as a homophone: 加我门店 is no 加我们.
            self.channels = [
                (a, b)
                for a, b, entry in self.allowed
                if units.folds[a:b] in entry.exact or any(units.latin[a:b])
            ]
        return any(a < end and start < b and not (start <= a and b <= end) for a, b in self.channels)


def _as_term(item) -> Term:
    if isinstance(item, Term):
        return item
    if isinstance(item, str):
        return Term(item)
    return Term(*item)


class Engine:
    """Sensitive-word detection over chat messages. Build once; `scan` and `scan_many` are thread-safe."""

    def __init__(self, rules: Rules, terms: Iterable[Term | str], allow: Iterable[str] = ()):
        self.rules = rules
        self._norm = Normaliser(charmap.build(tuple(sorted(rules.lookalikes.items()))))
        terms = [_as_term(t) for t in terms]
        self._categories = dict(rules.categories)
        for term in terms:
            self._categories.setdefault(term.category, rules.category(term.category))
        self._numbers, self._accounts, phrases = _split_allow(self._norm, [*rules.allow, *allow])
        if rules.plural_we:
            # 加我们, 转到我们: the company speaking, not the salesperson.
            phrases += [word + "们" for words in rules.cues.values() for word in words if word.endswith("我")]
        triggers = {getattr(rule, rule.trigger) for rule in rules.near}
        triggers |= {group for group, labelled in ID_CUE_GROUPS.items() if labelled}
        id_starts = [self._norm.canonical(ch) for ch in string.ascii_lowercase + string.digits]
        id_starts += [self._norm.canonical(label) + start for label in _ID_LABELS for start in id_starts]
        followed = {group: id_starts for group, labelled in ID_CUE_GROUPS.items() if not labelled}
        self._patterns = patterns.build(self._norm, rules, terms, phrases, triggers, followed)
        bits = self._patterns.group_bits
        self._near_masks = [bits[r.first] | bits[r.then] for r in rules.near]
        self._id_mask = sum(bits.get(group, 0) for group in ID_CUE_GROUPS)
        # Trigger patterns that are only a cue opening a proximity rule: alone in a message (none of
        # its partners, no term, no contact id to read) they add up to no hit (`_lone_of`).
        alone = TERM_BIT | self._id_mask
        self._lone_cue = numpy.array([not mask & alone for mask in self._patterns.trigger_masks], dtype=bool)
        self.size = self._patterns.terms
        # Asked for every message that triggers, with few distinct arguments: remembered.
        self._raised = functools.lru_cache(maxsize=1024)(self._raised_uncached)
        self._completes = functools.lru_cache(maxsize=4096)(self._completes_uncached)
        self._near_rules = functools.lru_cache(maxsize=4096)(self._near_rules_uncached)
        # The same text comes back again and again (a template sent to many customers, a copied
        # diversion message, "好的"): what a message worth a look holds is worked out once per
        # text and role. The key carries the canonical text too, which the text decides. Only
        # texts up to REMEMBER_UP_TO characters are kept, so the caches stay a few MB at most.
        self._looked_cache = functools.lru_cache(maxsize=4096)(self._look)
        self._negated_categories = {c for negative in rules.negatives for c in negative.categories}
        # Likewise whether a message that holds a trigger or a repeat deserves a look, for `scan` one
        # message at a time: 有没有优惠券 (you you hui) or 好的好的 come thousands of times a day.
        self._deserves_cache = functools.lru_cache(maxsize=4096)(self._deserves_look_uncached)

    @classmethod
    def from_default(cls, extra_terms: Iterable[Term | str] = (), allow: Iterable[str] = ()) -> "Engine":
        """The shipped Chinese lexicon and rules, plus an operator's terms and allowed channels."""
        extra_terms, allow = list(extra_terms), list(allow)
        if not extra_terms and not allow:
            return _default_engine()
        return cls(_default_rules(), [*_default_terms(), *extra_terms], allow)

    def examples(self, term: str) -> list[tuple[str, str]]:
        """How a term of this engine's lexicon is caught: (kind, example) for each way of writing it
        that this engine really finds (each example is scanned), so a manager sees why a message
        was flagged. Kinds: written, spaced, traditional, repeated, homophone, pinyin."""
        import opencc
        from pypinyin import Style, lazy_pinyin

        rule = f"term:{term.strip()}"
        category = next((e.category for e in self._patterns.entries if e.name == rule), None)
        candidates = [
            ("written", term),
            ("spaced", " ".join(term)),
            ("traditional", opencc.OpenCC("s2t").convert(term)),
            ("repeated", "".join(ch * 2 for ch in term)),
            ("pinyin", " ".join(lazy_pinyin(term, style=Style.NORMAL))),
        ]
        homophone = self._a_homophone(term)
        if homophone:
            candidates.insert(4, ("homophone", homophone))
        seen, out = set(), []
        for kind, sample in candidates:
            if sample in seen:
                continue
            seen.add(sample)
            # the term itself, or a wider rule of its category that took its place
            if any(
                hit.rule == rule or (hit.category == category and hit.start == 0 and hit.end == len(sample))
                for hit in self.scan(sample, "staff")
            ):
                out.append((kind, sample))
        return out

    def _a_homophone(self, term: str) -> str | None:
        """The term with a character swapped for the commonest other character of its syllable (资
        for 私, not a rare one a manager would not recognise), or None."""
        from custos.detection import pinyin

        counts = words.character_counts()
        for i, ch in enumerate(term):
            syllable = pinyin.syllable_of(ord(ch))
            if not syllable:
                continue
            others = [c for c in _characters_of(syllable) if c != ch and c in counts]
            if others:
                return term[:i] + max(others, key=counts.__getitem__) + term[i + 1 :]
        return None

    # scanning

    def scan(self, text: str, sender_role: str | None = "staff") -> list[Hit]:
        """Hits in one message, in order of position. `sender_role` is "staff", "customer", ..."""
        if BOUNDARY in text:
            return _unmask(text, self.scan(text.replace(BOUNDARY, " "), sender_role))
        canon = self._norm.canonical(text)
        encoded = canon.encode("utf-8", "surrogatepass")
        if not phones.mobile_like(encoded):
            # Most messages hold no trigger and repeat nothing: for them the batch's vector
            # machinery would cost more than the automaton itself.
            if not (self._patterns.trigger.find_matches_as_indexes(encoded) or REPEAT.search(canon)):
                return _NO_HITS
            if not self._deserves_look(text):
                return _NO_HITS
        return list(self._looked(text, sender_role, encoded))

    def _deserves_look(self, text: str) -> bool:
        if len(text) > REMEMBER_UP_TO:
            return self._deserves_look_uncached(text)
        return self._deserves_cache(text)

    def _deserves_look_uncached(self, text: str) -> bool:
        """Whether one message deserves a closer look, as `_to_look` decides for a batch; the common
        cases read directly, a stutter through `_to_look` itself."""
        canon = self._norm.canonical(text)
        encoded = canon.encode("utf-8", "surrogatepass")
        patterns = self._patterns
        found = patterns.trigger.find_matches_as_indexes(encoded, overlapping=True)
        if (
            found
            and self._lone_cue[[p for p, _, _ in found]].all()
            and not phones.mobile_like(encoded)
            and self._lone([canon])
        ):
            return False
        if found:
            if patterns.by_sound[[p for p, _, _ in found]].any() or self._spells(text):
                return True
            folded = self._norm.folded(text)
            for pattern, start, _ in found:
                at = len(encoded[:start].decode("utf-8", "surrogatepass"))
                if any(folded[at : at + n] in forms for n, forms in patterns.written_at[pattern].items()):
                    return True
        if REPEAT.search(canon) and self._may_stutter(text, canon):
            return bool(self._to_look([text], self._norm.batch(text)))
        return bool(phones.mobile_like(encoded))

    def _may_stutter(self, text: str, canon: str) -> bool:
        """`_stutters` for one message, without arrays: a doubled unit next to a unit it neighbours in
        a pattern, the characters repeated too (or, with a word read as pinyin, any repeat)."""
        pairs = self._patterns.pair_set
        folded = None
        for m in REPEAT.finditer(canon):
            unit = ord(m.group(1))
            # every doubled pair of the run, as _stutters reads them: 谢谢谢您 doubles 谢 before 您 too
            for at in range(m.start(), m.end() - 1):
                after = ord(canon[at + 2]) if at + 2 < len(canon) else None
                before = ord(canon[at - 1]) if at else None
                if not (
                    (after is not None and (unit << 21 | after) in pairs)
                    or (before is not None and (before << 21 | unit) in pairs)
                ):
                    continue
                if folded is None:
                    folded = self._norm.folded(text)
                    if self._spells(text):  # a word read as pinyin: any repeat, as _stutters asks
                        return bool(REPEAT.search(folded))
                if folded[at] == folded[at + 1]:
                    return True
        return False

    def _spells(self, text: str) -> bool:
        """Whether a Latin word of the text is read as pinyin (Normaliser.batch's `spelled`)."""
        return bool(LATIN_WORD.search(text)) and any(
            self._norm._spell_match(m) != m.group() for m in LATIN_WORD.finditer(text)
        )

    def _looked(self, text: str, role: str | None, encoded: bytes) -> tuple[Hit, ...]:
        if len(text) > REMEMBER_UP_TO:
            return self._look(text, role, encoded)
        return self._looked_cache(text, role, encoded)

    def scan_many(self, messages: Iterable[tuple[str, str | None]]) -> list[list[Hit]]:
        """Hits for each (text, sender_role): one normalisation and one automaton pass for the batch."""
        messages = list(messages)
        if not messages:
            return []
        # Per-message work is kept to map() and C-level calls: it runs for every message.
        texts = list(map(itemgetter(0), messages))
        joined = BOUNDARY.join(texts)
        if joined.count(BOUNDARY) != len(texts) - 1:
            texts = [text.replace(BOUNDARY, " ") for text in texts]
            joined = BOUNDARY.join(texts)
        # The canonical text in UTF-8 and where each message starts in it (byte offsets): a
        # message's part is sliced out only when something in it is worth a look.
        batch = self._norm.batch(joined)
        encoded, starts = batch.encoded, batch.starts

        # Messages without hits share one empty list: a fresh one each would be a hundred thousand
        # objects for the garbage collector to walk per 100,000 messages. Read results, do not
        # change them in place.
        results: list[list[Hit]] = [_NO_HITS] * len(messages)
        for i in self._to_look(texts, batch):
            hits = self._looked(texts[i], messages[i][1], encoded[starts[i] : starts[i + 1] - 1])
            if hits:
                # A list of its own for each message: the remembered hits stay as they were.
                results[i] = _unmask(messages[i][0], hits) if texts[i] is not messages[i][0] else list(hits)
        return results

    def _to_look(self, texts: list[str], batch) -> set[int]:
        """The messages of a batch that can hold a hit, by index: those that hold a mobile number, or
        something a hit starts with (a term, the cue that opens a proximity rule or comes before a
        contact id) read as `_reading` could read it. Each test below is one a hit cannot do without;
        the messages they let through are looked at unit by unit (`_look`).

        - a pattern of HOMOPHONE_MIN_UNITS or more, or of a term marked disguised: in the canonical
          text, where sound-alikes are one;
        - a shorter pattern: there too, and the message holds one of the written forms of the
          shorter patterns in its folded characters (`Patterns.written`), or a word read as pinyin;
        - a stutter (回回扣扣): a doubled unit next to a unit it neighbours in a pattern, where the
          characters repeat too (有优惠 is you you hui: no stutter), see `_stutters`.
        Most messages fail all three in the one automaton pass and a few vector operations."""
        patterns = self._patterns
        starts = batch.starts
        look: set[int] = set()
        held: set[int] = set()  # messages with a trigger match that is more than a lone cue
        short: dict[int, list] = {}
        # Overlapping: a short pattern found first must not hide a longer one it overlaps.
        found = patterns.trigger.find_matches_as_indexes(batch.encoded, overlapping=True)
        if found:
            found = numpy.array(found, dtype=numpy.intp)
            where = numpy.searchsorted(starts, found[:, 1], side="right") - 1
            by_sound = patterns.by_sound[found[:, 0]]
            look = set(where[by_sound].tolist())
            held = set(where[~self._lone_cue[found[:, 0]]].tolist())
            for i, pattern, start in zip(
                where[~by_sound].tolist(),
                found[~by_sound, 0].tolist(),
                found[~by_sound, 1].tolist(),
                strict=True,
            ):
                if i not in look:
                    short.setdefault(i, []).append((pattern, start))
        spelled: set[int] = set()
        if batch.spelled:
            # Offsets in the joined text before pinyin words were spelled in Chinese characters.
            ends = numpy.cumsum(numpy.fromiter(map(len, texts), dtype=numpy.intp, count=len(texts)) + 1)
            spelled = set(numpy.searchsorted(ends, batch.spelled, side="right").tolist())
            look.update(i for i in short if i in spelled)
        read, doubles, stuttering = self._stutters(texts, batch, spelled)
        look |= read
        indexes = sorted(i for i in short if i not in look)
        if indexes:
            # Where the match stands in the folded characters, one per unit as in the canonical text.
            written_at = patterns.written_at
            encoded = batch.encoded
            for i, folded in zip(indexes, self._folded(batch, indexes).split(BOUNDARY), strict=True):
                first = starts[i]
                for pattern, start in short[i]:
                    at = len(encoded[first:start].decode("utf-8", "surrogatepass"))
                    if any(folded[at : at + n] in forms for n, forms in written_at[pattern].items()):
                        look.add(i)
                        break
        if stuttering.size:
            seen = numpy.zeros(len(texts), dtype=bool)
            seen[list(look)] = True
            fresh = ~seen[stuttering]
            if fresh.any():
                look |= self._stutters_read(batch, doubles[fresh], stuttering[fresh])
        mobiles: set[int] = set()
        mobile_at = phones.mobile_like(batch.encoded)
        if mobile_at:
            mobiles = set((numpy.searchsorted(starts, mobile_at, side="right") - 1).tolist())
            look |= mobiles
        # A cue that opens a proximity rule (离职, 现金) with none of its partners: no hit. A message
        # whose trigger matches are all such cues and that holds no mobile number is read again with
        # the full automaton (and the collapsed one, if a unit repeats): see `_lone_of`.
        alone = [i for i in look if i not in held and i not in mobiles]
        if alone:
            look -= self._lone_of(
                {
                    i: batch.encoded[starts[i] : starts[i + 1] - 1].decode("utf-8", "surrogatepass")
                    for i in alone
                }
            )
        return look

    def _lone_of(self, canons: dict[int, str]) -> set[int]:
        """Of these messages (index → canonical text, no mobile number in it), those `_evaluate` finds
        no hit in before it reads a unit: their matches in the full automaton, and in the collapsed one
        over the text with repeats collapsed, add up to no term and no pair of a proximity rule, and
        the full automaton finds no cue before a contact id. (A contact cue that only the collapsed
        text holds is never read: `_evaluate` reads ids after the cues of the full pass alone.)"""
        indexes = list(canons)
        texts = list(canons.values())
        masks = _masks(self._patterns.full, texts)
        either = list(masks)
        repeating = [k for k, canon in enumerate(texts) if REPEAT.search(canon)]
        if repeating:
            collapsed = _masks(self._patterns.collapsed, [collapse(texts[k]) for k in repeating])
            for k, mask in zip(repeating, collapsed, strict=True):
                either[k] |= mask
        id_mask = self._id_mask
        return {
            i
            for i, mask, any_mask in zip(indexes, masks, either, strict=True)
            if not (self._completes(any_mask) or mask & id_mask)
        }

    def _lone(self, canons: list[str]) -> bool:
        """`_lone_of` for one message."""
        return bool(self._lone_of(dict(enumerate(canons))))

    def _stutters_read(self, batch, doubles: numpy.ndarray, messages: numpy.ndarray) -> set[int]:
        """The messages where a stutter counts: where the text with repeats collapsed holds a pattern
        over the doubled unit as the text holds the others, by sound if long enough, else written
        so. Only a window round each double is read, as long as the longest pattern either side."""
        patterns = self._patterns
        units = batch.units
        lo, hi = _windows(
            units, doubles, patterns.collapsed_longest, batch.firsts[messages], batch.lasts[messages]
        )
        # the windows one after the other, each followed by a BOUNDARY
        sizes = hi - lo + 1
        offsets = numpy.cumsum(sizes) - sizes
        index = numpy.arange(int(sizes.sum())) - numpy.repeat(offsets, sizes) + numpy.repeat(lo, sizes)
        ends = offsets + sizes - 1
        index[ends] = 0
        codes = units.take(index)
        codes[ends] = 0
        canon = (
            _collapsed(codes).tobytes().decode("utf-32-le", "surrogatepass").encode("utf-8", "surrogatepass")
        )
        found = patterns.collapsed_trigger.find_matches_as_indexes(canon, overlapping=True)
        if not found:
            return set()
        found = numpy.array(found, dtype=numpy.intp)
        window = numpy.searchsorted(_boundaries(canon), found[:, 1], side="right")
        by_sound = patterns.collapsed_by_sound[found[:, 0]]
        out = set(messages[window[by_sound]].tolist())
        # the windows with a short match, in order: a mask, not a sort of every match
        seen = numpy.zeros(len(sizes), dtype=bool)
        seen[window[~by_sound]] = True
        short = numpy.flatnonzero(seen)
        short = short[~numpy.isin(messages[short], list(out))]
        if short.size and patterns.written is not None:
            folds = self._norm.tables.fold_array.take(batch.origins.take(index))
            folds[ends] = 0
            # the folded characters of those windows with repeats collapsed (Normaliser.folded, collapse)
            keep = numpy.isin(numpy.repeat(numpy.arange(len(sizes)), sizes), short)
            folded = _collapsed(folds[keep]).tobytes().decode("utf-32-le", "surrogatepass")
            out.update(messages[short[k]] for k in _holding(patterns.written, folded.rstrip(BOUNDARY)))
        return out

    def _folded(self, batch, indexes: list[int]) -> str:
        """The folded characters (Normaliser.folded) of these messages of a batch, none of them with
        a word read as pinyin, joined with BOUNDARY."""
        firsts, lasts = batch.firsts, batch.lasts
        codes = [batch.origins[firsts[i] : lasts[i] + 1] for i in indexes]
        if indexes[-1] == len(firsts) - 1:
            # the last message has no boundary of its own after it
            codes[-1] = numpy.concatenate((codes[-1], [0]))
        codes = numpy.concatenate(codes)
        folds = self._norm.tables.fold_array.take(codes)
        folds[codes == 0] = 0
        return folds[:-1].tobytes().decode("utf-32-le", "surrogatepass")

    def _stutters(
        self, texts: list[str], batch, spelled: set[int]
    ) -> tuple[set, numpy.ndarray, numpy.ndarray]:
        """Where a stutter can make a hit: a unit doubled next to a unit it neighbours in a pattern
        (回回扣 holds 回回 before 扣), the characters repeated too (the collapsed pass reads no more,
        see `_evaluate`): the units where such doubles start and their messages. A message with a
        word read as pinyin asks, as before, only that some character repeats: those come as a set."""
        units = batch.units
        none = numpy.zeros(0, dtype=numpy.intp)
        at = numpy.flatnonzero((units[1:] == units[:-1]) & (units[1:] != 0))
        if not at.size:
            return set(), none, none
        pairs = self._patterns.pairs
        doubled = units[at].astype(numpy.int64)
        after = units[numpy.minimum(at + 2, len(units) - 1)].astype(numpy.int64)
        before = units[numpy.maximum(at - 1, 0)].astype(numpy.int64)
        near = _among(doubled << 21 | after, pairs) | _among(before << 21 | doubled, pairs)
        at = at[near]
        if not at.size:
            return set(), none, none
        where = numpy.searchsorted(batch.bounds, at, side="right")
        folds = self._norm.tables.fold_array
        read = {i for i in set(where.tolist()) & spelled if self._norm.folds_repeat(texts[i])}
        keep = folds.take(batch.origins[at]) == folds.take(batch.origins[at + 1])
        if spelled:
            keep &= ~numpy.isin(where, list(spelled))
        return read, at[keep], where[keep]

    def _look(self, text: str, role: str | None, encoded: bytes) -> tuple[Hit, ...]:
        """The hits of a message worth a look, its canonical text given in UTF-8; remembered."""
        canon = encoded.decode("utf-8", "surrogatepass")
        return tuple(self._evaluate(text, role, canon, phones.mobile_runs(canon)))

    def _completes_uncached(self, mask: int) -> bool:
        """Whether matches of these kinds (a mask) hold a term or both groups of a near rule."""
        return bool(mask & TERM_BIT) or any(mask & pair == pair for pair in self._near_masks)

    def _near_rules_uncached(self, groups: frozenset) -> tuple:
        """The proximity rules, in order, whose both groups are among these cue groups."""
        return tuple(rule for rule in self.rules.near if rule.first in groups and rule.then in groups)

    def _worth_a_look(self, mask: int, role: str | None, text: str, canon: str, runs) -> bool:
        """Whether matches of these kinds (a mask) can add up to a hit."""
        if self._completes(mask):
            return True
        if self._raised(CONTACT_LEAK, role):
            if runs:
                return True
            if mask & self._id_mask and self._could_hold_id(text, canon):
                return True
        return False

    @staticmethod
    def _could_hold_id(text: str, canon: str) -> bool:
        return bool(_ID_CHARACTER.search(text) or _DIGIT.search(canon))

    def _raised_uncached(self, category: str, role: str | None) -> bool:
        found = self._categories.get(category)
        return found is None or found.raised_by(role)

    def _evaluate(self, text: str, role: str | None, canon: str, runs) -> list[Hit]:
        full, collapsed = self._patterns.full, self._patterns.collapsed
        matches = full.find(canon)
        second = None
        if REPEAT.search(canon) and self._norm.folds_repeat(text):
            # A stutter: match the text again with repeats collapsed (回回扣扣 → 回扣). Only where a
            # character is repeated, not a syllable: 有优惠 is no stutter.
            stutter = collapsed.find(collapse(canon))
            if self._worth_a_look(collapsed.mask(stutter), role, text, canon, ()):
                second = self._pass(stutter, collapsed, role, canon)
                second.candidates = _over_a_repeat(second.candidates, canon)
        if second is None and not self._worth_a_look(full.mask(matches), role, text, canon, runs):
            return []
        first = self._pass(matches, full, role)
        contacts = self._raised(CONTACT_LEAK, role)
        id_cues = (
            contacts and self._could_hold_id(text, canon) and any(first.cues.get(g) for g in ID_CUE_GROUPS)
        )
        candidates = first.candidates or (second and second.candidates)
        if not (candidates or (contacts and runs) or id_cues):
            return []
        if not candidates and not id_cues:
            # Digits alone to read (an order number, a price, a phone number): where each came
            # from is all it takes, not every unit of the text.
            origins = self._norm.digit_origins(text)

            def spans(a: int, b: int) -> list[tuple[str, int, int]]:
                at = len(_DIGIT.findall(canon, 0, a))  # digits before the run: its first one's rank
                return [(digit, origins[at + k], origins[at + k] + 1) for k, digit in enumerate(canon[a:b])]

            return _merge(self._mobiles(text, runs, spans))

        units = self._norm.units(text)
        hits = self._verify(text, units, first, stuttered=False)
        if second and second.candidates:
            hits += self._verify(text, units.collapsed(), second, stuttered=True)
        if runs or id_cues:
            hits += self._contacts(text, units, runs, first)
        return _merge(hits)

    def _pass(
        self, matches, automaton: patterns.Automaton, role: str | None, uncollapsed: str | None = None
    ) -> _Pass:
        """Candidates of one canonical text. For the text with repeats collapsed, `uncollapsed` is
        the canonical text before: a form with a doubled unit (扣扣) matches only where the text
        doubled it too, not wherever its single form (扣) stands in a text that repeats something else."""
        allowed: list[tuple[int, int, Entry]] = []
        cues: dict[str, list] = defaultdict(list)
        terms = []
        runs = None
        for pattern, start, end in matches:
            needs = automaton.needs[pattern] if uncollapsed is not None else None
            for index in automaton.entries_of[pattern]:
                if needs and index in needs:
                    if runs is None:  # how often each collapsed unit was repeated; rarely needed
                        runs = _runs(uncollapsed)
                    if not _repeated(runs, start, needs[index]):
                        continue
                entry = self._patterns.entries[index]
                if entry.kind == TERM:
                    terms.append((start, end, entry))
                elif entry.kind == CUE:
                    cues[entry.name].append((start, end, entry))
                elif entry.kind == ALLOW:
                    allowed.append((start, end, entry))

        candidates = [
            _Candidate(entry.category, entry.name, entry.severity, ((start, end, entry),))
            for start, end, entry in terms
            if self._raised(entry.category, role)
        ]
        for rule in self._near_rules(frozenset(cues)):
            firsts = cues[rule.first]
            thens = cues[rule.then]
            if not self._raised(rule.category, role):
                continue
            for f in firsts:
                for t in thens:
                    if f[1] <= t[0] <= f[1] + rule.within:
                        candidates.append(
                            _Candidate(rule.category, f"near:{rule.name}", rule.severity, (f, t))
                        )
        return _Pass(candidates, cues, allowed)

    @staticmethod
    def _reads_as(units: Units, start: int, end: int, entry: Entry) -> bool:
        """Whether the units match the entry as written, as spelled pinyin, or as a long homophone."""
        folds = units.folds[start:end]
        if folds in entry.exact:
            return True
        if any(fold.startswith(MIXED) for fold in folds):
            return False
        return end - start >= HOMOPHONE_MIN_UNITS or any(units.latin[start:end])

    def _reading(
        self, text: str, base: str, units: Units, s: int, e: int, entry: Entry, length: int, stuttered: bool
    ) -> tuple[str, bool] | None:
        """How units [s, e) read the entry (one of CONFIDENCES) and whether that reading is a guess
        (see _LOWERED), or None where it is not safe enough to count. `length` is the units of the
        whole candidate (both words of a near rule)."""
        folds = units.folds[s:e]
        if any(units.latin[s:e]):
            if length >= PINYIN_MIN_UNITS or entry.disguised:
                return PINYIN, not entry.disguised
            return None
        if folds in entry.exact:
            start, end = units.span(s, e)
            if not stuttered and text[start:end] in entry.forms:
                return EXACT, False
            # Split by prose punctuation where a common word runs over the edge (追回、扣押): two
            # sentences, not a disguised 回扣.
            if _PROSE.search(text, start, end) and words.ordinary(base, start, end, set()):
                return None
            plain = "".join(base[units.starts[i] : units.ends[i]] for i in range(s, e))
            if plain in entry.forms:
                return NORMALISED, False
            if stuttered and collapse(plain) in {collapse(form) for form in entry.forms}:
                return NORMALISED, False
            return HOMOPHONE, False  # a listed look-alike character folded onto the term's (薇信)
        if any(fold.startswith(MIXED) for fold in folds):
            return None
        # Per word, not per candidate: each word of a near rule is a short cue (加我, 微信).
        if not (e - s >= HOMOPHONE_MIN_UNITS or (entry.disguised and e - s >= 2)):
            return None
        start, end = units.span(s, e)
        changed = self._changed(units, s, e, entry)
        # Mostly sound alone (费但 for 飞单) or read across prose punctuation (非。但): chance, not a term.
        if 2 * len(changed) > e - s or _PROSE.search(text, start, end):
            return None
        if words.ordinary(base, start, end, changed):
            return None
        return HOMOPHONE, not entry.disguised

    @staticmethod
    def _changed(units: Units, s: int, e: int, entry: Entry) -> set[int]:
        """Positions in the text of the units that differ from the nearest written form of the entry."""
        best: set[int] | None = None
        for folds in entry.exact:
            if len(folds) != e - s:
                continue
            changed = {units.starts[s + k] for k, fold in enumerate(folds) if units.folds[s + k] != fold}
            if best is None or len(changed) < len(best):
                best = changed
        return best if best is not None else set(range(units.starts[s], units.ends[e - 1]))

    @staticmethod
    def _bounded(base: str, start: int, end: int, entry: Entry | None) -> bool:
        """Whether a match [start, end) stands as a word of its own: a Latin match not inside a longer
        Latin word (av in have, test in ATESTB), a term not the tail or head of a longer common word."""
        if start > 0 and _LATIN_LETTER.match(base, start) and _LATIN_LETTER.match(base, start - 1):
            return False
        if end < len(base) and _LATIN_LETTER.match(base, end - 1) and _LATIN_LETTER.match(base, end):
            return False
        if entry is not None:
            if entry.before and base.endswith(entry.before, 0, start):
                return False
            if entry.after and base.startswith(entry.after, end):
                return False
        return True

    def _verify(self, text: str, units: Units, found: _Pass, stuttered: bool) -> list[Hit]:
        hits = []
        base = self._norm.base(text)
        for candidate in found.candidates:
            pieces = candidate.pieces
            length = sum(e - s for s, e, _ in pieces)
            levels, guessed = [], False
            for s, e, entry in pieces:
                reading = self._reading(text, base, units, s, e, entry, length, stuttered)
                if reading is None or found.company_channel(units, s, e):
                    break
                levels.append(reading[0])
                guessed = guessed or reading[1]
            else:
                first, last = pieces[0], pieces[-1]
                if first is not last and SENTENCE_END.search(
                    text, units.ends[first[1] - 1], units.starts[last[0]]
                ):
                    continue
                start, end = units.span(first[0], last[1])
                if not self._bounded(base, start, end, first[2] if first is last else None):
                    continue
                if candidate.category in self._negated_categories and self._negated(
                    text, base, units, found, candidate, start, end
                ):
                    continue
                confidence = max(levels, key=CONFIDENCES.index)
                severity = candidate.severity
                if guessed:
                    severity = SEVERITIES[max(0, SEVERITY_RANK[severity] - 1)]
                hits.append(
                    Hit(candidate.category, candidate.rule, severity, start, end, text[start:end], confidence)
                )
        return hits

    def _negated(
        self, text: str, base: str, units: Units, found: _Pass, candidate: _Candidate, start: int, end: int
    ) -> bool:
        at = candidate.pieces[0][0]
        for negative in self.rules.negatives:
            if candidate.category not in negative.categories:
                continue
            if negative.around is not None:
                for m in negative.around.finditer(base):
                    if m.start() < end and start < m.end():
                        return True
            if negative.before_cue is not None:
                for s, e, entry in found.cues.get(negative.before_cue, ()):
                    if (
                        e <= at <= e + negative.before_gap
                        and self._reads_as(units, s, e, entry)
                        and not SENTENCE_END.search(text, units.ends[e - 1], start)
                    ):
                        return True
        return False

    def _mobiles(self, text: str, runs, spans) -> list[Hit]:
        """Mobile numbers in runs of canonical digits; spans(a, b) gives (digit, start, end) of each."""
        hits = []
        for a, b in runs:
            for start, end, number in phones.mobile_spans(text, spans(a, b)):
                if number not in self._numbers:
                    hits.append(
                        Hit(
                            CONTACT_LEAK,
                            "contact:mobile",
                            "high",
                            start,
                            end,
                            text[start:end],
                            _as_written(text, start, end),
                        )
                    )
        return hits

    def _contacts(self, text: str, units: Units, runs, found: _Pass) -> list[Hit]:
        def spans(a: int, b: int) -> list[tuple[str, int, int]]:
            return [(units.canon[i], units.starts[i], units.ends[i]) for i in range(a, b)]

        hits = self._mobiles(text, runs, spans)
        folded = None
        for group, labelled in ID_CUE_GROUPS.items():
            for s, e, entry in found.cues.get(group, ()):
                if not self._reads_as(units, s, e, entry) or found.company_channel(units, s, e):
                    continue
                folded = folded or self._norm.digits(text)
                contact = phones.contact_id_after(folded, units.ends[e - 1], labelled)
                if contact is None:
                    continue
                kind, start, end = contact
                if folded[start:end] in self._accounts or folded[start:end] in self._numbers:
                    continue
                severity = "high" if kind == "wechat_id" else "medium"
                hits.append(
                    Hit(
                        CONTACT_LEAK,
                        f"contact:{kind}",
                        severity,
                        start,
                        end,
                        text[start:end],
                        _as_written(text, start, end),
                    )
                )
        return hits


def _collapsed(codes: numpy.ndarray) -> numpy.ndarray:
    """`collapse` over code points: each run of one code point made one, BOUNDARY (0) left alone."""
    keep = numpy.ones(len(codes), dtype=bool)
    keep[1:] = (codes[1:] != codes[:-1]) | (codes[1:] == 0)
    return codes[keep]


def _windows(
    units: numpy.ndarray, doubles: numpy.ndarray, reach: int, firsts: numpy.ndarray, lasts: numpy.ndarray
) -> tuple[numpy.ndarray, numpy.ndarray]:
    """For each doubled unit, the units [lo, hi) that hold, with repeats collapsed, reach - 1 units
    either side of it, within its message [firsts, lasts).

    Read from a stretch round each double rather than from the collapsed index of every unit of the
    batch: a batch has a few dozen such doubles in hundreds of thousands of units. A stretch that
    repeats so much that it holds too few units is read again twice as wide."""
    n = len(units)
    lo = numpy.empty(len(doubles), dtype=numpy.intp)
    hi = numpy.empty(len(doubles), dtype=numpy.intp)
    todo = numpy.arange(len(doubles))
    width = reach + 8
    while todo.size:
        at = doubles[todo]
        index = at[:, None] + numpy.arange(-width, width + 1)
        codes = units.take(numpy.clip(index, 0, n - 1))
        new = numpy.ones(codes.shape, dtype=bool)
        new[:, 1:] = (codes[:, 1:] != codes[:, :-1]) | (codes[:, 1:] == 0)
        # collapsed units from the stretch's start; only differences from the double's are read
        counted = numpy.cumsum(new, axis=1)
        middle = counted[:, width : width + 1]
        left = numpy.argmax(counted >= middle - reach + 1, axis=1)
        right_found = counted >= middle + reach
        right = numpy.where(right_found.any(axis=1), numpy.argmax(right_found, axis=1), 2 * width + 1)
        rows = numpy.arange(len(todo))
        first, last = firsts[todo], lasts[todo]
        start = index[:, 0]
        # the stretch's first column may stand inside the window (then it reaches further left,
        # unless the message starts there), and the window may end past the stretch
        short = ((left == 0) & (start > first)) | ((right == 2 * width + 1) & (start + 2 * width + 1 < last))
        done = ~short
        lo[todo[done]] = numpy.maximum(index[rows[done], left[done]], first[done])
        hi[todo[done]] = numpy.minimum(start[done] + right[done], last[done])
        todo = todo[short]
        width *= 2
    return lo, hi


def _masks(automaton, texts: list[str]) -> list[int]:
    """The mask (Automaton.mask) of each text's matches, in one pass over the texts joined."""
    masks = [0] * len(texts)
    found = automaton.find(BOUNDARY.join(texts))
    if found:
        bounds = numpy.cumsum(numpy.fromiter(map(len, texts), dtype=numpy.intp, count=len(texts)) + 1) - 1
        window = numpy.searchsorted(bounds, [start for _, start, _ in found], side="right").tolist()
        pattern_masks = automaton.masks
        for (pattern, _, _), k in zip(found, window, strict=True):
            masks[k] |= pattern_masks[pattern]
    return masks


def _boundaries(encoded: bytes) -> numpy.ndarray:
    return numpy.flatnonzero(numpy.frombuffer(encoded, dtype=numpy.uint8) == 0)


def _holding(automaton, joined: str, collapsed: bool = False) -> set[int]:
    """Which of the texts joined with BOUNDARY hold a match (with repeats collapsed, if so asked)."""
    if collapsed:
        joined = collapse(joined)
    found = automaton.find_matches_as_indexes(joined)
    if not found:
        return set()
    # where each BOUNDARY stands
    bounds = numpy.cumsum(numpy.fromiter(map(len, joined.split(BOUNDARY)), dtype=numpy.intp) + 1) - 1
    starts = numpy.fromiter((start for _, start, _ in found), dtype=numpy.intp, count=len(found))
    return set(numpy.searchsorted(bounds, starts, side="right").tolist())


def _among(values: numpy.ndarray, sorted_values: numpy.ndarray) -> numpy.ndarray:
    """values ∈ sorted_values, element by element."""
    if not sorted_values.size:
        return numpy.zeros(len(values), dtype=bool)
    at = numpy.minimum(numpy.searchsorted(sorted_values, values), len(sorted_values) - 1)
    return sorted_values[at] == values


def _over_a_repeat(candidates: list, uncollapsed: str) -> list:
    """The candidates of the text with repeats collapsed that read over a collapsed run, from their
    first unit to their last. The others read units the text holds just as they stand, in the same
    places, so the full pass has the same candidates and refuses no more of them (its negations and
    company channels are among the collapsed pass's too); its hits come first in `_merge`. A long
    message that repeats a character somewhere (谢谢) is not read twice over for a term elsewhere."""
    if not candidates:
        return candidates
    runs = _runs(uncollapsed)
    return [c for c in candidates if any(k in runs for k in range(c.pieces[0][0], c.pieces[-1][1]))]


@functools.cache
def _characters_by_syllable() -> dict[str, list[str]]:
    from custos.detection import pinyin

    out: dict[str, list[str]] = defaultdict(list)
    for cp in range(0x4E00, 0xA000):
        syllable = pinyin.syllable_of(cp)
        if syllable:
            out[syllable].append(chr(cp))
    return out


def _characters_of(syllable: str) -> list[str]:
    return _characters_by_syllable().get(syllable, [])


def _runs(uncollapsed: str) -> dict[int, int]:
    """{collapsed unit: how many times it stood in a row} for the units that repeat; the rest stood once.
    Only the repeats are walked: a long text repeats a few of its units at most."""
    runs, dropped = {}, 0
    for m in REPEAT.finditer(uncollapsed):
        start, end = m.span()
        runs[start - dropped] = end - start
        dropped += end - start - 1
    return runs


def _repeated(runs: dict[int, int], start: int, needs: tuple[tuple[tuple[int, int], ...], ...]) -> bool:
    """Whether the collapsed units from `start` repeat at least as one of `needs` asks."""
    return any(all(runs.get(start + k, 1) >= n for k, n in need) for need in needs)


def _unmask(original: str, hits: Iterable[Hit]) -> list[Hit]:
    """Hits on a text whose NUL characters (the batch separator) were read as spaces, one for one."""
    return [dataclasses.replace(hit, matched=original[hit.start : hit.end]) for hit in hits]


def _as_written(text: str, start: int, end: int) -> str:
    """A number or id in plain ASCII is exact; spelled in Chinese numerals, circled digits or split
    by symbols it was normalised to be read."""
    return (
        EXACT
        if text[start:end].isascii() and text[start:end].replace("_", "").replace("-", "").isalnum()
        else NORMALISED
    )


def _split_allow(norm: Normaliser, items: list[str]) -> tuple[frozenset, frozenset, list[str]]:
    """The allow-list as hotline numbers, account ids and phrases (the company's channels)."""
    numbers, accounts, phrases = set(), set(), []
    for item in items:
        digits = re.sub(r"[\s\-+()（）]", "", norm.digits(item))
        folded = norm.base(item).strip()
        if digits.isdigit() and len(digits) >= 5:
            numbers.add(digits)
            numbers.add(phones.mobile(digits) or digits)
        elif _ACCOUNT_ID.fullmatch(folded):
            accounts.add(folded)
        elif item.strip():
            phrases.append(item)
    return frozenset(numbers), frozenset(accounts), phrases


def _merge(hits: list[Hit]) -> list[Hit]:
    """One hit per finding: duplicates and hits inside a no less severe one of the same category go."""
    if len(hits) < 2:
        return hits
    shortest: dict[tuple, Hit] = {}
    for hit in hits:
        key = (hit.category, hit.rule, hit.start)
        if key not in shortest or hit.end < shortest[key].end:
            shortest[key] = hit
    candidates = list(shortest.values())
    best: dict[tuple, Hit] = {}
    for hit in candidates:
        rank = SEVERITY_RANK[hit.severity]
        if any(
            other.category == hit.category
            and other.start <= hit.start
            and hit.end <= other.end
            and (other.start, other.end) != (hit.start, hit.end)
            and SEVERITY_RANK[other.severity] >= rank
            for other in candidates
        ):
            continue
        key = (hit.category, hit.start, hit.end)
        if key not in best or (-rank, hit.rule) < (-SEVERITY_RANK[best[key].severity], best[key].rule):
            best[key] = hit
    return sorted(best.values(), key=lambda h: (h.start, h.end, h.category))


@functools.cache
def _default_rules() -> Rules:
    return lexicon.load_rules(lexicon.DEFAULT_RULES)


@functools.cache
def _default_terms() -> tuple[Term, ...]:
    return tuple(lexicon.load_terms(lexicon.DEFAULT_LEXICON))


@functools.cache
def _default_engine() -> Engine:
    return Engine(_default_rules(), _default_terms())
