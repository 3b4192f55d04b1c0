"""Exact sums of float64 values, as integers: the same total in any order and any split.

A float sum depends on the order of its terms; a sum over shards must not. Every finite
float64 is ``M * 2**(e - 53)`` with ``M, e = frexp(x)`` scaled to an integer mantissa
``|M| < 2**53`` (exactly: scaling by a power of two). So ``x * 2**SCALE_BITS`` is an
integer for every float64, the smallest subnormal included, and a sum of such integers
is exact. Python's integers hold it; merging two sums is one integer addition, and the
mean is one correctly rounded division (``int / int`` in CPython), so it is the exact
mean rounded once, whatever the sharding.

Vectorised: each mantissa is split into two halves below 2**27, and the halves are
summed per exponent with ``np.bincount`` in float64, whose partial sums stay integers
below 2**53 (exact) for up to 2**26 values per call: ``_ROWS_PER_CALL`` is below that.
Grouped sums (``groups=``) serve sums per bin or per class, e.g. calibration's
confidence per bin.
"""

import numpy as np

SCALE_BITS = 1126  # 2**-1126 * 2**52 is the smallest subnormal, 2**-1074
_HALF = 2.0**26
_ROWS_PER_CALL = 2**22


def exact_sums(
    values: np.ndarray, groups: np.ndarray | None = None, *, n_groups: int = 1
) -> list[int]:
    """Per group, the exact sum of ``values`` times ``2**SCALE_BITS``, a Python int.

    values: (n,) finite float64; groups: (n,) ints in 0..n_groups-1, or None (one group).
    """
    totals = [0] * n_groups
    values = np.asarray(values, dtype=np.float64).ravel()
    for start in range(0, values.size, _ROWS_PER_CALL):
        chunk = values[start : start + _ROWS_PER_CALL]
        group = None if groups is None else np.asarray(groups).ravel()[start : start + chunk.size]
        _add_chunk(totals, chunk, group, n_groups)
    return totals


def _add_chunk(totals: list[int], values: np.ndarray, groups, n_groups: int) -> None:
    mantissa, exponent = np.frexp(values)
    integer = mantissa * 2.0**53  # exact: |integer| < 2**53, a whole number
    high = np.trunc(integer / _HALF)  # exact: a power-of-two division, then whole part
    low = integer - high * _HALF  # exact: |low| < 2**26
    lowest = int(exponent.min(initial=0))
    slots = int(exponent.max(initial=0)) - lowest + 1
    key = exponent - lowest
    if groups is not None:
        key = groups.astype(np.int64) * slots + key
    size = n_groups * slots
    high_sums = np.bincount(key, weights=high, minlength=size).reshape(n_groups, slots)
    low_sums = np.bincount(key, weights=low, minlength=size).reshape(n_groups, slots)
    for g, slot in zip(*np.nonzero((high_sums != 0) | (low_sums != 0)), strict=True):
        # value = integer * 2**(e - 53); times 2**SCALE_BITS: shifted by e - 53 + SCALE_BITS
        shift = int(slot) + lowest - 53 + SCALE_BITS
        combined = (int(high_sums[g, slot]) << 26) + int(low_sums[g, slot])
        totals[g] += combined << shift


def exact_mean(total: int, count: int) -> float:
    """The float nearest to ``total * 2**-SCALE_BITS / count`` (``exact_sums``' units)."""
    return total / (count << SCALE_BITS)  # correctly rounded: CPython's int true division
