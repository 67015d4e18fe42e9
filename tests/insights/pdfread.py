"""Just enough of a PDF reader to check what reportlab wrote: the pages' drawing operations and
text (streams are ASCII85 + Flate; the CID font's strings are UTF-16BE)."""

import base64
import re
import zlib

_ESCAPES = {
    b"n": b"\n",
    b"r": b"\r",
    b"t": b"\t",
    b"b": b"\b",
    b"f": b"\f",
    b"(": b"(",
    b")": b")",
    b"\\": b"\\",
}


def streams(pdf: bytes) -> list[str]:
    out = []
    for m in re.finditer(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        data = m.group(1).strip()
        try:
            data = zlib.decompress(base64.a85decode(data, adobe=True))
        except ValueError:
            continue  # an image or a font, not a page
        out.append(data.decode("latin-1"))
    return out


def _literal(s: str) -> bytes:
    raw, out, i = s.encode("latin-1"), bytearray(), 0
    while i < len(raw):
        c = raw[i : i + 1]
        if c == b"\\":
            octal = re.match(rb"[0-7]{1,3}", raw[i + 1 : i + 4])
            if octal:
                out.append(int(octal.group(0), 8))
                i += 1 + len(octal.group(0))
                continue
            out += _ESCAPES.get(raw[i + 1 : i + 2], raw[i + 1 : i + 2])
            i += 2
            continue
        out += c
        i += 1
    return bytes(out)


def texts(pdf: bytes) -> list[str]:
    """Every string shown with Tj, decoded: UTF-16BE in the CID font, Latin-1 in Helvetica (F1)."""
    out = []
    for page in streams(pdf):
        font = None
        for m in re.finditer(r"/(F\d+) [\d.]+ Tf|\(((?:\\.|[^\\)])*)\) Tj", page):
            if m.group(1):
                font = m.group(1)
                continue
            b = _literal(m.group(2))
            out.append(b.decode("latin-1") if font == "F1" else b.decode("utf-16-be", "replace"))
    return out


def bars(pdf: bytes) -> list[tuple[float, float, float, float]]:
    """The chart bars: rectangles filled without a border, drawn upwards (x, y, width, height).
    A table's header background is filled too, but drawn downwards from its top (height < 0)."""
    return [
        r
        for page in streams(pdf)
        for m in re.findall(r"n ([-\d.]+) ([-\d.]+) ([-\d.]+) ([-\d.]+) re f\*", page)
        if (r := tuple(float(v) for v in m))[3] > 0
    ]


def polylines(pdf: bytes) -> list[int]:
    """The stroked paths, as the number of points of each."""
    return [
        1 + len(re.findall(r" l", m))
        for page in streams(pdf)
        for m in re.findall(r"n [-\d.]+ [-\d.]+ m((?: [-\d.]+ [-\d.]+ l)+)\s*S", page)
    ]
