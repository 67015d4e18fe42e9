"""A customer's name as people search for it: the name itself, its pinyin and its initials.

"宏达建材" is found by 宏达, hongda and hdjc. The key is stored on the customer (search_key) so
a search is one indexed column read, not pinyin computed for every row. Its parts are joined
with "|", which nobody types, so a match never runs across two of them.
"""

import re

SEPARATOR = "|"
_SPACES = re.compile(r"[\s·•・.\-_]+")


def normalise(text: str) -> str:
    """What a search box and a name are compared as: lower case, no spaces or dots."""
    return _SPACES.sub("", (text or "").lower()).replace(SEPARATOR, "")


def bigrams(key: str) -> list[str]:
    """Every piece of two characters of a key, as PostgreSQL's custos_bigrams (customers migration
    0009) takes them: the name search's index holds these."""
    return sorted({key[i : i + 2] for i in range(len(key) - 1)})


def search_key(name: str) -> str:
    from pypinyin import Style, lazy_pinyin  # pypinyin's tables load on first use, not at start-up

    clean = normalise(name)
    if not clean:
        return ""
    syllables = lazy_pinyin(clean, errors=lambda chars: list(chars))
    full = "".join(syllables)
    initials = "".join(
        s[0] for s in lazy_pinyin(clean, style=Style.FIRST_LETTER, errors=lambda chars: list(chars)) if s
    )
    parts = [clean]
    for part in (full, initials):
        if part and part not in parts:
            parts.append(part)
    return SEPARATOR.join(parts)[:300]
