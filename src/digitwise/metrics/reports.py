"""The evaluate stage's JSON payloads: headline metrics, intervals, confusion matrices, top
confusions and pairwise scores, each from arrays of the predictions."""

from collections.abc import Sequence
from typing import Any

import numpy as np

from digitwise import params
from digitwise.metrics import classification as metrics
from digitwise.metrics import intervals as bootstrap
from digitwise.metrics.state import Scores

TOP_K = 2
# The label-based scalars of ``summary_scores`` the headline keeps. Each key is a column
# of ``dvc metrics show`` and ``dvc exp show``, so the file stays narrow (within 200
# columns): the macro and weighted precision and recall and the weighted F1 are left
# out (weighted recall *is* accuracy; the per-class file holds each class's scores and
# support, from which the others follow).
HEADLINE_SCORES = (
    "accuracy",
    "balanced_accuracy",
    "f1_macro",
    "matthews_corrcoef",
    "cohen_kappa",
)
LABEL_ONLY_NOTE = (
    "no proba_ columns: log loss, top-2 accuracy, AUC and probability-based pairwise "
    "accuracy need probabilities and are not computed"
)
BINNED_AUC_NOTE = (
    "pairwise_auc is binned (a sharded evaluation keeps score histograms, not scores): "
    "each entry is within pairwise_auc_error_bound of the exact value"
)


def headline_metrics(
    scores: Scores, classes: Sequence[str], auc: np.ndarray | None
) -> dict[str, Any]:
    """The small file ``dvc metrics show`` and ``dvc exp show`` display: scalars only.

    Without probabilities (``auc`` is None), the probability-based metrics are absent,
    not zero or NaN, so no experiment table shows a number that was never measured;
    ``pairwise.json`` carries the note that says why (this file holds numbers only).
    ``predicted_not_argmax`` is there only when it is not 0: a flag, not a score, it
    takes no column of an experiment table until some predictions are thresholded.
    The per-class scores are in their own file (``per_class_report``).
    """
    counts = scores.counts
    summary = metrics.summary_scores(counts)
    result: dict[str, Any] = {key: summary[key] for key in HEADLINE_SCORES}
    if auc is not None:
        result["log_loss"] = scores.log_loss
        result[f"top_{TOP_K}_accuracy"] = scores.top_k_accuracy
        result["auc_ovo_m"] = metrics.m_measure(auc)
        if scores.predicted_not_argmax:
            result["predicted_not_argmax"] = scores.predicted_not_argmax
    result["n_samples"] = int(counts.sum())
    return result


def per_class_report(counts: np.ndarray, classes: Sequence[str]) -> list[dict[str, Any]]:
    """Precision, recall, F1 and support of each class, one row per class in the class
    list's order: a list, which DVC draws as a plot (and would drop from a metrics file).
    From the confusion matrix ``counts``, so label-only predictions have them too."""
    scores = metrics.per_class_scores(counts)
    return [
        {
            "class": name,
            "precision": float(scores["precision"][i]),
            "recall": float(scores["recall"][i]),
            "f1": float(scores["f1"][i]),
            "support": int(scores["support"][i]),
        }
        for i, name in enumerate(classes)
    ]


def intervals_report(counts: np.ndarray, settings: params.EvaluateParams) -> dict[str, Any]:
    """95% bootstrap intervals, {metric: {"low", "high"}}: DVC shows them as metric.low/high.

    From the confusion matrix the resamples are drawn over (``metrics.intervals``)."""
    intervals = bootstrap.intervals_of_counts(
        counts, n_resamples=settings.bootstrap_resamples, seed=settings.bootstrap_seed
    )
    return {name: {"low": low, "high": high} for name, (low, high) in intervals.items()}


def confusion_report(counts: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    # arrays, not lists: ``io.outputs.json_text`` writes them a row per line, fast
    report: dict[str, Any] = {"classes": list(classes), "counts": counts}
    for normalize in metrics.NORMALIZATIONS:
        report[f"normalized_by_{normalize}"] = metrics.normalize_confusion(
            counts, normalize=normalize
        )
    return report


def top_confusions_report(
    counts: np.ndarray, classes: Sequence[str], *, limit: int
) -> dict[str, Any]:
    rows = metrics.top_confusions(counts, limit=limit)
    return {
        "top_confusions": [
            {
                "rank": rank,
                "actual": classes[true],
                "predicted": classes[predicted],
                "count": count,
                "share_of_actual": share,
            }
            for rank, (true, predicted, count, share) in enumerate(rows, start=1)
        ]
    }


def pairwise_report(
    label_accuracy: np.ndarray | None,
    accuracy: np.ndarray | None,
    auc: np.ndarray | None,
    classes: Sequence[str],
) -> dict[str, Any]:
    """With probabilities, the probability-based pairwise accuracy and AUC; without, the
    label-based pairwise accuracy and a note. (Both would double the file: at 1,000
    classes each matrix is a million numbers.)"""
    report: dict[str, Any] = {"classes": list(classes)}
    if accuracy is None or auc is None:
        report["pairwise_label_accuracy"] = label_accuracy
        report["note"] = LABEL_ONLY_NOTE
        return report
    report["pairwise_accuracy"] = accuracy
    report["pairwise_auc"] = auc
    report["m_measure"] = metrics.m_measure(auc)
    return report


def binned_auc_report(error_bound: np.ndarray) -> dict[str, Any]:
    """What a binned per-pair AUC adds to ``pairwise_report``: its bounds and a note."""
    return {
        "pairwise_auc_error_bound": error_bound,
        "m_measure_error_bound": metrics.m_measure(error_bound),
        "note": BINNED_AUC_NOTE,
    }
