"""Seeded bootstrap confidence intervals for the headline label metrics.

Each resample draws n samples with replacement; its confusion matrix comes from
one ``np.bincount`` over all resamples of a chunk at once (resample r's cells are
offset by r * K * K), and the metrics are computed for every resample together.
The interval is the percentile interval of the resampled values.
"""

import numpy as np

INTERVAL_METRICS = ("accuracy", "balanced_accuracy", "f1_macro")
_CELLS_PER_CHUNK = 2**24  # resampled labels held at once: 128 MiB of int64 indices


def resampled_confusions(
    y_true: np.ndarray, y_pred: np.ndarray, *, n_classes: int, n_resamples: int, seed: int
):
    """Yield confusion matrices of bootstrap resamples, shape (chunk, n_classes, n_classes)."""
    rng = np.random.default_rng(seed)
    n = len(y_true)
    cells = y_true.astype(np.int64) * n_classes + y_pred
    size = n_classes * n_classes
    chunk = max(1, min(n_resamples, _CELLS_PER_CHUNK // max(n, 1)))
    for start in range(0, n_resamples, chunk):
        count = min(chunk, n_resamples - start)
        rows = rng.integers(0, n, size=(count, n))
        offsets = np.arange(count, dtype=np.int64)[:, None] * size
        flat = np.bincount((cells[rows] + offsets).ravel(), minlength=count * size)
        yield flat.reshape(count, n_classes, n_classes)


def batch_scores(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Accuracy, balanced accuracy and macro F1 of each matrix in a (m, K, K) stack.

    The same conventions as ``metrics.summary_scores``: balanced accuracy averages
    recall over the classes present in y_true; macro F1 averages over the classes
    present in y_true or y_pred, with F1 = 0 where it is 0/0.
    """
    true_positives = np.diagonal(counts, axis1=1, axis2=2).astype(np.float64)
    support = counts.sum(axis=2)
    predicted = counts.sum(axis=1)
    n = support.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        recall = np.where(support > 0, true_positives / support, np.nan)
        both = support + predicted
        f1 = np.where(both > 0, 2 * true_positives / both, np.nan)
    return {
        "accuracy": true_positives.sum(axis=1) / n,
        "balanced_accuracy": np.nanmean(recall, axis=1),
        "f1_macro": np.nanmean(f1, axis=1),
    }


def bootstrap_intervals(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    *,
    n_classes: int,
    n_resamples: int,
    seed: int,
    level: float = 0.95,
) -> dict[str, tuple[float, float]]:
    """Percentile bootstrap intervals {metric: (low, high)} for ``INTERVAL_METRICS``."""
    values: dict[str, list[np.ndarray]] = {name: [] for name in INTERVAL_METRICS}
    for counts in resampled_confusions(
        y_true, y_pred, n_classes=n_classes, n_resamples=n_resamples, seed=seed
    ):
        for name, scores in batch_scores(counts).items():
            values[name].append(scores)
    tail = (1 - level) / 2
    intervals = {}
    for name, chunks in values.items():
        low, high = np.quantile(np.concatenate(chunks), [tail, 1 - tail])
        intervals[name] = (float(low), float(high))
    return intervals
