"""Check-in photos: stored in the archive's encrypted blob store, compared by perceptual hash.

A SHA-256 tells the very same file; a perceptual hash (imagehash's DCT hash, 64 bits) tells the
same picture re-encoded, resized or slightly cropped, which is how a photo is passed off twice.
"""

import io
from functools import cache
from itertools import combinations

import imagehash
from django.utils.translation import gettext as _
from PIL import Image, UnidentifiedImageError

from custos.archive import blobs
from custos.core.errors import InvalidInput

MAX_PIXELS = 40_000_000  # a phone's 12-50 MP camera; more is a decompression bomb, not a photo


def phash_of(data: bytes) -> str:
    """The 64-bit perceptual hash as 16 hex digits, or InvalidInput if the bytes are no image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.width * image.height > MAX_PIXELS:
                raise InvalidInput(
                    _("The photo is too large (%(n)d pixels).") % {"n": image.width * image.height}
                )
            image.load()
            return str(imagehash.phash(image))
    except (UnidentifiedImageError, OSError, Image.DecompressionBombError, SyntaxError, ValueError):
        raise InvalidInput(_("The photo is not an image Custos can read (JPEG, PNG, WebP).")) from None


def stored_phash(sha256: str) -> str:
    """The perceptual hash of a photo already in the blob store (uploaded by the phone first)."""
    sha256 = blobs.check_hash(sha256)
    if not blobs.exists(sha256):
        raise InvalidInput(
            _("Upload the photo first: PUT /api/v1/ingest/blobs/%(sha)s, then check in.") % {"sha": sha256}
        )
    return phash_of(blobs.read_bytes(sha256))


def distance(a: str, b: str) -> int:
    """Bits that differ between two perceptual hashes."""
    return (int(a, 16) ^ int(b, 16)).bit_count()


BANDS = 4
BAND_BITS = 16
# Beyond this many differing bits per band the neighbourhoods grow past a few thousand values and
# the look-up would match most rows anyway; callers then compare every hash (field_photo_bits > 19).
MAX_BAND_RADIUS = 4


def bands(phash: str) -> list[int]:
    """The four 16-bit bands of a 64-bit perceptual hash, most significant first."""
    value = int(phash, 16)
    return [(value >> (BAND_BITS * (BANDS - 1 - i))) & 0xFFFF for i in range(BANDS)]


@cache
def _flips(radius: int) -> tuple[int, ...]:
    """Every 16-bit mask with at most `radius` bits set."""
    return tuple(
        sum(1 << b for b in bits) for r in range(radius + 1) for bits in combinations(range(BAND_BITS), r)
    )


def band_neighbours(phash: str, bits: int) -> list[list[int]] | None:
    """For each band, the band values a hash within `bits` of this one may have on it, such that
    at least one band of any such hash is in its list (pigeonhole: d <= bits spread over four
    bands leaves one band with at most bits // 4). None when the radius is too wide to look up."""
    radius = bits // BANDS
    if radius > MAX_BAND_RADIUS:
        return None
    masks = _flips(radius)
    return [sorted({band ^ m for m in masks}) for band in bands(phash)]
