"""Stage evaluate: metrics, confusion matrices and pairwise scores from a predictions file.

It reads nothing but the predictions file and the class list, so it evaluates any
classifier's predictions (the file's schema: ``stages/predictions.py``).
"""

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from stages import bootstrap, datasets, metrics, outputs, params
from stages.cli import run
from stages.predictions import Predictions, read_csv

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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", required=True, help="params.yaml")
    parser.add_argument("--predictions", required=True, help="predictions CSV")
    parser.add_argument("--classes", required=True, help="JSON list of class names, in order")
    parser.add_argument("--metrics", required=True, help="headline metrics JSON to write")
    parser.add_argument("--intervals", required=True, help="95%% intervals JSON to write")
    parser.add_argument("--confusion", required=True, help="confusion matrices JSON to write")
    parser.add_argument("--top-confusions", required=True, help="ranked confusions JSON to write")
    parser.add_argument("--pairwise", required=True, help="pairwise accuracy and AUC JSON to write")
    parser.add_argument("--confusion-plot", required=True, help="PNG of the counts")
    parser.add_argument("--confusion-normalized-plot", required=True, help="PNG of the shares")
    parser.add_argument("--pairwise-plot", required=True, help="PNG of pairwise accuracy")
    args = parser.parse_args(argv)
    outputs.check_destinations(
        args.metrics,
        args.intervals,
        args.confusion,
        args.top_confusions,
        args.pairwise,
        args.confusion_plot,
        args.confusion_normalized_plot,
        args.pairwise_plot,
    )

    settings = params.evaluate_params(params.load(args.params))
    classes = datasets.load_classes(args.classes)
    predictions = read_csv(args.predictions, classes)

    counts = metrics.confusion_matrix(
        predictions.actual, predictions.predicted, n_classes=len(classes)
    )
    accuracy = metrics.pairwise_accuracy(
        predictions.actual, predictions.predicted, predictions.proba
    )
    auc = metrics.pairwise_auc(predictions.actual, predictions.proba)
    intervals = intervals_report(predictions, settings)

    # Imported here: seaborn costs ~1.3 s, and a bad input should fail before that.
    from stages import heatmaps
    from stages.outputs import png_bytes, write_bytes, write_json

    figures = {
        args.confusion_plot: heatmaps.confusion_counts_heatmap(counts, classes),
        args.confusion_normalized_plot: heatmaps.confusion_normalized_heatmap(counts, classes),
        args.pairwise_plot: heatmaps.pairwise_accuracy_heatmap(accuracy, classes),
    }
    images = {path: png_bytes(figure) for path, figure in figures.items()}

    write_json(args.metrics, headline_metrics(predictions, counts, auc))
    write_json(args.intervals, intervals)
    write_json(args.confusion, confusion_report(counts, classes))
    write_json(
        args.top_confusions,
        top_confusions_report(counts, classes, limit=settings.top_confusions),
    )
    write_json(args.pairwise, pairwise_report(accuracy, auc, classes))
    for path, image in images.items():
        write_bytes(path, image)


if __name__ == "__main__":
    sys.exit(run(main))
