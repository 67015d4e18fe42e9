"""Which strings are common Chinese words: jieba's frequency dictionary, read without jieba's segmenter.

Two questions of the engine need it, both about telling a term from ordinary language:
- is a homophone match really the term, or ordinary words that merely sound like it (十八斤 is
  no 十八禁, 地基 in 中地基 is no 低级)? A homophone whose characters form a common word, or that a
  common word cuts across, is ordinary text;
- is a term met as the head or tail of a longer common word (the term 单干 in 简单干净)? Then the
  match must not continue that word: `edges` gives the characters that would.

The dictionary (about 350,000 words with their counts in a large corpus) is read once, lazily: an
engine that never meets a homophone or an edge-bound term never loads it.
"""

import functools
from importlib import resources

# A word counted at least this often is common enough that text holding it means the word.
# Below this, jieba's dictionary lists rare compounds and names (十八禁 3, 十八斤 5).
COMMON = 50
# The characters of a homophone match form a word of their own at any count: the dictionary lists
# them because people write them.
LISTED = 1
LONGEST = 6


class WordListMissing(RuntimeError):
    pass


@functools.cache
def frequencies() -> dict[str, int]:
    """Word → count, for words of two to LONGEST characters."""
    try:
        text = (resources.files("jieba") / "dict.txt").read_text(encoding="utf-8")
    except (ModuleNotFoundError, OSError) as exc:
        raise WordListMissing(
            "custos.detection needs jieba's dictionary (pip install jieba): " + str(exc)
        ) from exc
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split(" ")
        if len(parts) >= 2 and 2 <= len(parts[0]) <= LONGEST and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


def count(word: str) -> int:
    return frequencies().get(word, 0)


@functools.cache
def character_counts() -> dict[str, int]:
    """Character → its count as a word of its own in the same dictionary: how plain a character is."""
    text = (resources.files("jieba") / "dict.txt").read_text(encoding="utf-8")
    out: dict[str, int] = {}
    for line in text.splitlines():
        parts = line.split(" ")
        if len(parts) >= 2 and len(parts[0]) == 1 and parts[1].isdigit():
            out[parts[0]] = int(parts[1])
    return out


@functools.cache
def _affixes() -> tuple[dict[str, tuple[str, ...]], dict[str, tuple[str, ...]]]:
    """For each head or tail of a common word: what completes the word.

    before["和国"] holds "人民共" (人民共和国); after["了"] holds "解" (了解): so a term that starts with
    了 or ends with 和国 knows what must not come right after or before it.
    """
    before: dict[str, set[str]] = {}
    after: dict[str, set[str]] = {}
    for word, n in frequencies().items():
        if n < COMMON:
            continue
        for cut in range(1, len(word)):
            before.setdefault(word[cut:], set()).add(word[:cut])
            after.setdefault(word[:cut], set()).add(word[cut:])
    return (
        {k: tuple(sorted(v)) for k, v in before.items()},
        {k: tuple(sorted(v)) for k, v in after.items()},
    )


def edges(term: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(what may not come just before, what may not come just after) a match of `term`.

    Where a common word would run across the edge of the match, the text says that word, not the
    term: 私了 in 太自私了 (自私), 民共和国 in 中华人民共和国, 私了 in 私了解. Only for a term that is no
    common word itself: 回扣 stays 回扣 in 收回扣, whatever 收回 says.
    """
    if len(term) < 2 or count(term) >= COMMON:
        return (), ()
    before, after = _affixes()
    head: set[str] = set()
    tail: set[str] = set()
    for k in range(1, len(term)):
        # a word ending with the term's first k characters, or starting with its last k
        head.update(before.get(term[:k], ()))
        tail.update(after.get(term[-k:], ()))
    head.update(before.get(term, ()))
    tail.update(after.get(term, ()))
    return tuple(sorted(head)), tuple(sorted(tail))


def ordinary(text: str, start: int, end: int, changed: set[int]) -> bool:
    """Whether text[start:end], a homophone match, reads as ordinary words: its characters are a
    listed word, or a common word covers a character that differs from the term or crosses the
    match's edge (我会扣款 is 会 + 扣款, not 回扣). Offsets are in `text`; `changed` holds the
    positions whose character differs from the term's."""
    freq = frequencies()
    if freq.get(text[start:end], 0) >= LISTED:
        return True
    for i in range(max(0, start - LONGEST + 1), end):
        for j in range(max(i + 2, start + 1), min(len(text), i + LONGEST) + 1):
            if freq.get(text[i:j], 0) < COMMON:
                continue
            if i < start or j > end or any(i <= p < j for p in changed):
                return True
    return False
