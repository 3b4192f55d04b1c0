"""The explain stage's two figures: per-class mean attribution maps, and examples beside
their maps for the true and the predicted class. Drawing only."""

from typing import Any

import numpy as np

from digitwise.pixels.explanation import Explanation
from digitwise.predictions.schema import Predictions


def explanation_figures(
    explanation: Explanation,
    predictions: Predictions,
    images: np.ndarray,
    pixel_max: int,
) -> tuple[Any, Any]:
    """(class means figure, examples figure). images: (n, height, width), row i the
    image of predictions row i."""
    from digitwise.figures import attribution as plots

    shape = images.shape[1:]
    classes = predictions.classes
    mean_label, sample_label = plots.VALUE_LABELS[explanation.method]
    how = (
        "linear SHAP on the logit"
        if explanation.method == "linear_shap"
        else "occlusion effect on p(class)"
        + (f", {explanation.patch}x{explanation.patch} patches" if explanation.patch > 1 else "")
    )
    means = plots.class_means_figure(
        explanation.means.reshape(len(classes), *shape),
        classes,
        explanation.counts,
        digits=class_mean_images(images, predictions.actual, explanation.averaged, len(classes)),
        pixel_max=pixel_max,
        label=mean_label,
        title=(
            f"Mean pixel attribution for each true class ({how})\n"
            f"{len(explanation.averaged)} held-out samples vs the mean training image; "
            "red raises the class's score"
        ),
    )
    phi = explanation.example_phi
    examples = [
        plots.Example(
            sample=int(predictions.sample[i]),
            actual=classes[predictions.actual[i]],
            predicted=classes[predictions.predicted[i]],
            confidence=float(predictions.proba[i, predictions.predicted[i]]),
            image=images[i],
            for_actual=row[predictions.actual[i]].reshape(shape),
            for_predicted=row[predictions.predicted[i]].reshape(shape),
        )
        for i, row in zip(explanation.examples.tolist(), phi, strict=True)
    ]
    figure = plots.examples_figure(
        examples,
        pixel_max=pixel_max,
        label=sample_label,
        title=f"Held-out examples, mistakes first ({how})",
    )
    return means, figure


def class_mean_images(
    images: np.ndarray, actual: np.ndarray, rows: np.ndarray, n_classes: int
) -> np.ndarray:
    """(n_classes, height, width): the mean of ``images[rows]`` by true class ``actual``
    (class indices), the digit drawn under that class's mean map; NaN for a class with
    none of ``rows``."""
    labels = np.asarray(actual)[rows]
    by_class = np.argsort(labels, kind="stable")
    picked = images[np.asarray(rows)[by_class]].reshape(len(rows), -1).astype(np.float64)
    present, starts, counts = np.unique(labels[by_class], return_index=True, return_counts=True)
    means = np.full((n_classes, picked.shape[1]), np.nan)
    if len(present):
        means[present] = np.add.reduceat(picked, starts, axis=0) / counts[:, None]
    return means.reshape(n_classes, *images.shape[1:])
