"""Calibration: top-label and classwise expected calibration error over equal-width bins.

Both are computed in two steps: sums per bin (counts, sums of probabilities, counts of
correct or positive samples), which add up across shards of the predictions, then
``finish``, which turns the summed bins into rates and errors. So an engine that
evaluates shards apart merges ``CalibrationSums`` with ``+`` and finishes once.

Binning is scikit-learn's ``calibration_curve(strategy="uniform")``: edges
``linspace(0, 1, n_bins + 1)``, each bin closed on the right, the first closed on both
sides (a probability of exactly 0.2 with 5 bins falls in the first bin, [0, 0.2]).

- Top-label: each sample's confidence is its largest probability, and it is correct
  when its true class is that most probable one (the first of equal largest, as
  ``argmax``), whatever the ``predicted`` column says. ECE = sum over bins of
  (n_b / N) |accuracy_b - confidence_b| (Guo et al. 2017).
- Classwise (Kull et al. 2019): for each class k, the one-vs-rest problem "is it k?"
  binned on p(k); its ECE is sum over bins of (n_kb / N) |positives_kb / n_kb - mean
  p(k)_kb|, and the classwise ECE is the mean over all K classes.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from digitwise.metrics.exact import SCALE_BITS, ExactSums, chunk_values, exact_mean

LABEL_ONLY_NOTE = (
    "no proba_ columns: calibration (ECE, classwise ECE, the reliability diagram) needs "
    "probabilities and is not computed"
)


@dataclass(frozen=True)
class CalibrationSums:
    """Per-bin sums of one set of predictions; ``a + b`` is their sums over both sets.

    Top-label: ``counts``, ``confidence_sums``, ``correct`` of shape (n_bins,).
    Classwise: ``class_counts``, ``proba_sums``, ``positives`` of shape (K, n_bins).
    """

    counts: np.ndarray
    confidence_sums: np.ndarray
    correct: np.ndarray
    class_counts: np.ndarray
    proba_sums: np.ndarray
    positives: np.ndarray

    @property
    def n_bins(self) -> int:
        return len(self.counts)

    def __add__(self, other: "CalibrationSums") -> "CalibrationSums":
        if self.class_counts.shape != other.class_counts.shape:
            raise ValueError(
                f"cannot add calibration sums of shapes {self.class_counts.shape} and "
                f"{other.class_counts.shape} (classes, bins)"
            )
        return CalibrationSums(
            *(getattr(self, name) + getattr(other, name) for name in self.__dataclass_fields__)
        )


def bin_edges(n_bins: int) -> np.ndarray:
    """(n_bins + 1,) equal-width edges over [0, 1]."""
    return np.linspace(0.0, 1.0, n_bins + 1)


def bin_of(values: np.ndarray, n_bins: int) -> np.ndarray:
    """The bin of each probability in ``values`` (any shape), as ``calibration_curve``:
    ``searchsorted`` of the inner edges, found from ``values * n_bins`` and two
    comparisons with the edges next to it (the product is within a rounding of the
    bin, so the bin or one of its neighbours)."""
    edges = bin_edges(n_bins)
    lower, upper = edges[:-1].copy(), edges[1:].copy()
    lower[0], upper[-1] = -np.inf, np.inf  # the first bin closed on both sides
    guess = np.minimum((np.asarray(values) * n_bins).astype(np.intp), n_bins - 1)
    return guess - (values <= lower[guess]) + (values > upper[guess])


def calibration_sums(y_true: np.ndarray, y_proba: np.ndarray, *, n_bins: int) -> CalibrationSums:
    """Per-bin sums of class indices ``y_true`` (n_samples,) and probabilities
    ``y_proba`` (n_samples, K). The probability sums are exact (``metrics.exact``:
    Python integers in its units), so they add up to the same totals however the rows
    are split and ordered. In one pass over chunks of rows, each binned once."""
    y_true = np.asarray(y_true, dtype=np.int64)
    y_proba = np.asarray(y_proba, dtype=np.float64)
    n_samples, n_classes = y_proba.shape
    cells = n_classes * n_bins
    counts, correct = np.zeros(n_bins, np.int64), np.zeros(n_bins, np.int64)
    class_counts, positives = np.zeros(cells, np.int64), np.zeros(cells, np.int64)
    confidence_sums, proba_sums = ExactSums(n_bins), ExactSums(cells)
    offsets = np.arange(n_classes) * n_bins
    step = max(1, chunk_values(cells) // max(n_classes, 1))  # rows per chunk
    for start in range(0, n_samples, step):
        chunk, true = y_proba[start : start + step], y_true[start : start + step]
        rows = np.arange(len(chunk))
        index = bin_of(chunk, n_bins)  # (rows, K): the bin of each probability
        top = chunk.argmax(axis=1)  # the first of the largest, as calibration_curve's
        top_bins = index[rows, top]
        counts += np.bincount(top_bins, minlength=n_bins)
        correct += np.bincount(top_bins[top == true], minlength=n_bins)
        confidence_sums.add(chunk[rows, top], top_bins)
        # a sample is a positive of its true class only, in the bin of its p(true class)
        positives += np.bincount(true * n_bins + index[rows, true], minlength=cells)
        index = (index + offsets).ravel()
        class_counts += np.bincount(index, minlength=cells)
        proba_sums.add(chunk.ravel(), index)
    shape = (n_classes, n_bins)
    return CalibrationSums(
        counts=counts,
        confidence_sums=_exact(confidence_sums.totals()),
        correct=correct,
        class_counts=class_counts.reshape(shape),
        proba_sums=_exact(proba_sums.totals()).reshape(shape),
        positives=positives.reshape(shape),
    )


def _exact(totals: list[int]) -> np.ndarray:
    """An array of exact sums (Python integers): ``+`` adds them exactly."""
    array = np.empty(len(totals), dtype=object)
    array[:] = totals
    return array


def as_floats(totals: np.ndarray) -> np.ndarray:
    """The exact sums ``totals`` as the nearest float64 values."""
    scale = 1 << SCALE_BITS
    return np.array([total / scale for total in totals.ravel()]).reshape(totals.shape)


@dataclass(frozen=True)
class Calibration:
    """Finished bins: rates per bin (NaN where a bin is empty) and the errors."""

    sums: CalibrationSums
    mean_confidence: np.ndarray  # (n_bins,)
    accuracy: np.ndarray  # (n_bins,)
    ece: float
    mean_proba: np.ndarray  # (K, n_bins): mean p(k) in each bin of class k
    positive_rate: np.ndarray  # (K, n_bins): share of class k among them
    class_ece: np.ndarray  # (K,)
    classwise_ece: float


def _rate(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _exact_rate(totals: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Each exact sum over its count, rounded once; NaN where the count is 0."""
    rates = [
        exact_mean(int(t), int(n)) if n else np.nan
        for t, n in zip(totals.ravel(), counts.ravel(), strict=True)
    ]
    return np.array(rates, dtype=np.float64).reshape(counts.shape)


def _exact_gap(hits: np.ndarray, totals: np.ndarray, n_samples: int) -> float:
    """sum |hits - totals| / n_samples, from integer ``hits`` and exact ``totals``, rounded
    once: the same float however the sums were split."""
    if not n_samples:
        return float("nan")
    gap = sum(abs((int(h) << SCALE_BITS) - int(t)) for h, t in zip(hits, totals, strict=True))
    return exact_mean(gap, n_samples)


def finish(sums: CalibrationSums) -> Calibration:
    """Rates and errors of summed bins (N, the number of samples, is ``sums.counts.sum()``).

    With no samples at all the errors are NaN."""
    n_samples = int(sums.counts.sum())
    class_ece = np.array(
        [
            _exact_gap(hits, totals, n_samples)
            for hits, totals in zip(sums.positives, sums.proba_sums, strict=True)
        ],
        dtype=np.float64,
    )
    return Calibration(
        sums=sums,
        mean_confidence=_exact_rate(sums.confidence_sums, sums.counts),
        accuracy=_rate(sums.correct, sums.counts),
        ece=_exact_gap(sums.correct, sums.confidence_sums, n_samples),
        mean_proba=_exact_rate(sums.proba_sums, sums.class_counts),
        positive_rate=_rate(sums.positives, sums.class_counts),
        class_ece=class_ece,
        classwise_ece=float(class_ece.mean()) if class_ece.size else float("nan"),
    )


def calibration(y_true: np.ndarray, y_proba: np.ndarray, *, n_bins: int) -> Calibration:
    """``finish(calibration_sums(y_true, y_proba, n_bins=n_bins))``."""
    return finish(calibration_sums(y_true, y_proba, n_bins=n_bins))


def expected_calibration_error(y_true: np.ndarray, y_proba: np.ndarray, *, n_bins: int) -> float:
    """Top-label ECE, lower is better, in [0, 1]."""
    return calibration(y_true, y_proba, n_bins=n_bins).ece


def classwise_calibration_error(y_true: np.ndarray, y_proba: np.ndarray, *, n_bins: int) -> float:
    """Classwise ECE (Kull et al. 2019), lower is better, in [0, 1]."""
    return calibration(y_true, y_proba, n_bins=n_bins).classwise_ece


def calibration_report(result: Calibration, classes: tuple[str, ...]) -> dict[str, Any]:
    """``calibration.json``: the edges, the summed bins (mergeable) and their rates."""
    sums = result.sums
    return {
        "n_bins": sums.n_bins,
        "bin_edges": bin_edges(sums.n_bins),
        "ece": result.ece,
        "classwise_ece": result.classwise_ece,
        "top_label": {
            "count": sums.counts,
            "confidence_sum": as_floats(sums.confidence_sums),
            "correct": sums.correct,
            "mean_confidence": result.mean_confidence,
            "accuracy": result.accuracy,
        },
        "classwise": {
            "classes": list(classes),
            "ece": {k: float(v) for k, v in zip(classes, result.class_ece, strict=True)},
            "count": sums.class_counts,
            "proba_sum": as_floats(sums.proba_sums),
            "positives": sums.positives,
            "mean_proba": result.mean_proba,
            "positive_rate": result.positive_rate,
        },
    }
