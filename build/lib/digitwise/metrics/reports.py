"""The evaluate stage's JSON payloads: headline metrics, intervals, confusion matrices, top
confusions and pairwise scores, each from arrays of the predictions."""

from collections.abc import Sequence
from typing import Any

import numpy as np

from digitwise import params
from digitwise.metrics import classification as metrics
from digitwise.metrics import intervals as bootstrap
from digitwise.predictions.schema import Predictions

TOP_K = 2


def headline_metrics(
    predictions: Predictions, counts: np.ndarray, auc: np.ndarray
) -> dict[str, Any]:
    """The small file ``dvc exp show`` displays: scalars, and per-class scores by name."""
    result: dict[str, Any] = metrics.summary_scores(counts)
    result["log_loss"] = metrics.log_loss(predictions.actual, predictions.proba)
    result[f"top_{TOP_K}_accuracy"] = metrics.top_k_accuracy(
        predictions.actual, predictions.proba, k=TOP_K
    )
    result["auc_ovo_m"] = metrics.m_measure(auc)
    result["n_samples"] = int(counts.sum())
    scores = metrics.per_class_scores(counts)
    result["per_class"] = {
        name: {
            "precision": float(scores["precision"][i]),
            "recall": float(scores["recall"][i]),
            "f1": float(scores["f1"][i]),
            "support": int(scores["support"][i]),
        }
        for i, name in enumerate(predictions.classes)
    }
    return result


def intervals_report(predictions: Predictions, settings: params.EvaluateParams) -> dict[str, Any]:
    """95% bootstrap intervals, {metric: {"low", "high"}}: DVC shows them as metric.low/high."""
    intervals = bootstrap.bootstrap_intervals(
        predictions.actual,
        predictions.predicted,
        n_classes=len(predictions.classes),
        n_resamples=settings.bootstrap_resamples,
        seed=settings.bootstrap_seed,
    )
    return {name: {"low": low, "high": high} for name, (low, high) in intervals.items()}


def confusion_report(counts: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    report: dict[str, Any] = {"classes": list(classes), "counts": counts.tolist()}
    for normalize in metrics.NORMALIZATIONS:
        shares = metrics.normalize_confusion(counts, normalize=normalize)
        report[f"normalized_by_{normalize}"] = shares.tolist()
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
    accuracy: np.ndarray, auc: np.ndarray, classes: Sequence[str]
) -> dict[str, Any]:
    return {
        "classes": list(classes),
        "pairwise_accuracy": accuracy.tolist(),
        "pairwise_auc": auc.tolist(),
        "m_measure": metrics.m_measure(auc),
    }
