"""Likely label errors by confident learning (Northcutt et al. 2021), in numpy.

From held-out probabilities, each class k gets a threshold t_k: the mean p(k) over the
samples labelled k (its mean self-confidence). A sample is confidently of class j when
p(j) >= t_j - 1e-6; of several such classes, the most probable one counts. The
confident joint C[i, j] counts the samples labelled i confidently of class j (samples
confident of no class are not counted).

The candidates are cleanlab's ``find_label_issues(filter_by="confident_learning")``:
the samples in the off-diagonal cells of the confident joint (given label i, confidently
of another class j), less those whose given label is still their most probable class
(within 1e-6). Mostly these are samples whose p(given) is below its class threshold while
another class clears its own; a sample may also clear its own threshold and still be a
candidate when a more probable class clears its own too. The suggested label is j.

The definitions are cleanlab 2.9's, to the tolerances (tests compare them), with two
stated differences: the confident joint here is not calibrated (it counts samples, and
its rows do not sum to the class sizes), and its diagonal is not raised to at least 1.
Candidates are ranked by ``margin`` = max over k != given of p(k), minus p(given),
largest first (cleanlab's ``normalized_margin`` order, ties by sample id).
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from digitwise.examples.selection import CellExamples
from digitwise.predictions.schema import Predictions

TOLERANCE = 1e-6  # cleanlab's: a probability this close below a threshold still clears it
LOWEST_THRESHOLD = 2 * TOLERANCE  # cleanlab's lower bound on thresholds
METHOD = (
    "confident learning (Northcutt et al. 2021), as cleanlab's find_label_issues with "
    "filter_by='confident_learning'; thresholds: each class's mean self-confidence; ranked "
    "by margin, the best other class's probability minus the given label's"
)
LABEL_ONLY_NOTE = "no proba_ columns: finding likely label errors needs each class's probability"


@dataclass(frozen=True)
class LabelIssues:
    thresholds: np.ndarray  # (K,) inf for a class no sample is labelled with
    confident_joint: np.ndarray  # (K, K) given label x confident class
    candidates: np.ndarray  # (n_candidates,) rows, most likely label errors first
    suggested: np.ndarray  # (n_candidates,) the class each is confidently of
    margin: np.ndarray  # (n_candidates,) best other probability minus p(given)


def confident_thresholds(labels: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """(K,) the mean of p(k) over the samples labelled k; inf where none is."""
    n_classes = proba.shape[1]
    counts = np.bincount(labels, minlength=n_classes)
    own = proba[np.arange(len(labels)), labels]
    sums = np.bincount(labels, weights=own, minlength=n_classes)
    thresholds = np.full(n_classes, np.inf)
    np.divide(sums, counts, out=thresholds, where=counts > 0)
    return np.maximum(thresholds, LOWEST_THRESHOLD)


def confident_classes(proba: np.ndarray, thresholds: np.ndarray) -> np.ndarray:
    """(n_samples,) the class each sample is confidently of, or -1 for none."""
    confident = proba >= thresholds - TOLERANCE
    n_confident = confident.sum(axis=1)
    # one confident class: that one (even if not the most probable); several: the most
    # probable (of equal ones the first, as argmax)
    guess = np.where(n_confident > 1, proba.argmax(axis=1), confident.argmax(axis=1))
    return np.where(n_confident > 0, guess, -1)


def find_label_issues(labels: np.ndarray, proba: np.ndarray) -> LabelIssues:
    """Given labels (n_samples,) as class indices and held-out probabilities
    (n_samples, K): thresholds, confident joint and ranked candidates."""
    labels = np.asarray(labels, dtype=np.int64)
    proba = np.asarray(proba, dtype=np.float64)
    n_samples, n_classes = proba.shape
    thresholds = confident_thresholds(labels, proba)
    guess = confident_classes(proba, thresholds)
    counted = guess >= 0
    joint = np.bincount(
        labels[counted] * n_classes + guess[counted], minlength=n_classes * n_classes
    ).reshape(n_classes, n_classes)
    rows = np.arange(n_samples)
    own = proba[rows, labels]
    # the given label's probability, nudged up, still the largest: no issue (cleanlab's)
    nudged = proba.copy()
    nudged[rows, labels] += TOLERANCE
    still_best = nudged.argmax(axis=1) == labels
    candidate = counted & (guess != labels) & ~still_best
    others = proba.copy()
    others[rows, labels] = -np.inf
    margin = others.max(axis=1, initial=-np.inf) - own
    found = np.flatnonzero(candidate)
    del nudged, others
    return LabelIssues(
        thresholds=thresholds,
        confident_joint=joint,
        candidates=found,
        suggested=guess[found],
        margin=margin[found],
    )


def ranked(issues: LabelIssues, sample: np.ndarray) -> LabelIssues:
    """The candidates by margin, largest first, then by sample id."""
    order = np.lexsort((sample[issues.candidates], -issues.margin))
    return LabelIssues(
        thresholds=issues.thresholds,
        confident_joint=issues.confident_joint,
        candidates=issues.candidates[order],
        suggested=issues.suggested[order],
        margin=issues.margin[order],
    )


def label_issues_of(predictions: Predictions) -> LabelIssues | None:
    """The ranked label issues of a predictions set; None without probabilities."""
    if predictions.proba is None:
        return None
    return ranked(find_label_issues(predictions.actual, predictions.proba), predictions.sample)


def mark_cells(
    selected: Sequence[CellExamples], issues: LabelIssues | None, predictions: Predictions
) -> list[CellExamples]:
    """The cells with their likely label errors: which shown mistakes are candidates, and
    how many of the cell's samples are. Unchanged without ``issues``."""
    if issues is None:
        return list(selected)
    flagged = np.zeros(len(predictions.sample), dtype=bool)
    flagged[issues.candidates] = True
    actual, predicted = predictions.actual, predictions.predicted
    return [
        replace(
            cell,
            label_errors=tuple(bool(flagged[row]) for row in cell.rows),
            n_label_errors=int(
                np.sum(flagged & (actual == cell.true) & (predicted == cell.predicted))
            ),
        )
        for cell in selected
    ]


def label_issues_report(
    issues: LabelIssues | None, predictions: Predictions, *, limit: int
) -> dict[str, Any]:
    """``label_issues.json``: the method, thresholds and confident joint by class, and
    the first ``limit`` ranked candidates (their number in all: ``n_candidates``)."""
    classes = predictions.classes
    if issues is None:
        return {"note": LABEL_ONLY_NOTE}
    shown = slice(0, limit)
    proba = predictions.proba
    return {
        "method": METHOD,
        "classes": list(classes),
        "thresholds": {
            name: (None if np.isinf(value) else float(value))
            for name, value in zip(classes, issues.thresholds, strict=True)
        },
        "confident_joint": issues.confident_joint,
        "n_samples": len(predictions.sample),
        "n_candidates": len(issues.candidates),
        "limit": limit,
        "candidates": [
            {
                "rank": rank,
                "sample": int(predictions.sample[row]),
                "given": classes[predictions.actual[row]],
                "suggested": classes[suggested],
                "p_given": float(proba[row, predictions.actual[row]]),
                "p_suggested": float(proba[row, suggested]),
                "margin": float(margin),
            }
            for rank, (row, suggested, margin) in enumerate(
                zip(
                    issues.candidates[shown],
                    issues.suggested[shown],
                    issues.margin[shown],
                    strict=True,
                ),
                start=1,
            )
        ],
    }
