"""Import of already-decrypted chat-archive records: `custos wecom import-archive FILE`.

For a company that switches to Custos with years of history: archive vendors export WeCom's messages
as they come out of DecryptData, one JSON object a line (msgid, action, from, tolist, roomid, msgtime,
msgtype and the type's object). Each goes through the same mapping as the pull (archive_mapping) and is
appended with source "wecom_archive" and source_id = msgid, so a re-import, or a record the pull meets
again, is the same entry, not a second one.

The file is read twice: first checked whole (a bad line stops the import before anything is appended,
with its line number), then imported in batches of BATCH, each one transaction. Media files are not
fetched (an export does not carry them, and WeCom serves an sdkfileid only for a while): a media
message goes in at once, its sdkfileid and md5sum kept in raw.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from custos.wecom.archive_pull import Stored, store_messages

BATCH = 1000


class BadLine(ValueError):
    def __init__(self, path: Path, line: int, reason: str) -> None:
        self.line = line
        super().__init__(f"{path}:{line}: {reason}")


@dataclass
class Checked:
    lines: int  # records in the file (blank lines skipped)


def _parse(path: Path, number: int, text: str) -> dict:
    try:
        value = json.loads(text, strict=False)  # WeCom's messages carry raw newlines and tabs in strings
    except json.JSONDecodeError as exc:
        raise BadLine(path, number, f"not JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(value, dict):
        raise BadLine(path, number, "not a JSON object")
    msgid = value.get("msgid")
    if not isinstance(msgid, str) or not msgid.strip() or len(msgid) > 200:
        raise BadLine(path, number, "no msgid (a string of at most 200 characters)")
    if value.get("action") == "switch":
        if not isinstance(value.get("time"), int):
            raise BadLine(path, number, "a switch record needs its time (milliseconds)")
        return value
    if not isinstance(value.get("msgtime"), int):
        raise BadLine(path, number, "no msgtime (milliseconds since 1970, a number)")
    if not isinstance(value.get("msgtype"), str) or not value["msgtype"]:
        raise BadLine(path, number, "no msgtype")
    if not isinstance(value.get("from"), str) or not value["from"]:
        raise BadLine(path, number, "no from")
    if "tolist" in value and not isinstance(value["tolist"], list):
        raise BadLine(path, number, "tolist is not a list")
    return value


def _lines(path: Path) -> Iterator[tuple[int, str]]:
    try:
        with open(path, encoding="utf-8-sig") as fh:  # an exporter's BOM is not part of the first record
            for number, text in enumerate(fh, 1):
                if text.strip():
                    yield number, text
    except UnicodeDecodeError as exc:
        raise BadLine(path, 0, f"not UTF-8 text ({exc.reason} at byte {exc.start})") from None


def check(path: Path) -> Checked:
    """The whole file read and checked; BadLine names the first line that is not a record."""
    if not path.is_file():
        raise BadLine(path, 0, "no such file")
    count = 0
    for number, text in _lines(path):
        _parse(path, number, text)
        count += 1
    return Checked(count)


def run(path: Path, progress: Callable[[int], None] | None = None) -> Stored:
    """Import a checked file; `progress` is told how many records each batch held."""
    total = Stored()
    batch: list[tuple[int | None, dict]] = []

    def flush() -> None:
        stored = store_messages(batch, fetch_media=False)
        stored.records = len(batch)
        total.add(stored)
        if progress:
            progress(len(batch))
        batch.clear()

    for number, text in _lines(path):
        batch.append((None, _parse(path, number, text)))
        if len(batch) >= BATCH:
            flush()
    if batch:
        flush()
    return total
