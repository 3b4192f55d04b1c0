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
    scikit-learn. y_proba: (n_samples, n_classes)."""
    eps = np.finfo(y_proba.dtype).eps
    true_proba = np.take_along_axis(y_proba, y_true[:, None].astype(np.intp), axis=1)
    return float(-np.log(np.clip(true_proba, eps, 1 - eps)).mean())


def top_k_accuracy(y_true: np.ndarray, y_proba: np.ndarray, *, k: int) -> float:
    """Share of samples whose true class is among the k most probable.

    Ties are broken as scikit-learn does (a stable sort, reversed): among equal
    probabilities the higher class index ranks first.
    """
    true_proba = np.take_along_axis(y_proba, y_true[:, None].astype(np.intp), axis=1)
    classes = np.arange(y_proba.shape[1])
    ahead = (y_proba > true_proba) | ((y_proba == true_proba) & (classes > y_true[:, None]))
    return float((ahead.sum(axis=1) < k).mean())


def _class_blocks(y_true: np.ndarray, y_proba: np.ndarray) -> list[np.ndarray]:
    """The rows of y_proba of each true class, as K contiguous blocks.

    Boolean masks read y_proba front to back; gathering rows in class order instead
    jumps around memory and is about twice as slow at 10^7 samples.
    """
    return [y_proba[y_true == c] for c in range(y_proba.shape[1])]


def pairwise_accuracy(y_true: np.ndarray, y_pred: np.ndarray, y_proba: np.ndarray) -> np.ndarray:
    """Class-vs-class accuracy, shape (n_classes, n_classes), symmetric.

    Entry (a, b), a != b: among samples whose true class is a or b, the share for
    which the true class gets a strictly higher probability than the other one.
    Entry (a, a) is the recall of class a under ``y_pred``. NaN where no sample
    has either class.
    """
    n_classes = y_proba.shape[1]
    wins = np.zeros((n_classes, n_classes), dtype=np.int64)  # [a, b]: class-a rows with p_a > p_b
    support = np.zeros(n_classes, dtype=np.int64)
    for a, rows in enumerate(_class_blocks(y_true, y_proba)):
        wins[a] = (rows[:, a : a + 1] > rows).sum(axis=0)
        support[a] = len(rows)
    pair_support = support[:, None] + support[None, :]
    with np.errstate(invalid="ignore", divide="ignore"):
        accuracy = (wins + wins.T) / pair_support
        counts = confusion_matrix(y_true, y_pred, n_classes=n_classes)
        np.fill_diagonal(accuracy, np.diag(counts) / support)
    return accuracy


def _twice_mann_whitney(positives: np.ndarray, negatives: np.ndarray) -> int:
    """2 * #(positive > negative) + #(positive == negative) over all pairs; both sorted.

    One binary search per negative finds the positives below it; a second search,
    for the ties, runs only when some negative equals some positive (rare for
    continuous scores, common for a forest's or nearest neighbours' probabilities).
    """
    n_pos, n_neg = positives.size, negatives.size
    below = np.searchsorted(positives, negatives, side="left")
    twice_u = 2 * (n_pos * n_neg - int(below.sum()))
    # the smallest positive >= each negative: equal to it iff that negative has ties
    if (positives[np.minimum(below, n_pos - 1)] == negatives).any():
        at_most = np.searchsorted(positives, negatives, side="right")
        twice_u -= int((at_most - below).sum())  # a tie counts one half, not one
    return twice_u


def pairwise_auc(y_true: np.ndarray, y_proba: np.ndarray) -> np.ndarray:
    """Hand & Till's A(a, b) for every pair, shape (n_classes, n_classes), symmetric.

    A(a|b) is the probability that a random class-a sample gets a higher p_a than a
    random class-b sample (ties count one half): the Mann-Whitney statistic, from
    sorted scores. A(a, b) = (A(a|b) + A(b|a)) / 2. NaN on the diagonal and for
    pairs with an absent class.
    """
    n_classes = y_proba.shape[1]
    blocks = _class_blocks(y_true, y_proba)
    one_sided = np.full((n_classes, n_classes), np.nan)
    for a in range(n_classes):
        positives = np.sort(blocks[a][:, a])
        if positives.size == 0:
            continue
        for b in range(n_classes):
            if b == a or blocks[b].shape[0] == 0:
                continue
            negatives = np.sort(blocks[b][:, a])  # p_a of the class-b samples
            twice_u = _twice_mann_whitney(positives, negatives)
            one_sided[a, b] = twice_u / (2 * positives.size * negatives.size)
    return (one_sided + one_sided.T) / 2


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
