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
ROWS_PER_CALL = _ROWS_PER_CALL = 2**22


def exact_sums(
    values: np.ndarray, groups: np.ndarray | None = None, *, n_groups: int = 1
) -> list[int]:
    """Per group, the exact sum of ``values`` times ``2**SCALE_BITS``, a Python int.

    values: (n,) finite float64 (ValueError otherwise); groups: (n,) ints in
    0..n_groups-1, or None (one group).
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    all_groups = None if groups is None else np.asarray(groups).ravel()
    chunks = (
        (
            values[start : start + _ROWS_PER_CALL],
            None if all_groups is None else all_groups[start : start + _ROWS_PER_CALL],
        )
        for start in range(0, values.size, _ROWS_PER_CALL)
    )
    return exact_sums_of_chunks(chunks, n_groups=n_groups)


def exact_sums_of_chunks(chunks, *, n_groups: int = 1) -> list[int]:
    """``exact_sums`` of values that come in ``(values, groups)`` chunks of at most
    ``_ROWS_PER_CALL`` values each (``groups`` None: one group).

    The halves' sums are kept per (group, exponent) in int64 across chunks (below 2**49
    each chunk, so exact for up to 2**14 chunks), and turned into Python integers once,
    at the end.
    """
    lowest = 0  # the exponent of the sums' first column; no columns until a chunk comes
    high_sums = low_sums = np.zeros((n_groups, 0), np.int64)
    for chunk, group in chunks:
        if chunk.size > _ROWS_PER_CALL:
            raise ValueError(f"chunks of at most {_ROWS_PER_CALL} values, not {chunk.size}")
        if chunk.size == 0:
            continue
        if not np.isfinite(chunk).all():  # frexp would give a NaN or an infinite mantissa
            bad = chunk[~np.isfinite(chunk)][0]
            raise ValueError(f"exact sums of finite values only, not {bad}")
        mantissa, exponent = np.frexp(chunk)
        integer = mantissa * 2.0**53  # exact: |integer| < 2**53, a whole number
        high = np.trunc(integer / _HALF)  # exact: a power-of-two division, then whole part
        low = integer - high * _HALF  # exact: |low| < 2**26
        chunk_lowest = int(exponent.min())
        slots = int(exponent.max()) - chunk_lowest + 1
        key = exponent - chunk_lowest
        if group is not None:
            key = group.astype(np.int64) * slots + key
        size = n_groups * slots
        chunk_high = np.bincount(key, weights=high, minlength=size).reshape(n_groups, slots)
        chunk_low = np.bincount(key, weights=low, minlength=size).reshape(n_groups, slots)
        lowest, (high_sums, low_sums) = _widen(lowest, (high_sums, low_sums), chunk_lowest, slots)
        offset = chunk_lowest - lowest
        high_sums[:, offset : offset + slots] += chunk_high.astype(np.int64)
        low_sums[:, offset : offset + slots] += chunk_low.astype(np.int64)
    if high_sums.shape[1] == 0:
        return [0] * n_groups
    # only the exponents some value had: probabilities span hundreds of exponents, few used
    used = np.flatnonzero((high_sums != 0).any(axis=0) | (low_sums != 0).any(axis=0))
    if used.size == 0:
        return [0] * n_groups
    # value = integer * 2**(e - 53); times 2**SCALE_BITS: shifted by e - 53 + SCALE_BITS
    scales = np.empty(used.size, dtype=object)
    scales[:] = [1 << (lowest + int(slot) - 53 + SCALE_BITS) for slot in used]
    combined = high_sums[:, used].astype(object) * (1 << 26) + low_sums[:, used].astype(object)
    return [int(total) for total in (combined * scales).sum(axis=1)]


def _widen(lowest: int, sums: tuple[np.ndarray, ...], chunk_lowest: int, slots: int):
    """The per-exponent sums ``sums`` (starting at exponent ``lowest``) widened to hold
    exponents ``chunk_lowest .. chunk_lowest + slots - 1`` too."""
    width = sums[0].shape[1]
    if width == 0:
        return chunk_lowest, tuple(np.zeros((s.shape[0], slots), np.int64) for s in sums)
    new_lowest = min(lowest, chunk_lowest)
    new_width = max(lowest + width, chunk_lowest + slots) - new_lowest
    if (new_lowest, new_width) == (lowest, width):
        return lowest, sums
    widened = []
    for s in sums:
        w = np.zeros((s.shape[0], new_width), np.int64)
        w[:, lowest - new_lowest : lowest - new_lowest + width] = s
        widened.append(w)
    return new_lowest, tuple(widened)


def exact_mean(total: int, count: int) -> float:
    """The float nearest to ``total * 2**-SCALE_BITS / count`` (``exact_sums``' units)."""
    return total / (count << SCALE_BITS)  # correctly rounded: CPython's int true division
