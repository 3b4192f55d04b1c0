"""Is a new model's accuracy really different from a baseline's on the same samples?

Two paired views of the same held-out set, numpy and ``math`` only:

- ``mcnemar_exact``: McNemar's exact test. Only the discordant samples (right in one
  model, wrong in the other) carry information about which model is better; under "no
  difference" each of them is equally likely to favour either model.
- ``paired_bootstrap_difference``: a percentile interval for accuracy(new) -
  accuracy(baseline), resampling samples, never the two models separately, so the
  correlation between the two models' errors is kept. A resample's difference depends
  only on its 2 x 2 table of (new right, base right) counts, and a row resample's table
  is Multinomial(n, table / n) (see ``metrics.intervals``): the bootstrap draws that
  multinomial over the table's nonzero cells, O(n_resamples) whatever n.
"""

import math
from dataclasses import dataclass

import numpy as np

from digitwise.metrics.intervals import (
    check_bootstrap,
    multinomial_resamples,
    percentile_interval,
)

# Summing the binomial tail in blocks bounds memory for any count; the loop stops once
# a block's last term no longer changes the sum in double precision.
_TAIL_BLOCK = 1 << 16


@dataclass(frozen=True)
class McNemar:
    n_new_only: int  # samples the new model gets right and the baseline wrong
    n_base_only: int  # samples the baseline gets right and the new model wrong
    p_value: float  # two-sided, exact


def mcnemar_exact(new_correct: np.ndarray, base_correct: np.ndarray) -> McNemar:
    """McNemar's exact test on paired correctness flags, both of shape (n_samples,) bool.

    With b = n_new_only and c = n_base_only, under the null hypothesis
    X = b ~ Binomial(b + c, 1/2), and the two-sided p-value is
    min(1, 2 * P[X <= min(b, c)]); it is 1 when there are no discordant samples.
    """
    new_correct = _flags(new_correct, "new_correct")
    base_correct = _flags(base_correct, "base_correct")
    if new_correct.shape != base_correct.shape:
        raise ValueError(
            f"new_correct and base_correct must have the same shape; "
            f"got {new_correct.shape} and {base_correct.shape}"
        )
    b = int(np.count_nonzero(new_correct & ~base_correct))
    c = int(np.count_nonzero(base_correct & ~new_correct))
    return McNemar(n_new_only=b, n_base_only=c, p_value=binomial_two_sided_p(min(b, c), b + c))


def binomial_two_sided_p(k: int, n: int) -> float:
    """min(1, 2 * P[X <= k]) for X ~ Binomial(n, 1/2), 0 <= k <= n.

    Exact up to rounding (relative error about 1e-8 at n = 10^6, from ``lgamma`` of
    numbers near 10^7) and free of overflow for any n: the tail is the largest term,
    computed in logs, times a sum of ratios to it, each in (0, 1].
    """
    if not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n; got k={k}, n={n}")
    if 2 * k >= n:  # P[X <= k] >= 1/2 by symmetry: the p-value is capped at 1
        return 1.0
    # log of the last term, P[X = k] = C(n, k) / 2^n
    log_last = math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1) - n * math.log(2)
    # P[X = i - 1] / P[X = i] = i / (n - i + 1) < 1 for i <= k < n / 2, so the terms,
    # taken from i = k downwards and scaled by P[X = k], fall from 1 and never overflow.
    total, scale = 1.0, 1.0
    for stop in range(k, 0, -_TAIL_BLOCK):
        i = np.arange(stop, max(stop - _TAIL_BLOCK, 0), -1, dtype=np.float64)
        terms = scale * np.cumprod(i / (n - i + 1))
        total += float(terms.sum())
        scale = float(terms[-1])
        if scale <= total * 1e-17:  # the rest of the tail is below the sum's rounding
            break
    return min(1.0, 2.0 * math.exp(log_last) * total)


def format_p_value(p: float) -> str:
    """Four decimals, or two significant digits below 0.0001, where 0.0000 would hide
    how small a p-value is."""
    return f"{p:.4f}" if p >= 1e-4 or p == 0 else f"{p:.1e}"


def paired_bootstrap_difference(
    y_true: np.ndarray,
    pred_new: np.ndarray,
    pred_base: np.ndarray,
    *,
    n_resamples: int,
    seed: int,
    level: float = 0.95,
) -> tuple[float, float, float]:
    """accuracy(new) - accuracy(base) and its percentile bootstrap interval.

    All three arrays have shape (n_samples,) of class indices. Returns (difference,
    low, high): difference = (n_new_only - n_base_only) / n_samples, exactly rounded;
    low and high are the (1 - level) / 2 and (1 + level) / 2 quantiles (numpy's default
    linear interpolation) of n_resamples resampled differences.

    A resample scores both models on the same n_samples rows drawn with replacement;
    it is drawn as the multinomial of the 2 x 2 table of (new right, base right) over
    the table's nonzero cells (``intervals.multinomial_resamples``, seeded with
    ``np.random.default_rng(seed)``), which has the distribution of row resampling. The
    draws depend only on (seed, table, n_resamples); time and memory are
    O(n_resamples), independent of n_samples.
    """
    y_true, pred_new, pred_base = (np.asarray(a) for a in (y_true, pred_new, pred_base))
    if not (y_true.ndim == 1 and y_true.shape == pred_new.shape == pred_base.shape):
        raise ValueError(
            "y_true, pred_new and pred_base must be 1-D of the same length; got shapes "
            f"{y_true.shape}, {pred_new.shape}, {pred_base.shape}"
        )
    n = y_true.size
    check_bootstrap(n, n_resamples, level)
    new_correct, base_correct = pred_new == y_true, pred_base == y_true
    # From integer counts, so the difference is the exactly rounded (b - c) / n.
    difference = (int(np.count_nonzero(new_correct)) - int(np.count_nonzero(base_correct))) / n
    differences = resampled_differences(
        new_correct, base_correct, n_resamples=n_resamples, seed=seed
    )
    low, high = percentile_interval(differences, level)
    return difference, low, high


def resampled_differences(
    new_correct: np.ndarray, base_correct: np.ndarray, *, n_resamples: int, seed: int
) -> np.ndarray:
    """accuracy(new) - accuracy(base) of n_resamples paired bootstrap resamples.

    new_correct and base_correct: correctness flags of shape (n_samples,), n_samples
    >= 1. Returns shape (n_resamples,) float64, each value a multiple of 1 / n_samples.
    """
    n = new_correct.size
    # cells 0..3 of the 2 x 2 table: neither right, base only, new only, both right
    table = np.bincount(2 * new_correct.astype(np.int64) + base_correct, minlength=4)
    gain = np.array([0, -1, 1, 0], dtype=np.int64)  # new right minus base right, per cell
    nonzero = np.flatnonzero(table)
    draws = multinomial_resamples(table[nonzero], n_resamples=n_resamples, seed=seed)
    return np.concatenate([block @ gain[nonzero] for block in draws]) / n


def _flags(values: np.ndarray, name: str) -> np.ndarray:
    values = np.asarray(values)
    if values.ndim != 1 or values.dtype != np.bool_:
        raise ValueError(
            f"{name} must be a 1-D bool array; got {values.dtype} of shape {values.shape}"
        )
    return values
