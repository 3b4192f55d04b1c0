"""The evaluation as a mergeable state: what a shard of predictions contributes, one
merge, and the scores finished from the merged state.

Everything in a state is an integer: confusion counts; with probabilities, the exact sum
of the log losses (``metrics.exact``), the top-k hits, the rows whose predicted class is
not the most probable, the per-pair wins of the probability-based pairwise accuracy and,
optionally, per-class score histograms for a binned per-pair AUC. Merging adds them, so
the merged state, and every score finished from it, is the same however the rows are
sharded and in whatever order the shards come. The in-memory path finishes a state of
all its rows (one shard), so both paths agree to the bit, except the AUC: the in-memory
path computes it exactly from the scores themselves (``classification.pairwise_auc``).

The bootstrap intervals need no state of their own: they are drawn from the merged
confusion counts (``metrics.intervals``). Other sums, such as calibration's per-bin
confidences, fit the same scheme: integer counts, and ``exact.exact_sums`` per bin.
"""

import functools
import operator
from dataclasses import dataclass, replace

import numpy as np

from digitwise.metrics import calibration as calibrated
from digitwise.metrics import classification as metrics
from digitwise.metrics.exact import exact_mean

# (mantissa bits kept, octaves resolved), finest first: the first whose K*K*B histogram
# cells fit STATE_CELLS is used (``score_bins``); octaves go last, they matter most
_BIN_LADDER = (*((bits, 40) for bits in range(6, -1, -1)), (0, 20), (0, 10), (0, 5), (0, 2))
STATE_CELLS = 2**28  # most cells of a state's histograms, nonzero or not (stored sparsely)
_BLOCK_CELLS = 2**21  # dense cells counted at a time: a block of score columns
_ROW_CELLS = 2**17  # probabilities binned at a time: small temporaries, in cache


@dataclass(frozen=True)
class ScoreBins:
    """Bins of a probability p, monotone in p: for p < 1/2, the exponent and the top
    ``mantissa_bits`` of p; for p >= 1/2, the same of 1 - p (exact there, by Sterbenz's
    lemma), mirrored. Relative resolution 2**-mantissa_bits of p near 0 and of 1 - p near
    1, for ``octaves`` octaves below 1/2; closer to 0 (or 1) is one bin each."""

    mantissa_bits: int
    octaves: int

    @property
    def half(self) -> int:  # bins of p < 1/2
        return self.octaves * 2**self.mantissa_bits + 1

    @property
    def size(self) -> int:
        return 2 * self.half + 1

    def of(self, p: np.ndarray) -> np.ndarray:
        """(n,) int64 bin of each p in [0, 1] (values a rounding error outside are clipped)."""
        p = np.clip(p, 0.0, 1.0)
        low = p < 0.5
        distance = np.where(low, p, 1.0 - p)  # in [0, 1/2]; 1 - p exact for p >= 1/2
        # the bits of a non-negative float64 grow with its value
        shift = np.int64(52 - self.mantissa_bits)
        level = (distance.view(np.int64) >> shift) - ((1022 - self.octaves) << self.mantissa_bits)
        level = np.maximum(level, -1) + 1  # below 2**-(octaves + 1): 0; 1/2: half
        return np.where(low, level, 2 * self.half - level)


def score_bins(n_classes: int) -> ScoreBins:
    """The finest bins whose K*K*B histogram cells fit ``STATE_CELLS``: at 10 and 100
    classes 5,123 bins (64 per octave, 40 octaves), at 1,000 classes 163 (2 per octave,
    40 octaves), at 2,000 classes 43 (1 per octave, 20 octaves); ValueError above
    ``MAX_CLASSES``."""
    for mantissa_bits, octaves in _BIN_LADDER:
        bins = ScoreBins(mantissa_bits, octaves)
        if n_classes * n_classes * bins.size <= STATE_CELLS:
            return bins
    raise ValueError(f"score histograms of at most {MAX_CLASSES:,} classes, not {n_classes:,}")


MAX_CLASSES = int((STATE_CELLS // ScoreBins(*_BIN_LADDER[-1]).size) ** 0.5)


@dataclass(frozen=True, eq=False)
class ScoreHistograms:
    """(K, K, B) counts, [c, t, b] the class-t rows whose p_c falls in bin b, stored
    sparsely: the nonzero cells' keys (c * K + t) * B + b, sorted, and their counts. At
    most one cell per probability counted, and at most K*K*B (``STATE_CELLS``)."""

    n_classes: int
    bins: ScoreBins
    keys: np.ndarray  # (m,) int64, increasing
    counts: np.ndarray  # (m,) int64, positive

    def dense(self) -> np.ndarray:
        """(K, K, B) int64, [t, c, b] (for small K)."""
        k, size = self.n_classes, self.bins.size
        cells = np.zeros(k * k * size, dtype=np.int64)
        cells[self.keys] = self.counts
        return cells.reshape(k, k, size).transpose(1, 0, 2)


def merge_histograms(parts: list[ScoreHistograms]) -> ScoreHistograms:
    """The sum of ``parts`` (histograms of the same bins), exact in int64."""
    keys = np.concatenate([part.keys for part in parts])
    counts = np.concatenate([part.counts for part in parts])
    order = np.argsort(keys, kind="stable")
    keys, counts = keys[order], counts[order]
    starts = np.flatnonzero(np.concatenate([[True], keys[1:] != keys[:-1]])) if keys.size else keys
    summed = np.add.reduceat(counts, starts) if keys.size else counts
    return replace(parts[0], keys=keys[starts], counts=summed)


@dataclass(frozen=True)
class EvaluationState:
    counts: np.ndarray  # (K, K) int64 confusion counts
    with_proba: bool
    top_k: int
    log_loss_sum: int = 0  # exact sum of -log p(true), in exact.exact_sums' units
    top_k_hits: int = 0
    not_argmax: int = 0
    wins: np.ndarray | None = None  # (K, K) int64, classification.pairwise_wins
    histograms: ScoreHistograms | None = None  # the per-class score histograms, or None
    bins: ScoreBins | None = None
    # calibration's per-bin counts and exact sums (``metrics.calibration``), or None
    calibration: calibrated.CalibrationSums | None = None


def state_of(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    y_proba: np.ndarray | None,
    *,
    n_classes: int,
    top_k: int,
    bins: ScoreBins | None = None,
    calibration_bins: int | None = None,
    calibration: calibrated.CalibrationSums | None = None,
) -> EvaluationState:
    """The state of one shard's rows; with ``bins``, the score histograms too; with
    ``calibration_bins``, calibration's sums over that many equal-width bins, or the
    ``calibration`` sums of these rows, computed already."""
    counts = metrics.confusion_matrix(y_true, y_pred, n_classes=n_classes)
    if calibration is not None and (
        calibration.n_bins != calibration_bins or int(calibration.counts.sum()) != len(y_true)
    ):
        raise ValueError("the calibration sums given are not of these rows and bins")
    if y_proba is None:
        return EvaluationState(counts=counts, with_proba=False, top_k=top_k)
    empty = len(y_true) == 0
    return EvaluationState(
        counts=counts,
        with_proba=True,
        top_k=top_k,
        log_loss_sum=0 if empty else metrics.log_loss_sum(y_true, y_proba),
        top_k_hits=0 if empty else metrics.top_k_hits(y_true, y_proba, k=top_k),
        not_argmax=0 if empty else metrics.not_argmax_count(y_pred, y_proba),
        wins=metrics.pairwise_wins(y_true, y_proba),
        histograms=None if bins is None else score_histograms(y_true, y_proba, bins),
        bins=bins,
        calibration=calibration
        if calibration is not None or calibration_bins is None
        else calibrated.calibration_sums(y_true, y_proba, n_bins=calibration_bins),
    )


def score_histograms(y_true: np.ndarray, y_proba: np.ndarray, bins: ScoreBins) -> ScoreHistograms:
    """[c, t, b]: the class-t rows whose p_c falls in bin b, counted a block of columns
    at a time (``_BLOCK_CELLS``), the nonzero cells kept: in the block's dense cells, or,
    with fewer probabilities than a quarter of them, by sorting their cells' keys."""
    n_classes, size = y_proba.shape[1], bins.size
    per_column = n_classes * size  # cells of one score column
    width = max(1, _BLOCK_CELLS // per_column)  # columns per block
    step = max(1, _ROW_CELLS // min(width, n_classes))  # rows per batch
    true_all = np.asarray(y_true, dtype=np.int64)
    keys, counts = [], []
    for first in range(0, n_classes, width):
        columns = min(width, n_classes - first)
        if len(true_all) * columns * 4 < columns * per_column:  # few rows: sort, no cells
            proba = y_proba[:, first : first + columns]
            key = (np.arange(columns) * per_column)[None, :] + (true_all * size)[:, None]
            block, block_counts = np.unique(key + bins.of(proba), return_counts=True)
            keys.append(block + first * per_column)
            counts.append(block_counts.astype(np.int64))
            continue
        total = np.zeros(columns * per_column, dtype=np.int64)  # [t, c - first, b]
        offsets = (np.arange(columns, dtype=np.int64) * size)[None, :]
        for start in range(0, len(true_all), step):
            proba = y_proba[start : start + step, first : first + columns]
            true = true_all[start : start + step, None] * (columns * size)
            key = true + offsets + bins.of(proba)  # a row's cells close together: faster
            total += np.bincount(key.ravel(), minlength=total.size)
        total = total.reshape(n_classes, columns, size).transpose(1, 0, 2).ravel()
        nonzero = np.flatnonzero(total)
        keys.append(nonzero + first * per_column)
        counts.append(total[nonzero])
    return ScoreHistograms(n_classes, bins, np.concatenate(keys), np.concatenate(counts))


def merge(states: list[EvaluationState]) -> EvaluationState:
    """One state of all the rows; the same in any order of ``states`` (integer sums)."""
    first = states[0]
    shapes = {
        (s.with_proba, s.top_k, s.bins, s.counts.shape, s.calibration is None) for s in states
    }
    if len(shapes) != 1:
        raise ValueError(f"states of different evaluations cannot be merged: {shapes}")
    merged = replace(first, counts=sum(s.counts for s in states))
    if not first.with_proba:
        return merged
    return replace(
        merged,
        log_loss_sum=sum(s.log_loss_sum for s in states),
        top_k_hits=sum(s.top_k_hits for s in states),
        not_argmax=sum(s.not_argmax for s in states),
        wins=sum(s.wins for s in states),
        histograms=None
        if first.histograms is None
        else merge_histograms([s.histograms for s in states]),
        calibration=None
        if first.calibration is None
        else functools.reduce(operator.add, (s.calibration for s in states)),
    )


@dataclass(frozen=True)
class Scores:
    """What a state finishes to; the probability-based entries are None without them."""

    counts: np.ndarray
    log_loss: float | None = None
    top_k_accuracy: float | None = None
    predicted_not_argmax: float | None = None
    pairwise_accuracy: np.ndarray | None = None
    auc: np.ndarray | None = None  # binned, from the histograms; None without them
    auc_error_bound: np.ndarray | None = None  # |binned - exact| <= this, per pair
    calibration: calibrated.Calibration | None = None


def finish(state: EvaluationState) -> Scores:
    counts = state.counts
    if not state.with_proba:
        return Scores(counts=counts)
    n = int(counts.sum())
    auc = bound = None
    if state.histograms is not None:
        auc, bound = binned_auc(state.histograms)
    return Scores(
        counts=counts,
        log_loss=exact_mean(state.log_loss_sum, n),
        top_k_accuracy=state.top_k_hits / n,
        predicted_not_argmax=state.not_argmax / n,
        pairwise_accuracy=metrics.pairwise_accuracy_of_wins(state.wins, counts),
        auc=auc,
        auc_error_bound=bound,
        calibration=None if state.calibration is None else calibrated.finish(state.calibration),
    )


# added to the bound: the binned and the exact AUC are each rounded (a few ulps of 1)
_ROUNDING = 8 * float(np.finfo(np.float64).eps)


def binned_auc(histograms: ScoreHistograms) -> tuple[np.ndarray, np.ndarray]:
    """Hand & Till's A(a, b) from the score histograms, and a bound on its error.

    A(a|b), the chance a class-a row gets a higher p_a than a class-b row (ties one
    half), is counted with every pair of rows whose p_a fall in one bin taken as a tie.
    The bins are monotone in p, so a pair in different bins is ordered as its scores
    are; a pair in one bin counts 1/2 where the exact value counts 0, 1/2 or 1. So
    |binned A(a|b) - exact A(a|b)| <= T(a|b) / 2, T(a|b) the share of (class-a, class-b)
    pairs in one bin, sum_b n_a(b) n_b(b) / (n_a n_b); for A(a, b), the mean of the two
    directions, the bound is the mean of the two bounds, plus a few ulps for rounding.
    Both (K, K), NaN where A is. Pair counts in float64: exact below 2**53 pairs per
    class pair, correctly rounded above, never wrapping.
    """
    n_classes, size = histograms.n_classes, histograms.bins.size
    column, rest = np.divmod(histograms.keys, n_classes * size)
    true, level = np.divmod(rest, size)
    counts = histograms.counts.astype(np.float64)
    own = column == true
    positives = np.zeros((n_classes, size))  # [a, b]: class-a rows with p_a in bin b
    positives[column[own], level[own]] = counts[own]
    above = np.cumsum(positives[:, ::-1], axis=1)[:, ::-1] - positives  # in higher bins
    pair = column * n_classes + true
    same = positives[column, level]
    tied = np.bincount(pair, weights=counts * same, minlength=n_classes**2)
    wins = np.bincount(
        pair, weights=counts * (2 * above[column, level] + same), minlength=n_classes**2
    )
    sizes = positives.sum(axis=1)
    pairs = sizes[:, None] * sizes[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        one_sided = np.where(pairs > 0, wins.reshape(pairs.shape) / (2 * pairs), np.nan)
        bound = np.where(pairs > 0, tied.reshape(pairs.shape) / (2 * pairs), np.nan)
    np.fill_diagonal(one_sided, np.nan)
    np.fill_diagonal(bound, np.nan)
    return (one_sided + one_sided.T) / 2, (bound + bound.T) / 2 + _ROUNDING
