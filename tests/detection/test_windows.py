"""`engine._windows` reads the same window round each double as the collapsed index of the whole batch."""

import numpy
import pytest

from custos.detection.engine import _windows


def _windows_of_whole_batch(units, doubles, reach, firsts, lasts):
    # the reading this replaced: each unit's index in the text with repeats collapsed, for every unit
    new = numpy.ones(len(units), dtype=bool)
    new[1:] = (units[1:] != units[:-1]) | (units[1:] == 0)
    collapsed_at = numpy.cumsum(new) - 1
    at = collapsed_at[doubles]
    lo = numpy.searchsorted(collapsed_at, at - reach + 1, side="left")
    hi = numpy.searchsorted(collapsed_at, at + reach, side="left")
    return numpy.maximum(lo, firsts), numpy.minimum(hi, lasts)


@pytest.mark.parametrize("seed", range(40))
def test_windows_match_the_whole_batch_reading(seed):
    rng = numpy.random.default_rng(seed)
    # few symbols and long runs: stretches that repeat so much they must be read again wider
    size = int(rng.integers(5, 3000))
    units = rng.integers(1, int(rng.integers(2, 12)), size=size)
    runs = rng.random(size) < rng.random()
    for k in range(1, size):
        if runs[k]:
            units[k] = units[k - 1]
    units[rng.random(size) < 0.02] = 0  # message boundaries
    units[0] = rng.integers(0, 3)
    doubles = numpy.flatnonzero((units[1:] == units[:-1]) & (units[1:] != 0))
    if not doubles.size:
        return
    bounds = numpy.flatnonzero(units == 0)
    firsts = numpy.concatenate(([0], bounds + 1))
    lasts = numpy.concatenate((bounds, [len(units)]))
    messages = numpy.searchsorted(bounds, doubles, side="right")
    reach = int(rng.integers(2, 20))
    got = _windows(units, doubles, reach, firsts[messages], lasts[messages])
    want = _windows_of_whole_batch(units, doubles, reach, firsts[messages], lasts[messages])
    assert got[0].tolist() == want[0].tolist()
    assert got[1].tolist() == want[1].tolist()
