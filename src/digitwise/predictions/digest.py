"""The content digest of predictions, computable from shards: a hash per row, then
SHA-256 over the row hashes in the order of the sample ids.

A row's hash needs only the row, so the machines holding the shards compute them;
what comes back is 24 bytes a row (id and hash) to sort and hash, however the rows
are sharded and ordered. The row hash is two 64-bit lanes, each folding the row's
64-bit words (id, true and predicted class index, the probabilities' bits) through
MurmurHash3's finaliser, a bijection: a change to any one word of a row always changes
both lanes, and unrelated rows collide with chance about 2**-128. It is not a
cryptographic hash: the digest tells which predictions a result is of, as a check
against mistakes, and is no defence against rows crafted to collide.
"""

import hashlib
import json
from collections.abc import Sequence

import numpy as np

_SEEDS = (0x9E3779B97F4A7C15, 0xD1B54A32D192ED03)  # one per lane
_MULTIPLIERS = (np.uint64(0xFF51AFD7ED558CCD), np.uint64(0xC4CEB9FE1A85EC53))
_SHIFT = np.uint64(33)
_ROWS = 2**16  # rows hashed at a time: temporaries stay in cache


def _mix(h: np.ndarray) -> None:
    """MurmurHash3's 64-bit finaliser, in place (wrapping uint64 arithmetic)."""
    for multiplier in _MULTIPLIERS:
        h ^= h >> _SHIFT
        h *= multiplier
    h ^= h >> _SHIFT


def row_hashes(
    sample: np.ndarray, actual: np.ndarray, predicted: np.ndarray, proba: np.ndarray | None
) -> np.ndarray:
    """(n_rows, 2) uint64: each row's hash, in the rows' order."""
    n = len(sample)
    hashes = np.empty((n, 2), dtype=np.uint64)
    for start in range(0, n, _ROWS):
        rows = slice(start, start + _ROWS)
        words = [
            np.asarray(column[rows], "<i8").view("<u8") for column in (sample, actual, predicted)
        ]
        if proba is not None:
            block = np.ascontiguousarray(proba[rows], "<f8").view("<u8")
            words.extend(block[:, column] for column in range(block.shape[1]))
        for lane, seed in enumerate(_SEEDS):
            h = np.full(len(words[0]), seed, dtype=np.uint64)
            for word in words:
                h ^= word
                _mix(h)
            hashes[rows, lane] = h
    return hashes


def digest_of_rows(
    classes: Sequence[str], with_proba: bool, sample: np.ndarray, hashes: np.ndarray
) -> str:
    """SHA-256 of a header (the class list, the number of rows, whether there are
    probabilities; JSON and a newline) and the row hashes (little-endian) in id order."""
    digest = hashlib.sha256()
    header = {"classes": list(classes), "rows": len(sample), "probabilities": with_proba}
    digest.update(json.dumps(header, sort_keys=True).encode() + b"\n")
    # files are usually written in id order: then there is nothing to sort
    in_order = bool(np.all(sample[1:] > sample[:-1]))
    # np.take copies whole rows: a fancy index of a 2-D array is several times slower
    ordered = hashes if in_order else np.take(hashes, id_order(sample), axis=0)
    digest.update(np.ascontiguousarray(ordered, "<u8"))
    return digest.hexdigest()


def id_order(sample: np.ndarray) -> np.ndarray:
    """The rows in id order, equal ids in row order: ``np.argsort(sample, kind="stable")``
    of int64 ids (every reader gives int64; other integers are cast to it).

    When each id's offset from the smallest and the row number fit in 64 bits together,
    one sort of those packed numbers gives it, several times faster at 10^7 rows
    (``benchmarks/bench_digest.py``): numpy sorts plain numbers with a vectorised
    quicksort, while a stable argsort of 64-bit ids is a merge sort of indices. The
    packed numbers are distinct, so their sort need not be stable."""
    n = len(sample)
    if n < 2:
        return np.arange(n)
    ids = np.asarray(sample, np.int64)
    low = int(ids.min())
    row_bits = (n - 1).bit_length()
    if (int(ids.max()) - low).bit_length() + row_bits > 64:
        return np.argsort(ids, kind="stable")
    keys = (ids - low).astype(np.uint64)  # no overflow: the offsets fit in 64 - row_bits bits
    keys <<= np.uint64(row_bits)
    keys |= np.arange(n, dtype=np.uint64)
    keys.sort()
    keys &= np.uint64((1 << row_bits) - 1)
    return keys.view(np.int64)
