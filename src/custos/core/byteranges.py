"""HTTP Range requests on one representation (RFC 9110, section 14), single ranges only.

`wanted(range_header, if_range, etag, size)` answers what to send:
  None                  the whole representation (no Range, another unit, several ranges, an
                        invalid range set, or an If-Range that no longer matches): 200
  (start, stop)         the bytes [start, stop): 206 with Content-Range
  raises Unsatisfiable  a valid range set none of whose ranges overlaps the bytes: 416

Several ranges would need a multipart/byteranges answer; a server may ignore the header instead,
which is what browsers seeking in audio and video never notice (they ask for one range).
"""

import re

# bytes=first-[last] or bytes=-suffix; whitespace around the numbers is tolerated.
_SINGLE = re.compile(r"^\s*(\d*)\s*-\s*(\d*)\s*$")
MAX_HEADER = 200


class Unsatisfiable(Exception):
    def __init__(self, size: int):
        super().__init__(f"no byte of the range is inside the {size} bytes")
        self.size = size


def wanted(range_header: str | None, if_range: str | None, etag: str, size: int) -> tuple[int, int] | None:
    if not range_header or len(range_header) > MAX_HEADER:
        return None
    if if_range is not None and if_range.strip() != etag:
        return None  # an If-Range date or another entity tag: the client's copy is not this one
    unit, sep, ranges = range_header.partition("=")
    if not sep or unit.strip().lower() != "bytes" or "," in ranges:
        return None
    match = _SINGLE.match(ranges)
    if match is None or match.group(1) == match.group(2) == "":
        return None
    first, last = match.group(1), match.group(2)
    if first == "":  # a suffix: the last n bytes
        suffix = int(last)
        if suffix == 0 or size == 0:
            raise Unsatisfiable(size)
        return max(size - suffix, 0), size
    start = int(first)
    if last != "" and int(last) < start:
        return None  # invalid: ignored, the whole is sent
    if start >= size:
        raise Unsatisfiable(size)
    stop = size if last == "" else min(int(last) + 1, size)
    return start, stop


def content_range(start: int, stop: int, size: int) -> str:
    return f"bytes {start}-{stop - 1}/{size}"
