"""Everything the evaluate step computes from one predictions set, and its summary.

``evaluate`` returns the JSON payloads and the matrices the figures draw; the evaluate
stage and ``digitwise evaluate`` both call it, then draw and write.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from digitwise import params
from digitwise.metrics import classification as metrics
from digitwise.metrics.ordering import ClassOrder, class_order, order_report
from digitwise.metrics.reports import (
    confusion_report,
    headline_metrics,
    intervals_report,
    pairwise_report,
    top_confusions_report,
)
from digitwise.predictions.schema import Predictions, content_digest

SUMMARY_CONFUSIONS = 3  # confusions named in the summary line


@dataclass(frozen=True)
class Evaluation:
    classes: tuple[str, ...]
    counts: np.ndarray  # (K, K) confusion matrix
    pairwise: np.ndarray  # (K, K) probability-based pairwise accuracy, or label-based
    label_only: bool  # no probabilities: ``pairwise`` is the label-based matrix
    payloads: dict[str, Any]  # output name -> JSON payload
    order: ClassOrder  # of the classes in every heatmap (``evaluate.class_order``)


def pairwise_matrix(predictions: Predictions, counts: np.ndarray) -> np.ndarray:
    """The pairwise accuracy drawn and reported: from the probabilities, or from the
    confusion matrix ``counts`` in a label-only set."""
    if predictions.proba is None:
        return metrics.pairwise_label_accuracy(counts)
    return metrics.pairwise_accuracy(predictions.actual, predictions.predicted, predictions.proba)


def evaluate(
    predictions: Predictions,
    settings: params.EvaluateParams,
    *,
    counts: np.ndarray | None = None,
    pairwise: np.ndarray | None = None,
    order: ClassOrder | None = None,
) -> Evaluation:
    """``counts`` (the confusion matrix), ``pairwise`` (``pairwise_matrix``) and
    ``order`` (``ordering.class_order``), when the caller has them: a caller drawing
    them meanwhile computes them first."""
    classes = predictions.classes
    if counts is None:
        counts = metrics.confusion_matrix(
            predictions.actual, predictions.predicted, n_classes=len(classes)
        )
    if pairwise is None:
        pairwise = pairwise_matrix(predictions, counts)
    if order is None:
        order = class_order(counts, method=settings.class_order)
    if predictions.proba is None:
        accuracy = auc = None
    else:
        accuracy = pairwise
        auc = metrics.pairwise_auc(predictions.actual, predictions.proba)
    payloads = {
        "metrics": headline_metrics(predictions, counts, auc),
        "intervals": intervals_report(counts, settings),
        # which predictions these are: a comparison made from others is refused
        # matrices in the class list's order; the heatmaps' order beside them
        "confusion": confusion_report(counts, classes)
        | {"predictions_sha256": content_digest(predictions)}
        | {"class_order": order_report(order, classes)},
        "top_confusions": top_confusions_report(counts, classes, limit=settings.top_confusions),
        "pairwise": pairwise_report(pairwise if auc is None else None, accuracy, auc, classes),
    }
    return Evaluation(
        classes=classes,
        counts=counts,
        pairwise=pairwise,
        label_only=predictions.proba is None,
        payloads=payloads,
        order=order,
    )


def summary_lines(evaluation: Evaluation) -> list[str]:
    """A few lines for a terminal: accuracy with its interval, the top confusions."""
    headline = evaluation.payloads["metrics"]
    interval = evaluation.payloads["intervals"]["accuracy"]
    lines = [
        f"accuracy {headline['accuracy']:.4f} (95% interval {interval['low']:.4f} to "
        f"{interval['high']:.4f}) on {headline['n_samples']:,} samples; "
        f"balanced accuracy {headline['balanced_accuracy']:.4f}, "
        f"macro F1 {headline['f1_macro']:.4f}"
    ]
    if "log_loss" in headline:
        lines.append(
            f"log loss {headline['log_loss']:.4f}, top-2 accuracy "
            f"{headline['top_2_accuracy']:.4f}, one-vs-one AUC {headline['auc_ovo_m']:.4f}"
        )
    else:
        lines.append(evaluation.payloads["pairwise"]["note"])
    confusions = evaluation.payloads["top_confusions"]["top_confusions"][:SUMMARY_CONFUSIONS]
    if confusions:
        named = ", ".join(
            f"{c['actual']} as {c['predicted']}: {c['count']:,} "
            f"({c['share_of_actual']:.1%} of {c['actual']})"
            for c in confusions
        )
        lines.append(f"top confusions: {named}")
    else:
        lines.append("top confusions: none, every sample is predicted right")
    return lines


def argmax_warning(evaluation: Evaluation) -> str | None:
    """One line for stderr when some predicted classes are not the most probable."""
    share = evaluation.payloads["metrics"].get("predicted_not_argmax", 0.0)
    if not share:
        return None
    shown = f"{share:.2%}" if share >= 0.0001 else "less than 0.01%"
    return (
        f"warning: for {shown} of the rows, predicted is not the most probable class "
        "(thresholded decisions?); metrics.json records the share as predicted_not_argmax"
    )
