"""Exact sums of float64 values, as integers: the same total in any order and any split.

A float sum depends on the order of its terms; a sum over shards must not. Every finite
float64 is ``M * 2**(e - 53)`` with ``M, e = frexp(x)`` scaled to an integer mantissa
``|M| < 2**53`` (exactly: scaling by a power of two). So ``x * 2**SCALE_BITS`` is an
integer for every float64, the smallest subnormal included, and a sum of such integers
is exact. Python's integers hold it; merging two sums is one integer addition, and the
mean is one correctly rounded division (``int / int`` in CPython), so it is the exact
mean rounded once, whatever the sharding.

Vectorised, from each value's bits: its sign and exponent (the top 12 bits) are its
key, and it is split into a high part, its top 27 significant bits (the low 26 bits of
the significand zeroed: exact), and a low part, the rest (exact: ``x - high``). Within
one key (``frexp`` exponent e) every high part is a whole number of units 2**(e - 27),
below 2**27 of them, and every low part a whole number of units 2**(e - 53), below
2**26: their sums per (group, key) with ``np.bincount`` in float64 stay exact for up to
2**26 values per call (``ROWS_PER_CALL`` is below that; values near the largest float
are turned into units first, lest the sum overflow), and are then counted in int64
units across calls. Grouped sums (``groups=``) serve sums per bin or per class, e.g. calibration's
confidence per bin.
"""

import numpy as np

SCALE_BITS = 1126  # 2**-1126 * 2**52 is the smallest subnormal, 2**-1074
ROWS_PER_CALL = 2**22
_LOW_BITS = 26  # the low part's significand bits
_HIGH_MASK = np.uint64((2**64 - 1) ^ (2**_LOW_BITS - 1))  # sign, exponent, top 26 of 52 bits
_EXPONENT_SHIFT = np.uint64(52)
# from this biased exponent on, 2**26 values' sum could overflow float64 (2**1024)
_LARGE_EXPONENT = 2046 + 1 - 53 - _LOW_BITS
_FLUSH_VALUES = 2**35  # int64 unit counts stay below 2**63 for this many values


def exact_sums(
    values: np.ndarray, groups: np.ndarray | None = None, *, n_groups: int = 1
) -> list[int]:
    """Per group, the exact sum of ``values`` times ``2**SCALE_BITS``, a Python int.

    values: (n,) finite float64 (ValueError otherwise); groups: (n,) ints in
    0..n_groups-1, or None (one group).
    """
    values = np.asarray(values, dtype=np.float64).ravel()
    all_groups = None if groups is None else np.asarray(groups).ravel()
    sums = ExactSums(n_groups)
    step = chunk_values(n_groups)
    for start in range(0, values.size, step):
        part = slice(start, start + step)
        sums.add(values[part], None if all_groups is None else all_groups[part])
    return sums.totals()


def chunk_values(n_groups: int) -> int:
    """Values per chunk for ``n_groups`` groups: small enough for the temporaries to stay
    in cache, large enough that the per-chunk sums (groups x keys) cost little beside."""
    return int(np.clip(n_groups * 2**10, 2**16, ROWS_PER_CALL))


class ExactSums:
    """``exact_sums`` of values added a chunk at a time: ``add(values, groups)`` as
    often as needed, then ``totals()``.

    The parts' sums are kept per (group, key) in int64 units across chunks, and turned
    into Python integers at the end (and every ``_FLUSH_VALUES`` values, before int64
    could overflow).
    """

    def __init__(self, n_groups: int = 1) -> None:
        self.n_groups = n_groups
        self._flushed = [0] * n_groups
        self._empty()

    def _empty(self) -> None:
        self._lowest = 0  # the key of the sums' first column; no columns until a chunk
        self._sums = (np.zeros((self.n_groups, 0), np.int64),) * 2  # high, low parts
        self._counted = 0

    def add(self, chunk: np.ndarray, group: np.ndarray | None = None) -> None:
        """Add (n,) float64 values, at most ``ROWS_PER_CALL``, of (n,) ``group``s."""
        chunk = np.asarray(chunk, dtype=np.float64).ravel()
        if chunk.size > ROWS_PER_CALL:
            raise ValueError(f"chunks of at most {ROWS_PER_CALL} values, not {chunk.size}")
        if chunk.size == 0:
            return
        if not np.isfinite(chunk).all():  # an exponent of all ones: no exact value
            bad = chunk[~np.isfinite(chunk)][0]
            raise ValueError(f"exact sums of finite values only, not {bad}")
        if self._counted + chunk.size > _FLUSH_VALUES:
            self._flushed = _add(self._flushed, self._integers())
            self._empty()
        nonzero = chunk != 0  # -0.0 too: zeros add nothing, and their key (0, or 2048
        if not nonzero.all():  # for -0.0) would widen the sums by a thousand exponents
            chunk = chunk[nonzero]
            group = None if group is None else np.asarray(group).ravel()[nonzero]
            if chunk.size == 0:
                return
        self._counted += chunk.size
        bits = chunk.view(np.uint64)
        key = (bits >> _EXPONENT_SHIFT).view(np.int64)  # sign and biased exponent
        high = (bits & _HIGH_MASK).view(np.float64)
        low = chunk - high
        chunk_lowest, top = int(key.min()), int(key.max())
        slots = top - chunk_lowest + 1
        # in units: 2**(e - 1075 + 26) for the high parts, 2**(e - 1075) for the low ones,
        # e a key's biased exponent (1 for subnormals, as for the smallest normals); a
        # sum of values near the largest float would overflow: those count units first
        large = (top if top < 2048 else int((key & 2047).max())) >= _LARGE_EXPONENT
        if large:
            exponent = np.maximum(key & 2047, 1)
            high = np.ldexp(high, 1075 - _LOW_BITS - exponent)
            low = np.ldexp(low, 1075 - exponent)
        key = key - chunk_lowest
        if group is not None:
            key += np.asarray(group, dtype=np.int64).ravel() * slots
        size = self.n_groups * slots
        parts = [
            np.bincount(key, weights=part, minlength=size).reshape(self.n_groups, slots)
            for part in (high, low)
        ]
        if not large:
            exponent = np.maximum((np.arange(slots) + chunk_lowest) & 2047, 1)
            parts = [
                np.ldexp(parts[0], 1075 - _LOW_BITS - exponent),
                np.ldexp(parts[1], 1075 - exponent),
            ]
        self._lowest, self._sums = _widen(self._lowest, self._sums, chunk_lowest, slots)
        offset = chunk_lowest - self._lowest
        for total, part in zip(self._sums, parts, strict=True):
            total[:, offset : offset + slots] += part.astype(np.int64)

    def totals(self) -> list[int]:
        """Per group, the exact sum of the values added, times ``2**SCALE_BITS``."""
        return _add(self._flushed, self._integers())

    def _integers(self) -> list[int]:
        """The per-group sums, in ``2**-SCALE_BITS`` units, of the unit counts per key."""
        high_sums, low_sums = self._sums
        # only the keys some value had: probabilities span hundreds of exponents, few used
        used = np.flatnonzero((high_sums != 0).any(axis=0) | (low_sums != 0).any(axis=0))
        if used.size == 0:
            return [0] * self.n_groups
        exponent = np.maximum((self._lowest + used) & 2047, 1)  # the sign is in the counts
        # a key's unit 2**(e - 1075) (the low parts'), times 2**SCALE_BITS: a shift
        scales = np.empty(used.size, dtype=object)
        scales[:] = [1 << (int(e) - 1075 + SCALE_BITS) for e in exponent]
        high, low = high_sums[:, used].astype(object), low_sums[:, used].astype(object)
        return [int(total) for total in ((high * (1 << _LOW_BITS) + low) * scales).sum(axis=1)]


def _add(a: list[int], b: list[int]) -> list[int]:
    return [x + y for x, y in zip(a, b, strict=True)]


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
