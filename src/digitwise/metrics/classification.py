"""Classification metrics from numpy alone, equal to scikit-learn's on the same inputs.

Labels are class indices ``0..n_classes-1``. Everything that depends only on the
labels is computed from one confusion matrix (``np.bincount``, ~35x faster than
``sklearn.metrics.confusion_matrix`` on 10^7 samples), and no module here imports
scikit-learn, which would cost the evaluate stage ~1 s of start-up.

Conventions follow scikit-learn: ``zero_division=0``; macro averages run over the
classes present in ``y_true`` or ``y_pred``; a class absent from both keeps a row
and a column of zeros in the confusion matrix.
"""

import math

import numpy as np

from digitwise.metrics.exact import exact_mean, exact_sums

NORMALIZATIONS = ("true", "pred", "all")


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, *, n_classes: int) -> np.ndarray:
    """Counts of shape (n_classes, n_classes): row = true class, column = predicted class."""
    flat = y_true.astype(np.int64) * n_classes + y_pred
    return np.bincount(flat, minlength=n_classes * n_classes).reshape(n_classes, n_classes)


def normalize_confusion(counts: np.ndarray, *, normalize: str) -> np.ndarray:
    """Shares of each true class ("true"), predicted class ("pred") or of all ("all").

    Rows (or columns) with no samples are zeros, as in scikit-learn.
    """
    if normalize not in NORMALIZATIONS:
        raise ValueError(f"normalize must be one of {NORMALIZATIONS}; got {normalize!r}")
    totals = {
        "true": counts.sum(axis=1, keepdims=True),
        "pred": counts.sum(axis=0, keepdims=True),
        "all": counts.sum(keepdims=True),
    }[normalize]
    return _divide(counts, totals)


def _divide(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (scikit-learn's zero_division=0)."""
    numerator = np.asarray(numerator, dtype=np.float64)
    denominator = np.broadcast_to(np.asarray(denominator, dtype=np.float64), numerator.shape)
    out = np.zeros_like(numerator)
    np.divide(numerator, denominator, out=out, where=denominator != 0)
    return out


def per_class_scores(counts: np.ndarray) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support per class, each of shape (n_classes,)."""
    true_positives = np.diag(counts).astype(np.float64)
    support = counts.sum(axis=1)
    predicted = counts.sum(axis=0)
    return {
        "precision": _divide(true_positives, predicted),
        "recall": _divide(true_positives, support),
        # F1 from counts, not from rounded precision and recall, as scikit-learn does
        "f1": _divide(2 * true_positives, support + predicted),
        "support": support,
    }


def summary_scores(counts: np.ndarray) -> dict[str, float]:
    """The label-only headline metrics of a confusion matrix."""
    scores = per_class_scores(counts)
    support, predicted = scores["support"], counts.sum(axis=0)
    present = (support + predicted) > 0  # scikit-learn's default labels
    weights = support / support.sum()
    result = {"accuracy": float(np.trace(counts) / counts.sum())}
    result["balanced_accuracy"] = float(scores["recall"][support > 0].mean())
    for name in ("precision", "recall", "f1"):
        result[f"{name}_macro"] = float(scores[name][present].mean())
        result[f"{name}_weighted"] = float(np.dot(weights, scores[name]))
    result["matthews_corrcoef"] = matthews_corrcoef(counts)
    result["cohen_kappa"] = cohen_kappa(counts)
    return result


def matthews_corrcoef(counts: np.ndarray) -> float:
    """Multiclass MCC (Gorodkin's R_K); 0 when undefined, as in scikit-learn."""
    true_sum = counts.sum(axis=1, dtype=np.float64)
    pred_sum = counts.sum(axis=0, dtype=np.float64)
    n = true_sum.sum()
    covariance = np.trace(counts) * n - np.dot(true_sum, pred_sum)
    spread = (n * n - np.dot(pred_sum, pred_sum)) * (n * n - np.dot(true_sum, true_sum))
    return float(covariance / math.sqrt(spread)) if spread != 0 else 0.0


def cohen_kappa(counts: np.ndarray) -> float:
    """Cohen's kappa between true and predicted labels; NaN when chance agreement is 1."""
    n = counts.sum(dtype=np.float64)
    observed_disagreement = 1 - np.trace(counts) / n
    chance = np.dot(counts.sum(axis=0, dtype=np.float64), counts.sum(axis=1)) / (n * n)
    expected_disagreement = 1 - chance
    if expected_disagreement == 0:
        return math.nan
    return float(1 - observed_disagreement / expected_disagreement)


def log_loss(y_true: np.ndarray, y_proba: np.ndarray) -> float:
    """Mean negative log probability of the true class, clipped to [eps, 1-eps] like
    scikit-learn. y_proba: (n_samples, n_classes).

    The exact mean, rounded once (``metrics.exact``): the same in any row order and
    from any shards (``log_loss_sum``)."""
    return exact_mean(log_loss_sum(y_true, y_proba), len(y_true))


def log_loss_sum(y_true: np.ndarray, y_proba: np.ndarray) -> int:
    """The exact sum of the clipped -log p(true class), in ``metrics.exact``'s units."""
    eps = np.finfo(y_proba.dtype).eps
    true_proba = np.take_along_axis(y_proba, y_true[:, None].astype(np.intp), axis=1)
    return exact_sums(-np.log(np.clip(true_proba, eps, 1 - eps)))[0]


_ROWS_PER_CHUNK = 2**18  # rows of (rows, n_classes) temporaries: 20 MiB of booleans at 10 classes


def top_k_accuracy(y_true: np.ndarray, y_proba: np.ndarray, *, k: int) -> float:
    """Share of samples whose true class is among the k most probable.

    Ties are broken as scikit-learn does (a stable sort, reversed): among equal
    probabilities the higher class index ranks first. In chunks of rows, so the
    temporaries stay small at 10^7 samples.
    """
    return top_k_hits(y_true, y_proba, k=k) / len(y_true)


def top_k_hits(y_true: np.ndarray, y_proba: np.ndarray, *, k: int) -> int:
    """The number of samples ``top_k_accuracy`` counts."""
    classes = np.arange(y_proba.shape[1])
    hits = 0
    for start in range(0, len(y_true), _ROWS_PER_CHUNK):
        proba = y_proba[start : start + _ROWS_PER_CHUNK]
        true = y_true[start : start + _ROWS_PER_CHUNK, None].astype(np.intp)
        true_proba = np.take_along_axis(proba, true, axis=1)
        ahead = (proba > true_proba) | ((proba == true_proba) & (classes > true))
        hits += int((ahead.sum(axis=1) < k).sum())
    return hits


def predicted_not_argmax(y_pred: np.ndarray, y_proba: np.ndarray) -> float:
    """Share of samples whose predicted class has less than the highest probability.

    Zero for a model's own argmax; more for decisions taken with thresholds or costs.
    A predicted class tied for the highest probability counts as the argmax.
    """
    return not_argmax_count(y_pred, y_proba) / len(y_pred)


def not_argmax_count(y_pred: np.ndarray, y_proba: np.ndarray) -> int:
    """The number of samples ``predicted_not_argmax`` counts."""
    rows = np.arange(len(y_pred))
    below = 0
    for start in range(0, len(y_pred), _ROWS_PER_CHUNK):
        chunk = slice(start, start + _ROWS_PER_CHUNK)
        proba = y_proba[chunk]
        chosen = proba[rows[: len(proba)], y_pred[chunk]]
        below += int((chosen < proba.max(axis=1)).sum())
    return below


class _ClassRows:
    """The rows of y_proba of each true class, one class at a time.

    Sorting the row numbers by class once, then gathering one class's rows when asked,
    holds one class's rows at a time: at 10^7 samples the K blocks together would be a
    second copy of y_proba.
    """

    def __init__(self, y_true: np.ndarray, n_classes: int) -> None:
        # up to 65,536 classes, 16-bit codes: numpy sorts them stably by radix, 5x faster
        codes = y_true.astype(np.uint16) if n_classes <= 2**16 else y_true
        self.order = np.argsort(codes, kind="stable")
        self.bounds = np.searchsorted(y_true[self.order], np.arange(n_classes + 1))

    def rows(self, c: int) -> np.ndarray:
        return self.order[self.bounds[c] : self.bounds[c + 1]]

    def block(self, y_proba: np.ndarray, c: int) -> np.ndarray:
        """(n_c, K): the rows of class c, in file order (``np.take``: a third of the
        time of fancy indexing)."""
        return np.take(y_proba, self.rows(c), axis=0)

    def size(self, c: int) -> int:
        return int(self.bounds[c + 1] - self.bounds[c])


def pairwise_accuracy(y_true: np.ndarray, y_pred: np.ndarray, y_proba: np.ndarray) -> np.ndarray:
    """Class-vs-class accuracy, shape (n_classes, n_classes), symmetric.

    Entry (a, b), a != b: among samples whose true class is a or b, the share for
    which the true class gets a strictly higher probability than the other one.
    Entry (a, a) is the recall of class a under ``y_pred``. NaN where no sample
    has either class.
    """
    counts = confusion_matrix(y_true, y_pred, n_classes=y_proba.shape[1])
    return pairwise_accuracy_of_wins(pairwise_wins(y_true, y_proba), counts)


def pairwise_wins(y_true: np.ndarray, y_proba: np.ndarray) -> np.ndarray:
    """(n_classes, n_classes) int64, [a, b]: the class-a rows with p_a > p_b. Counts add
    up over shards."""
    n_classes = y_proba.shape[1]
    wins = np.zeros((n_classes, n_classes), dtype=np.int64)
    by_class = _ClassRows(y_true, n_classes)
    for a in range(n_classes):
        rows = by_class.block(y_proba, a)  # in file order within the class: reads forwards
        wins[a] = (rows[:, a : a + 1] > rows).sum(axis=0)
    return wins


def pairwise_accuracy_of_wins(wins: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """``pairwise_accuracy`` from ``pairwise_wins`` and the confusion matrix ``counts``."""
    support = counts.sum(axis=1)
    pair_support = support[:, None] + support[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = (wins + wins.T) / pair_support
        np.fill_diagonal(accuracy, np.diag(counts) / support)
    return accuracy


def pairwise_label_accuracy(counts: np.ndarray) -> np.ndarray:
    """Class-vs-class accuracy from labels alone, from a (K, K) confusion matrix.

    Entry (a, b), a != b: among the samples whose true class is a or b and whose
    predicted class is a or b, the share predicted right:
    (C[a,a] + C[b,b]) / (C[a,a] + C[a,b] + C[b,a] + C[b,b]). Entry (a, a) is the recall
    of class a. NaN where there is no such sample. Unlike the probability-based
    ``pairwise_accuracy``, a sample predicted as a third class does not count.
    """
    counts = np.asarray(counts, dtype=np.float64)
    hits = np.diag(counts)
    right = hits[:, None] + hits[None, :]
    total = right + counts + counts.T
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = right / total
        np.fill_diagonal(accuracy, hits / counts.sum(axis=1))
    return accuracy


# Above this many classes, one search of all samples per class beats K^2 small sorts.
_AUC_PAIR_LOOP_CLASSES = 32


def pairwise_auc(y_true: np.ndarray, y_proba: np.ndarray) -> np.ndarray:
    """Hand & Till's A(a, b) for every pair, shape (n_classes, n_classes), symmetric.

    A(a|b) is the probability that a random class-a sample gets a higher p_a than a
    random class-b sample (ties count one half): the Mann-Whitney statistic, from
    sorted scores. A(a, b) = (A(a|b) + A(b|a)) / 2. NaN on the diagonal and for
    pairs with an absent class.
    """
    n_classes = y_proba.shape[1]
    by_class = _ClassRows(y_true, n_classes)
    if n_classes <= _AUC_PAIR_LOOP_CLASSES:
        twice_u = _twice_u_by_pair(y_proba, by_class)
    else:
        twice_u = _twice_u_by_column(y_true, y_proba, by_class)
    sizes = np.array([by_class.size(c) for c in range(n_classes)], dtype=np.float64)
    pairs = 2 * sizes[:, None] * sizes[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        one_sided = np.where(pairs > 0, twice_u / pairs, np.nan)
    np.fill_diagonal(one_sided, np.nan)
    return (one_sided + one_sided.T) / 2


def _twice_u_by_pair(y_proba: np.ndarray, by_class: _ClassRows) -> np.ndarray:
    """[a, b]: twice Mann-Whitney U of p_a, class a against class b: sorted pairs, each
    counted by merging them (``_twice_u_of_sorted``). Each class's p_a of its own rows
    sorted first (a K-th of y_proba in all), then one class b's rows at a time, every
    column sorted in place: gathering one column of one class at a time reads all of
    y_proba for each, and every class's sorted columns together would be a second copy
    of y_proba (at 10^7 samples, 800 MB). One class's rows are what ``pairwise_wins``
    holds too."""
    n_classes = y_proba.shape[1]
    twice_u = np.zeros((n_classes, n_classes))
    positives = [np.sort(y_proba[by_class.rows(a), a]) for a in range(n_classes)]
    for b in range(n_classes):
        if not by_class.size(b):
            continue
        negatives = by_class.block(y_proba, b)  # [:, a]: p_a of the class-b rows
        negatives.sort(axis=0)
        for a in range(n_classes):
            if a != b and positives[a].size:
                twice_u[a, b] = _twice_u_of_sorted(positives[a], negatives[:, a])
    return twice_u


def _twice_u_of_sorted(positives: np.ndarray, negatives: np.ndarray) -> int:
    """2 * #(positive > negative) + #(positive == negative) over all pairs of two
    sorted arrays (twice Mann-Whitney's U), by merging them: a stable sort of
    the negatives followed by the positives puts the j-th negative after j negatives
    and after the positives below it, so the positives below all negatives are the
    sum of its places less 0 + 1 + ... + (n - 1). A positive equal to a negative is
    put after it, so counted 2 where a tie counts 1: the ties between the two, the
    product of each run of equal values' negatives and positives, are taken off."""
    merged = np.concatenate([negatives, positives])
    order = np.argsort(merged, kind="stable")  # two sorted runs: merged in one pass
    values = merged[order]
    n_neg = negatives.size
    negative = order < n_neg
    below = int(np.flatnonzero(negative).sum()) - n_neg * (n_neg - 1) // 2
    twice_u = 2 * (positives.size * n_neg - below)
    equal = values[1:] == values[:-1]
    if equal.any():
        starts = np.flatnonzero(np.concatenate([[True], ~equal]))
        run_negatives = np.add.reduceat(negative.astype(np.int64), starts)
        run_lengths = np.diff(np.append(starts, values.size))
        twice_u -= int((run_negatives * (run_lengths - run_negatives)).sum())
    return twice_u


def _twice_u_by_column(y_true: np.ndarray, y_proba: np.ndarray, by_class: _ClassRows):
    """The same matrix, one class a at a time: every sample's p_a is placed among the
    sorted class-a scores, and the counts are summed per true class with a bincount."""
    n_classes = y_proba.shape[1]
    twice_u = np.zeros((n_classes, n_classes))
    for a in range(n_classes):
        column = y_proba[:, a]
        positives = np.sort(column[by_class.rows(a)])
        if positives.size == 0:
            continue
        below = np.searchsorted(positives, column, side="left")
        at_most = np.searchsorted(positives, column, side="right")
        # each negative: 2 per positive above it, 1 per positive equal to it
        per_sample = 2 * (positives.size - at_most) + (at_most - below)
        twice_u[a] = np.bincount(y_true, weights=per_sample, minlength=n_classes)
    return twice_u


def m_measure(auc: np.ndarray) -> float:
    """Hand & Till's M: the mean of A(a, b) over the pairs where it is defined."""
    upper = auc[np.triu_indices_from(auc, k=1)]
    defined = upper[~np.isnan(upper)]
    return float(defined.mean()) if defined.size else math.nan


def top_confusions(counts: np.ndarray, *, limit: int) -> list[tuple[int, int, int, float]]:
    """The largest off-diagonal cells as (true, predicted, count, share of the true class).

    Ranked by count, then by true and predicted class index, so ties are stable.
    """
    off_diagonal = counts.copy()
    np.fill_diagonal(off_diagonal, 0)
    true_idx, pred_idx = np.nonzero(off_diagonal)
    values = off_diagonal[true_idx, pred_idx]
    ranking = np.lexsort((pred_idx, true_idx, -values))[:limit]
    row_totals = counts.sum(axis=1)
    return [
        (int(t), int(p), int(c), float(c / row_totals[t]))
        for t, p, c in zip(true_idx[ranking], pred_idx[ranking], values[ranking], strict=True)
    ]
