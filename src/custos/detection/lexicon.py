"""Lexicons and rules: what to look for, read from the shipped data files or an operator's own.

A lexicon is a list of terms, one a line: term<TAB>category<TAB>severity<TAB>disguised, the last three
optional. "disguised" marks a term people commonly write in homophones or pinyin (私单 as 思单, fei dan):
such a term is matched so even when it is short; others only when long enough to be safe.
The rules file (TOML) holds what a term list cannot say: categories and who may raise them,
disguise spellings, word groups for proximity rules, the company's own channels, and contexts
that make a match no hit. The format is described in data/default_rules.toml itself.
"""

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

SEVERITIES = ("low", "medium", "high")
CUSTOM_CATEGORY = "custom"
_NAME = re.compile(r"[a-z][a-z0-9_]*\Z")

_DATA = resources.files("custos.detection") / "data"
DEFAULT_LEXICON = _DATA / "default_lexicon.tsv"
DEFAULT_RULES = _DATA / "default_rules.toml"


class LexiconError(ValueError):
    """A lexicon or rules file that cannot be used; the message names the file and line."""


@dataclass(frozen=True, slots=True)
class Term:
    text: str
    category: str = CUSTOM_CATEGORY
    severity: str = "medium"
    # commonly written in homophones or pinyin: matched so however short (see engine._reading)
    disguised: bool = False


@dataclass(frozen=True, slots=True)
class Category:
    name: str
    label: str = ""
    # None: any sender role may raise it
    roles: frozenset[str] | None = None

    def raised_by(self, role: str | None) -> bool:
        return self.roles is None or role in self.roles


@dataclass(frozen=True, slots=True)
class NearRule:
    """A hit when a word of cue group `first` is followed within `within` units by one of `then`."""

    name: str
    category: str
    severity: str
    first: str
    then: str
    within: int
    # which group's words are looked for over whole batches: the rarer one ("first" or "then")
    trigger: str = "first"


@dataclass(frozen=True, slots=True)
class Negative:
    """A context that drops a hit of one of `categories`."""

    reason: str
    categories: frozenset[str]
    # a regular expression over the base-folded message, matching text that overlaps the hit
    around: re.Pattern | None = None
    # a cue group, a word of which ends at most `before_gap` units before the hit, same sentence
    before_cue: str | None = None
    before_gap: int = 0


@dataclass(frozen=True)
class Rules:
    categories: dict[str, Category]
    lookalikes: dict[str, str] = field(default_factory=dict)  # disguise character → plain one
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)
    cues: dict[str, tuple[str, ...]] = field(default_factory=dict)
    near: tuple[NearRule, ...] = ()
    allow: tuple[str, ...] = ()
    plural_we: bool = False
    negatives: tuple[Negative, ...] = ()

    def category(self, name: str) -> Category:
        # Categories an operator's lexicon introduces are raised by any sender.
        return self.categories.get(name) or Category(name)


def read_terms(lines: Iterable[str], source: str) -> list[Term]:
    """Terms from lexicon lines; '#' starts a comment line, blank lines are skipped."""
    terms = []
    for number, line in enumerate(lines, 1):
        line = line.rstrip("\r\n")
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        fields = [f.strip() for f in line.split("\t")]
        if len(fields) > 4:
            raise LexiconError(
                f"{source} line {number}: expected term, category, severity, disguised: got {len(fields)} fields"
            )
        text = fields[0]
        category = fields[1] if len(fields) > 1 and fields[1] else CUSTOM_CATEGORY
        severity = fields[2] if len(fields) > 2 and fields[2] else "medium"
        if not text:
            raise LexiconError(f"{source} line {number}: empty term")
        if not _NAME.match(category):
            raise LexiconError(
                f"{source} line {number}: category {category!r} is not a name like private_deal"
            )
        if severity not in SEVERITIES:
            raise LexiconError(
                f"{source} line {number}: severity {severity!r} is not one of {', '.join(SEVERITIES)}"
            )
        flag = fields[3] if len(fields) > 3 else ""
        if flag not in ("", "disguised"):
            raise LexiconError(
                f"{source} line {number}: fourth field {flag!r} must be empty or the word disguised"
            )
        terms.append(Term(text, category, severity, flag == "disguised"))
    return terms


def load_terms(path) -> list[Term]:
    path = Path(path) if isinstance(path, str) else path
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise LexiconError(f"cannot read lexicon {path}: {exc}") from exc
    return read_terms(text.splitlines(), str(path))


def _words(value, where: str) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise LexiconError(f"{where}: expected a list of words")
    return tuple(v.strip() for v in value)


def parse_rules(data: dict, source: str) -> Rules:
    try:
        return _parse_rules(data, source)
    except (KeyError, TypeError, AttributeError, re.error) as exc:
        raise LexiconError(f"{source}: {type(exc).__name__}: {exc}") from exc


def _parse_rules(data: dict, source: str) -> Rules:
    categories = {}
    for name, spec in data.get("categories", {}).items():
        roles = spec.get("roles", "any")
        if not _NAME.match(name):
            raise LexiconError(f"{source}: category {name!r} is not a name like private_deal")
        categories[name] = Category(
            name,
            spec.get("label", ""),
            None if roles == "any" else frozenset(_words(roles, f"{source}: {name}.roles")),
        )

    lookalikes = {}
    for plain, disguises in data.get("lookalikes", {}).items():
        if len(plain) != 1:
            raise LexiconError(f"{source}: lookalikes: {plain!r} is not one character")
        lookalikes.update(dict.fromkeys(disguises, plain))

    synonyms = {
        key.lower(): _words(spellings, f"{source}: synonyms.{key}")
        for key, spellings in data.get("synonyms", {}).items()
    }
    cues = {group: _words(words, f"{source}: cues.{group}") for group, words in data.get("cues", {}).items()}

    def check(
        where: str, category: str | None = None, severity: str | None = None, groups: Iterable[str] = ()
    ):
        if category is not None and category not in categories:
            raise LexiconError(f"{source}: {where}: unknown category {category!r}")
        if severity is not None and severity not in SEVERITIES:
            raise LexiconError(
                f"{source}: {where}: severity {severity!r} is not one of {', '.join(SEVERITIES)}"
            )
        for group in groups:
            if group not in cues:
                raise LexiconError(f"{source}: {where}: unknown cue group {group!r}")

    near = []
    for spec in data.get("near", []):
        rule = NearRule(
            spec["name"],
            spec["category"],
            spec.get("severity", "medium"),
            spec["first"],
            spec["then"],
            int(spec["within"]),
            spec.get("trigger", "first"),
        )
        check(f"near {rule.name}", rule.category, rule.severity, (rule.first, rule.then))
        if rule.trigger not in ("first", "then"):
            raise LexiconError(
                f"{source}: near {rule.name}: trigger must be first or then, not {rule.trigger!r}"
            )
        near.append(rule)

    negatives = []
    for spec in data.get("negative", []):
        where = f"negative {spec.get('reason', '')!r}"
        cats = frozenset(_words(spec["categories"], where))
        for cat in cats:
            check(where, cat)
        around = re.compile(spec["around"]) if "around" in spec else None
        before = spec.get("before_cue")
        if before is not None:
            check(where, groups=[before])
        negatives.append(
            Negative(spec.get("reason", ""), cats, around, before, int(spec.get("before_gap", 0)))
        )

    allow = data.get("allow", {})
    return Rules(
        categories=categories,
        lookalikes=lookalikes,
        synonyms=synonyms,
        cues=cues,
        near=tuple(near),
        allow=_words(allow.get("phrases", []), f"{source}: allow.phrases") if allow.get("phrases") else (),
        plural_we=bool(allow.get("plural_we", False)),
        negatives=tuple(negatives),
    )


def load_rules(path) -> Rules:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise LexiconError(f"cannot read rules {path}: {exc}") from exc
    return parse_rules(data, str(path))
