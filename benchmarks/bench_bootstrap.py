"""Benchmark the bootstrap intervals: resampling confusion-matrix cells against rows.

New is what the evaluate and compare stages run: ``bootstrap_intervals`` (accuracy,
balanced accuracy and macro F1), which draws each resample's confusion matrix as a
multinomial over the nonzero cells, and ``paired_bootstrap_difference``, which draws
the 2 x 2 table of (new right, base right) the same way.

Old is the row bootstrap they replace, reimplemented here: per chunk of resamples,
``rng.integers(0, n, (chunk, n))`` row indices, one ``np.bincount`` of the gathered
cells offset by r * K * K, and the scores of the (chunk, K, K) stack; for the paired
difference, a loop of one ``rng.integers(0, n, n)`` gather per resample. The old code
sized a chunk by rows only (2^24 / n resamples), which at K = 1,000 and n = 10^4
means a (1000, 1000, 1000) int64 stack, 8 GB; the baseline here also caps the stack
at 2^24 cells, so it runs at all.

For each case (n rows, K classes; synthetic labels, 80% right, errors uniform), the
two are timed alternately, old then new, ``--repeats`` times (``time.perf_counter``;
the median is reported), then each once more under ``tracemalloc`` for the peak of
the memory it allocates (numpy reports its buffers to tracemalloc). Both sides' 95%
intervals are printed: they estimate the same interval, so they differ only by
Monte Carlo error (about 0.1 of the width at 1,000 resamples).

Run from the project root (about 4 minutes, nearly all of it the old side at 10^6 rows)::

    python benchmarks/bench_bootstrap.py
    python benchmarks/bench_bootstrap.py --repeats 3 --resamples 1000
"""

import argparse
import gc
import os
import resource
import statistics
import time
import tracemalloc
from collections.abc import Callable
from functools import partial
from typing import Any

import numpy as np

from digitwise.metrics import classification as metrics
from digitwise.metrics import intervals as bootstrap
from digitwise.metrics.significance import paired_bootstrap_difference

CASES = ((10**5, 10), (10**6, 10), (10**4, 1_000))  # (rows, classes)
OLD_CELLS_PER_CHUNK = 2**24  # the old code's budget of gathered rows per chunk


def synthetic(n: int, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """y_true, y_pred (80% right) and a baseline's predictions (75% right), int64."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, n_classes, n)
    y_pred = np.where(rng.random(n) < 0.8, y_true, rng.integers(0, n_classes, n))
    y_base = np.where(rng.random(n) < 0.75, y_true, rng.integers(0, n_classes, n))
    return y_true, y_pred, y_base


def old_intervals(
    y_true: np.ndarray, y_pred: np.ndarray, *, n_classes: int, n_resamples: int, seed: int
) -> dict[str, tuple[float, float]]:
    """The row bootstrap: a (chunk, n) block of row indices, one bincount per chunk."""
    rng = np.random.default_rng(seed)
    n = len(y_true)
    cells = y_true.astype(np.int64) * n_classes + y_pred
    size = n_classes * n_classes
    chunk = max(1, min(n_resamples, OLD_CELLS_PER_CHUNK // n, OLD_CELLS_PER_CHUNK // size))
    values: dict[str, list[np.ndarray]] = {name: [] for name in bootstrap.INTERVAL_METRICS}
    for start in range(0, n_resamples, chunk):
        count = min(chunk, n_resamples - start)
        rows = rng.integers(0, n, size=(count, n))
        offsets = np.arange(count, dtype=np.int64)[:, None] * size
        flat = np.bincount((cells[rows] + offsets).ravel(), minlength=count * size)
        stack = flat.reshape(count, n_classes, n_classes)
        scores = bootstrap.batch_scores(
            np.diagonal(stack, axis1=1, axis2=2), stack.sum(axis=2), stack.sum(axis=1)
        )
        for name in values:
            values[name].append(scores[name])
    return {
        name: bootstrap.percentile_interval(np.concatenate(chunks), 0.95)
        for name, chunks in values.items()
    }


def old_paired(
    y_true: np.ndarray, pred_new: np.ndarray, pred_base: np.ndarray, *, n_resamples: int, seed: int
) -> tuple[float, float, float]:
    """The row paired bootstrap: one gather of int8 gains per resample."""
    gain = (pred_new == y_true).astype(np.int8) - (pred_base == y_true).astype(np.int8)
    n = len(gain)
    rng = np.random.default_rng(seed)
    sums = np.empty(n_resamples, dtype=np.int64)
    for r in range(n_resamples):
        sums[r] = gain[rng.integers(0, n, size=n)].sum(dtype=np.int64)
    low, high = bootstrap.percentile_interval(sums / n, 0.95)
    return int(gain.sum(dtype=np.int64)) / n, low, high


def peak_bytes(run: Callable[[], Any]) -> int:
    gc.collect()
    tracemalloc.start()
    try:
        run()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def compare(
    old: Callable[[], Any], new: Callable[[], Any], repeats: int
) -> tuple[dict[str, float], Any, Any]:
    """Alternate old and new; the medians, peaks and the last results of each."""
    seconds: dict[str, list[float]] = {"old": [], "new": []}
    results: dict[str, Any] = {}
    for _ in range(repeats):
        for side, run in (("old", old), ("new", new)):
            gc.collect()
            start = time.perf_counter()
            results[side] = run()
            seconds[side].append(time.perf_counter() - start)
    row = {f"{side} [s]": statistics.median(times) for side, times in seconds.items()}
    row["old peak"] = peak_bytes(old)
    row["new peak"] = peak_bytes(new)
    return row, results["old"], results["new"]


def fmt_interval(interval: tuple[float, float]) -> str:
    return f"[{interval[0]:.4f}, {interval[1]:.4f}]"


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=5, help="median of this many, each side")
    parser.add_argument("--resamples", type=int, default=1000, help="evaluate.bootstrap_resamples")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(
        f"numpy {np.__version__}; {args.resamples} resamples; median of {args.repeats}, "
        f"old and new alternating; {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.2f} (other work skews the timings)"
    )
    header = (
        f"{'what':<22} {'rows':>9} {'K':>5} {'cells':>6} {'old [s]':>9} {'new [s]':>9} "
        f"{'old/new':>8} {'old peak':>10} {'new peak':>10}"
    )
    print(header)
    print("-" * len(header))
    notes = []
    for n, n_classes in CASES:
        y_true, y_pred, y_base = synthetic(n, n_classes, args.seed)
        n_cells = np.count_nonzero(metrics.confusion_matrix(y_true, y_pred, n_classes=n_classes))
        options = {"n_resamples": args.resamples, "seed": args.seed}
        intervals = compare(
            partial(old_intervals, y_true, y_pred, n_classes=n_classes, **options),
            partial(bootstrap.bootstrap_intervals, y_true, y_pred, n_classes=n_classes, **options),
            args.repeats,
        )
        paired = compare(
            partial(old_paired, y_true, y_pred, y_base, **options),
            partial(paired_bootstrap_difference, y_true, y_pred, y_base, **options),
            args.repeats,
        )
        for what, (row, _, _) in (
            ("intervals (3 metrics)", intervals),
            ("paired diff", paired),
        ):
            ratio = row["old [s]"] / row["new [s]"]
            cells = n_cells if what.startswith("intervals") else 4
            print(
                f"{what:<22} {n:>9,} {n_classes:>5} {cells:>6} {row['old [s]']:9.4f} "
                f"{row['new [s]']:9.4f} {ratio:7.0f}x {row['old peak'] / 1e6:7.1f} MB "
                f"{row['new peak'] / 1e6:7.1f} MB"
            )
        _, old, new = intervals
        for name in bootstrap.INTERVAL_METRICS:
            notes.append(
                f"{f'n={n:,} K={n_classes}':<18} {name:<17} old {fmt_interval(old[name])}  "
                f"new {fmt_interval(new[name])}"
            )
        _, old, new = paired
        notes.append(
            f"{f'n={n:,} K={n_classes}':<18} {'paired difference':<17} "
            f"old {fmt_interval(old[1:])}  new {fmt_interval(new[1:])}  (observed {new[0]:+.4f})"
        )
    print("-" * len(header))
    print("peak: tracemalloc's peak of one untimed run of each side")
    max_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1e3
    print(f"process max RSS over the whole run (both sides): {max_rss:,.0f} MB")
    print("\n95% intervals, the same seed on both sides (Monte Carlo error apart, equal):")
    for note in notes:
        print(f"  {note}")


if __name__ == "__main__":
    main()
