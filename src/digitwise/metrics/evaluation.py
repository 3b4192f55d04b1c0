"""Everything the evaluate step computes from one predictions set, and its summary.

``evaluate`` returns the JSON payloads and the matrices the figures draw; the evaluate
stage and ``digitwise evaluate`` both call it, then draw and write.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from digitwise import params
from digitwise.metrics import calibration as calibrated
from digitwise.metrics import classification as metrics
from digitwise.metrics.ordering import ClassOrder, class_order, order_report
from digitwise.metrics.reports import (
    TOP_K,
    binned_auc_report,
    confusion_report,
    headline_metrics,
    intervals_report,
    pairwise_report,
    per_class_report,
    top_confusions_report,
)
from digitwise.metrics.state import EvaluationState, Scores, finish, state_of
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
    calibration: calibrated.Calibration | None = None  # None: no probabilities


@dataclass(frozen=True)
class Preview:
    """What is drawn, before the rest is computed (the exact per-pair AUC)."""

    scores: Scores
    counts: np.ndarray
    pairwise: np.ndarray
    label_only: bool
    order: ClassOrder  # of the classes in every heatmap (``evaluate.class_order``)

    @property
    def calibration(self) -> calibrated.Calibration | None:
        return self.scores.calibration


@dataclass(frozen=True)
class ConfusionPreview:
    """What is drawn first, from the labels alone: the counts, in the heatmaps' order."""

    counts: np.ndarray
    order: ClassOrder


def confusion_preview(
    predictions: Predictions, settings: params.EvaluateParams
) -> ConfusionPreview:
    n_classes = len(predictions.classes)
    counts = metrics.confusion_matrix(
        predictions.actual, predictions.predicted, n_classes=n_classes
    )
    return ConfusionPreview(counts, class_order(counts, method=settings.class_order))


@dataclass(frozen=True)
class CalibrationPreview:
    """Calibration, before the rest: its diagram is the costliest figure to draw."""

    sums: calibrated.CalibrationSums | None  # None: no probabilities
    calibration: calibrated.Calibration | None


def calibration_preview(
    predictions: Predictions, settings: params.EvaluateParams
) -> CalibrationPreview:
    if predictions.proba is None:
        return CalibrationPreview(None, None)
    n_bins = settings.calibration_bins
    sums = calibrated.calibration_sums(predictions.actual, predictions.proba, n_bins=n_bins)
    return CalibrationPreview(sums, calibrated.finish(sums))


def preview_of(
    predictions: Predictions,
    settings: params.EvaluateParams,
    first: ConfusionPreview | None = None,
    early: CalibrationPreview | None = None,
) -> Preview:
    """The scores of the mergeable state (``metrics.state``) of all the rows as one
    shard, so this path and a sharded one agree to the bit, and the matrices drawn;
    ``first``: its class order, and ``early``: its calibration, if the caller has them."""
    state = state_of(
        predictions.actual,
        predictions.predicted,
        predictions.proba,
        n_classes=len(predictions.classes),
        top_k=TOP_K,
        calibration_bins=settings.calibration_bins,
        calibration=None if early is None else early.sums,
    )
    scores = finish(state)
    order = first.order if first else class_order(scores.counts, method=settings.class_order)
    label_only = predictions.proba is None
    return Preview(scores, scores.counts, pairwise_matrix(scores), label_only, order)


def pairwise_matrix(scores: Scores) -> np.ndarray:
    """The pairwise accuracy drawn and reported: from the probabilities, or from the
    confusion matrix in a label-only set."""
    if scores.pairwise_accuracy is None:
        return metrics.pairwise_label_accuracy(scores.counts)
    return scores.pairwise_accuracy


def evaluate(
    predictions: Predictions,
    settings: params.EvaluateParams,
    *,
    preview: Preview | None = None,
) -> Evaluation:
    """``preview`` (``preview_of(predictions, settings)``), when the caller has it: a
    caller drawing meanwhile computes it first. The per-pair AUC is exact, from the
    scores themselves."""
    preview = preview or preview_of(predictions, settings)
    scores = preview.scores
    auc = None
    if predictions.proba is not None:
        auc = metrics.pairwise_auc(predictions.actual, predictions.proba)
    digest = content_digest(predictions)
    return evaluate_scores(
        scores, settings, classes=predictions.classes, digest=digest, auc=auc, order=preview.order
    )


def evaluate_state(
    state: EvaluationState,
    settings: params.EvaluateParams,
    *,
    classes: tuple[str, ...],
    digest: str,
) -> Evaluation:
    """The evaluation of a merged state (a sharded evaluation): its AUC binned."""
    scores = finish(state)
    return evaluate_scores(
        scores,
        settings,
        classes=classes,
        digest=digest,
        auc=scores.auc,
        auc_error_bound=scores.auc_error_bound,
    )


def evaluate_scores(
    scores: Scores,
    settings: params.EvaluateParams,
    *,
    classes: tuple[str, ...],
    digest: str,
    auc: np.ndarray | None,
    auc_error_bound: np.ndarray | None = None,
    order: ClassOrder | None = None,
) -> Evaluation:
    """The payloads from finished scores, the content digest and the per-pair AUC; with
    ``auc_error_bound``, the AUC is binned (a sharded evaluation) and says so. ``order``:
    the heatmaps' class order, computed from the counts when None."""
    counts = scores.counts
    if order is None:
        order = class_order(counts, method=settings.class_order)
    pairwise = pairwise_matrix(scores)
    accuracy = None if auc is None else pairwise
    payloads = {
        "metrics": headline_metrics(scores, classes, auc),
        "intervals": intervals_report(counts, settings),
        # which predictions these are: a comparison made from others is refused
        # matrices in the class list's order; the heatmaps' order beside them
        "confusion": confusion_report(counts, classes)
        | {"predictions_sha256": digest}
        | {"class_order": order_report(order, classes)},
        "top_confusions": top_confusions_report(counts, classes, limit=settings.top_confusions),
        "pairwise": pairwise_report(pairwise if auc is None else None, accuracy, auc, classes),
        "per_class": per_class_report(counts, classes),
    }
    if auc_error_bound is not None:
        payloads["metrics"]["auc_ovo_m_error_bound"] = metrics.m_measure(auc_error_bound)
        payloads["pairwise"] |= binned_auc_report(auc_error_bound)
    calibration = scores.calibration
    payloads["calibration"] = calibration_payload(calibration, classes)
    if calibration is not None:
        payloads["metrics"] |= {"ece": calibration.ece, "classwise_ece": calibration.classwise_ece}
    return Evaluation(
        classes=classes,
        counts=counts,
        pairwise=pairwise,
        label_only=scores.pairwise_accuracy is None,
        payloads=payloads,
        order=order,
        calibration=calibration,
    )


def calibration_payload(
    calibration: calibrated.Calibration | None, classes: tuple[str, ...]
) -> dict[str, Any]:
    """``calibration.json``: the bins, or the note that a label-only set has none."""
    if calibration is None:
        return {"note": calibrated.LABEL_ONLY_NOTE}
    return calibrated.calibration_report(calibration, classes)


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
        binned = headline.get("auc_ovo_m_error_bound")
        lines.append(
            f"log loss {headline['log_loss']:.4f}, top-2 accuracy "
            f"{headline['top_2_accuracy']:.4f}, one-vs-one AUC {headline['auc_ovo_m']:.4f}"
            + ("" if binned is None else f" (binned: exact within {binned:.2g})")
            + f"; calibration error (ECE) {headline['ece']:.4f}, classwise "
            f"{headline['classwise_ece']:.4f}"
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
