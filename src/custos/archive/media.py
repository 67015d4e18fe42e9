"""Tiny media made on the spot for the demo and the simulator: a PNG and a WAV, no image library.

Good enough to show that images and voice notes play in the chat page; nothing more.
"""

import io
import math
import struct
import wave
import zlib


def png(width: int, height: int, colour: tuple[int, int, int], stripe: tuple[int, int, int], seed: int = 0) -> bytes:
    """A striped RGB PNG: a 'photo' of a fabric swatch."""
    rows = []
    for y in range(height):
        row = bytearray([0])  # filter type: none
        for x in range(width):
            on = ((x + y + seed) // 8) % 3 == 0
            row += bytes(stripe if on else colour)
        rows.append(bytes(row))
    raw = zlib.compress(b"".join(rows), 9)

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", raw) + chunk(b"IEND", b"")


def wav(seconds: float, pitch: float, rate: int = 8000) -> bytes:
    """A mono 8-bit WAV of a wavering tone: a 'voice note'."""
    frames = bytearray()
    for i in range(int(seconds * rate)):
        t = i / rate
        value = math.sin(2 * math.pi * pitch * t * (1 + 0.05 * math.sin(2 * math.pi * 3 * t)))
        envelope = min(1.0, t * 8, (seconds - t) * 8)
        frames.append(int(128 + 90 * value * envelope))
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(1)
        w.setframerate(rate)
        w.writeframes(bytes(frames))
    return out.getvalue()
