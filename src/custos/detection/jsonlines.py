"""Messages in, hits out, as JSON lines: what `custos scan` reads and writes.

In:  {"id": ..., "text": "...", "sender_role": "staff"}   (sender_role optional, "staff" if absent)
Out: {"id": ..., "hits": [{"category", "rule", "severity", "confidence", "start", "end", "matched"}]}

A line that is not such an object is reported on the error stream, one line naming its line
number (and its id when it has one), and skipped; the others are scanned in batches.
"""

import json
from collections.abc import Iterable
from typing import TextIO

from custos.detection.engine import Engine

BATCH = 1000


class BadLine(ValueError):
    pass


def parse(line: str) -> tuple[object, str, str | None]:
    """(id, text, sender_role) of one input line, or BadLine saying what is wrong with it."""
    try:
        item = json.loads(line)
    except json.JSONDecodeError as exc:
        raise BadLine(f"not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(item, dict):
        raise BadLine(f"expected a JSON object, got {type(item).__name__}")
    if "id" not in item:
        raise BadLine('no "id"')
    message_id = item["id"]
    if isinstance(message_id, dict | list):
        raise BadLine('"id" must be a string or a number')
    text = item.get("text")
    if not isinstance(text, str):
        raise BadLine(f'id {json.dumps(message_id, ensure_ascii=False)}: "text" must be a string')
    role = item.get("sender_role", "staff")
    if role is not None and not isinstance(role, str):
        raise BadLine(f'id {json.dumps(message_id, ensure_ascii=False)}: "sender_role" must be a string')
    return message_id, text, role


def scan_lines(
    engine: Engine, lines: Iterable[str | bytes], out: TextIO, err: TextIO, *, ascii_only: bool = False
) -> int:
    """Scan JSON lines from `lines` to `out`; report bad ones on `err`. Returns the number of bad lines."""
    bad = 0
    batch: list[tuple[object, str, str | None]] = []

    def flush() -> None:
        for (message_id, _, _), hits in zip(
            batch, engine.scan_many([(text, role) for _, text, role in batch]), strict=True
        ):
            record = {"id": message_id, "hits": [hit.as_dict() for hit in hits]}
            out.write(json.dumps(record, ensure_ascii=ascii_only) + "\n")
        batch.clear()

    for number, raw in enumerate(lines, 1):
        try:
            line = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        except UnicodeDecodeError as exc:
            bad += 1
            err.write(f"line {number}: not UTF-8 ({exc.reason} at byte {exc.start})\n")
            continue
        if not line.strip():
            continue
        try:
            batch.append(parse(line))
        except BadLine as exc:
            bad += 1
            err.write(f"line {number}: {exc}\n")
            continue
        if len(batch) >= BATCH:
            flush()
    flush()
    return bad
