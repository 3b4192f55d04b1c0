"""Seeded bootstrap confidence intervals for the headline label metrics.

Why resampling confusion-matrix cells equals resampling rows. Accuracy, balanced
accuracy and macro F1 depend on the samples only through the confusion matrix. A row
bootstrap draws n rows independently and uniformly with replacement; row i falls in
cell (y_true[i], y_pred[i]), so each draw falls in cell c with probability
counts[c] / n, independently of the other draws. The resample's confusion matrix is
therefore Multinomial(n, counts / n) over the cells: the same distribution as row
resampling, exactly, not an approximation. Cells with no samples have probability 0
and stay empty, so only the n_cells nonzero cells are drawn: O(n_resamples x n_cells)
work and memory, whatever n.

Per resample the metrics need per-class totals only: true positives (the diagonal
cells), support (row sums) and predicted counts (column sums), each of shape
(chunk, n_present) over the classes present in y_true or y_pred, summed from the
(chunk, n_cells) draws by class; no K x K matrix is formed per resample.

Determinism. ``np.random.default_rng(seed).multinomial`` draws each resample from the
generator's stream in turn, so consecutive chunks give the same draws as one call: the
result depends on (seed, cell counts in row-major order, n_resamples), never on the
chunk size. The interval is the percentile interval of the resampled values.
"""

from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from digitwise.metrics import classification as metrics

INTERVAL_METRICS = ("accuracy", "balanced_accuracy", "f1_macro")
_DRAWS_PER_CHUNK = 2**20  # cell counts of a chunk of resamples held at once: 8 MiB of int64


@dataclass(frozen=True)
class Cells:
    """The nonzero cells of a confusion matrix, in row-major order, each (n_cells,) int64."""

    true: np.ndarray  # row: the true class
    pred: np.ndarray  # column: the predicted class
    count: np.ndarray  # samples in the cell, > 0

    @classmethod
    def of(cls, counts: np.ndarray) -> "Cells":
        """The nonzero cells of counts, shape (n_classes, n_classes)."""
        true, pred = np.nonzero(counts)
        return cls(true=true, pred=pred, count=counts[true, pred].astype(np.int64))


def multinomial_resamples(
    count: np.ndarray, *, n_resamples: int, seed: int
) -> Iterator[np.ndarray]:
    """Bootstrap counts of n = count.sum() samples over categories of (n_cells,) counts > 0.

    Yields blocks of shape (chunk, n_cells) int64 whose rows, n_resamples in all, are
    independent Multinomial(n, count / n) draws, from ``np.random.default_rng(seed)``.

    pvals = count / n in float64 is each probability rounded once (relative error
    <= 2^-53); numpy only refuses pvals whose first n_cells - 1 sum (Kahan-summed) to
    more than 1 + 1e-12, and these sum to at most 1 + a few 1e-16, so no rounding can
    raise. The last category takes whatever the others leave, so each row sums to n.
    """
    count = np.asarray(count, dtype=np.int64)
    n = int(count.sum())
    pvals = count / n
    rng = np.random.default_rng(seed)
    chunk = max(1, _DRAWS_PER_CHUNK // count.size)
    for start in range(0, n_resamples, chunk):
        yield rng.multinomial(n, pvals, size=min(chunk, n_resamples - start))


def batch_scores(
    true_positives: np.ndarray, support: np.ndarray, predicted: np.ndarray
) -> dict[str, np.ndarray]:
    """Accuracy, balanced accuracy and macro F1, each (m,), from per-class totals (m, K).

    The same conventions as ``metrics.summary_scores``: balanced accuracy averages
    recall over the classes present in y_true (support > 0); macro F1 averages over the
    classes present in y_true or y_pred, with F1 = 0 where it is 0/0.
    """
    true_positives = true_positives.astype(np.float64)
    in_true = support > 0
    in_either = (support + predicted) > 0
    recall = np.divide(true_positives, support, out=np.zeros_like(true_positives), where=in_true)
    f1 = np.divide(
        2 * true_positives,
        support + predicted,
        out=np.zeros_like(true_positives),
        where=in_either,
    )
    return {
        "accuracy": true_positives.sum(axis=1) / support.sum(axis=1),
        "balanced_accuracy": recall.sum(axis=1) / in_true.sum(axis=1),
        "f1_macro": f1.sum(axis=1) / in_either.sum(axis=1),
    }


def cell_scores(cells: Cells, draws: np.ndarray) -> dict[str, np.ndarray]:
    """``batch_scores`` of resampled counts of the cells, draws (m, n_cells) -> (m,) each."""
    # only classes in some cell can be present in a resample: index those alone
    classes = np.union1d(cells.true, cells.pred)
    row = np.searchsorted(classes, cells.true)
    column = np.searchsorted(classes, cells.pred)
    on_diagonal = row == column
    true_positives = np.zeros((len(draws), classes.size), dtype=np.int64)
    true_positives[:, row[on_diagonal]] = draws[:, on_diagonal]  # one diagonal cell per class
    support = _sums_by_class(draws, row, classes.size)
    predicted = _sums_by_class(draws, column, classes.size)
    return batch_scores(true_positives, support, predicted)


def _sums_by_class(draws: np.ndarray, cell_class: np.ndarray, n_present: int) -> np.ndarray:
    """Per resample, the sum of the cells of each class: (m, n_cells) -> (m, n_present)."""
    order = np.argsort(cell_class, kind="stable")
    grouped = cell_class[order]
    starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
    sums = np.zeros((len(draws), n_present), dtype=np.int64)
    sums[:, grouped[starts]] = np.add.reduceat(draws[:, order], starts, axis=1)
    return sums


def bootstrap_scores(counts: np.ndarray, *, n_resamples: int, seed: int) -> dict[str, np.ndarray]:
    """``INTERVAL_METRICS`` of n_resamples bootstrap resamples, each of shape (n_resamples,).

    counts: the confusion matrix of the samples, shape (n_classes, n_classes).
    """
    cells = Cells.of(counts)
    blocks = [
        cell_scores(cells, draws)
        for draws in multinomial_resamples(cells.count, n_resamples=n_resamples, seed=seed)
    ]
    return {name: np.concatenate([block[name] for block in blocks]) for name in INTERVAL_METRICS}


def percentile_interval(values: np.ndarray, level: float) -> tuple[float, float]:
    """The (1 - level) / 2 and (1 + level) / 2 quantiles (numpy's linear interpolation)."""
    tail = (1 - level) / 2
    low, high = np.quantile(values, [tail, 1 - tail])
    return float(low), float(high)


def check_bootstrap(n_samples: int, n_resamples: int, level: float) -> None:
    """Refuse an empty sample, fewer than one resample, or a level outside (0, 1)."""
    if n_samples == 0:
        raise ValueError("need at least one sample")
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1; got {n_resamples}")
    if not 0 < level < 1:
        raise ValueError(f"level must be strictly between 0 and 1; got {level}")


def bootstrap_intervals(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    n_classes: int,
    n_resamples: int,
    seed: int,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals {metric: (low, high)} for ``INTERVAL_METRICS``.

    y_true and y_pred: class indices, shape (n_samples,). The resamples are drawn over
    the cells of their confusion matrix (see the module docstring).
    """
    counts = metrics.confusion_matrix(y_true, y_pred, n_classes=n_classes)
    return intervals_of_counts(counts, n_resamples=n_resamples, seed=seed, level=level)


def intervals_of_counts(
    counts: np.ndarray, *, n_resamples: int, seed: int, level: float = 0.95
) -> dict[str, tuple[float, float]]:
    """``bootstrap_intervals`` from the (K, K) confusion matrix of the labels."""
    check_bootstrap(int(counts.sum()), n_resamples, level)
    scores = bootstrap_scores(counts, n_resamples=n_resamples, seed=seed)
    return {name: percentile_interval(scores[name], level) for name in INTERVAL_METRICS}
