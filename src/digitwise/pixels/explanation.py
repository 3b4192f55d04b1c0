"""Explanations: which pixels push the model toward each class, as in SHAP's image plots.

A logistic regression is explained exactly: the SHAP values of its logits with
independent pixels (``linear_shap``), for every held-out sample, since they cost one
multiplication each. Any other model is explained by occlusion on its probabilities:
each square patch of ``attribution.patch`` pixels in turn set to its training mean,
(pixels / patch^2 + 1) model evaluations per sample, for the examples drawn plus a
seeded subset of at most ``attribution.max_samples`` held-out samples, as many as fit
in ``attribution.max_evaluations``. Both measure against the same background, the mean
training image.

The explain stage reads the predictions file for which samples were misclassified and
how confidently, and checks that the model gives the same probabilities before
explaining it (``check_same_model``). ``digitwise.figures.explanation`` draws the result.
"""

from dataclasses import dataclass
from typing import Any

import numpy as np

from digitwise import params
from digitwise.data import datasets
from digitwise.errors import UserError
from digitwise.models import estimators as models
from digitwise.pixels import attribution
from digitwise.predictions.schema import Predictions

# The model must reproduce the predictions file's probabilities to this much (the
# file holds them as exact round-trip reprs, so any real difference is another model).
PROBA_TOLERANCE = 1e-6


# base + sum(phi) must equal the logits to rounding; more is a bug in this code.
EFFICIENCY_TOLERANCE = 1e-8


@dataclass(frozen=True)
class Explanation:
    """Attributions for the samples of a predictions file, and which ones to show.

    Positions (``explained``, ``averaged``, ``examples``) index the predictions' rows.
    """

    method: str  # "linear_shap" or "occlusion"
    explained: np.ndarray  # (m,) positions explained, increasing
    examples: np.ndarray  # positions drawn, in drawing order
    example_phi: np.ndarray  # (len(examples), n_classes, P); NaN for a class not fitted
    base: np.ndarray | None  # (n_classes,) logits of the background (linear only)
    efficiency_error: float | None  # max |base + sum phi - logits| (linear only)
    evaluations: int  # model evaluations (rows through the model) the attribution took
    patch: int | None  # side of the occluded squares (occlusion only)
    n_patches: int | None  # patches per image (occlusion only)
    averaged: np.ndarray  # positions averaged into the per-class maps, increasing
    means: np.ndarray  # (n_classes, P) mean phi[:, c] over averaged samples of true class c
    counts: np.ndarray  # (n_classes,) samples averaged per class


# Samples whose (n, C, P) linear SHAP values are held at once while checking that they
# add up: 10,000 MNIST samples at once would be 630 MB of float64.
LINEAR_CHUNK = 500


def fitted_classes(model: Any) -> np.ndarray:
    """The model's classes as indices into the class list (its output columns, in order)."""
    return np.asarray(model.classes_).astype(np.int64)  # checked by files.check_fits_data


def expand_classes(
    values: np.ndarray, fitted: np.ndarray, n_classes: int, *, fill: float
) -> np.ndarray:
    """Values over the model's classes (axis 1) placed at their columns among all classes."""
    shape = (values.shape[0], n_classes, *values.shape[2:])
    full = np.full(shape, fill, dtype=np.float64)
    full[:, fitted] = values
    return full


def check_same_model(
    model: Any, features: np.ndarray, predictions: Predictions, source: str
) -> None:
    """The predictions must be this model's: the examples' titles quote them."""
    proba = models.class_probabilities(model, features, len(predictions.classes))
    difference = np.abs(proba - predictions.proba).max(axis=1)
    if difference.max() > PROBA_TOLERANCE:
        i = int(difference.argmax())
        raise UserError(
            f"{source}: probabilities differ from the model's by up to {difference[i]:.3g} "
            f"(sample {predictions.sample[i]}); rerun predict with this model"
        )


def is_linear(model: Any) -> bool:
    from sklearn.linear_model import LogisticRegression

    return isinstance(model, LogisticRegression)


def explain(
    model: Any,
    features: np.ndarray,
    predictions: Predictions,
    background: np.ndarray,
    settings: params.AttributionParams,
    image_shape: tuple[int, int],
) -> Explanation:
    """Attributions for the predictions' samples. features: (n, P) in 0..1, row i the
    sample of predictions row i; background: (P,) the mean training features;
    image_shape: (height, width) with height * width == P."""
    n_classes = len(predictions.classes)
    fitted = fitted_classes(model)
    n = len(features)
    confidence = predictions.proba[np.arange(n), predictions.predicted]
    examples = attribution.select_examples(
        predictions.actual, predictions.predicted, confidence, predictions.sample, settings.examples
    )
    labels = predictions.actual
    if is_linear(model):
        return _explain_linear(model, features, labels, background, examples, n_classes, fitted)
    masks = attribution.patches(image_shape, settings.patch)
    per_sample = len(masks) + 1
    affordable = settings.max_evaluations // per_sample - len(examples)
    if affordable < (1 if n else 0):  # the examples, and at least one sample to average
        raise UserError(
            f"attribution.max_evaluations={settings.max_evaluations} cannot pay for the "
            f"{len(examples)} examples drawn and one sample for the class means, at "
            f"{per_sample} model evaluations each ({len(masks)} patches of "
            f"{settings.patch}x{settings.patch} pixels, plus the sample itself): raise it to at "
            f"least {(len(examples) + 1) * per_sample}, or lower attribution.examples, or raise "
            "attribution.patch"
        )
    averaged = datasets.seeded_subset(n, min(settings.max_samples, affordable), settings.seed)
    explained = np.union1d(averaged, examples)
    phi = attribution.occlusion(model.predict_proba, features[explained], background, masks=masks)
    phi = expand_classes(phi, fitted, n_classes, fill=np.nan)
    averaged_phi = phi[np.searchsorted(explained, averaged)]
    return Explanation(
        method="occlusion",
        explained=explained,
        examples=examples,
        example_phi=phi[np.searchsorted(explained, examples)],
        base=None,
        efficiency_error=None,
        evaluations=attribution.occlusion_evaluations(len(explained), len(masks)),
        patch=settings.patch,
        n_patches=len(masks),
        averaged=averaged,
        means=attribution.class_means(averaged_phi, labels[averaged], n_classes),
        counts=np.bincount(labels[averaged], minlength=n_classes),
    )


def _explain_linear(
    model: Any,
    features: np.ndarray,
    labels: np.ndarray,
    background: np.ndarray,
    examples: np.ndarray,
    n_classes: int,
    fitted: np.ndarray,
) -> Explanation:
    """Exact and cheap: every sample is explained and averaged. The values are made and
    checked a chunk of samples at a time; only the examples' are kept."""
    n = len(features)
    # float64, so that the values add up to the logits to rounding: decision_function of
    # float64 pixels with the float64 copy of the coefficients is the exact linear model
    features = features.astype(np.float64)
    coef, intercept = attribution.linear_coefficients(model)
    logits = attribution.linear_logits(model, features)
    base, example_phi = attribution.linear_shap(coef, intercept, features[examples], background)
    error = float("nan") if n == 0 else 0.0  # as efficiency_error says of no samples
    for start in range(0, n, LINEAR_CHUNK):
        rows = slice(start, start + LINEAR_CHUNK)
        _, phi = attribution.linear_shap(coef, intercept, features[rows], background)
        error = max(error, attribution.efficiency_error(base, phi, logits[rows]))
    if not error <= EFFICIENCY_TOLERANCE * max(1.0, float(np.abs(logits).max(initial=0))):
        raise RuntimeError(f"linear SHAP values do not add up to the logits: error {error}")
    everyone = np.arange(n)
    return Explanation(
        method="linear_shap",
        explained=everyone,
        examples=examples,
        example_phi=expand_classes(example_phi, fitted, n_classes, fill=np.nan),
        base=expand_classes(base[np.newaxis], fitted, n_classes, fill=np.nan)[0],
        efficiency_error=error,
        evaluations=n,  # the decision_function call of the check
        patch=None,
        n_patches=None,
        averaged=everyone,
        means=_linear_means(coef, features, labels, background, fitted, n_classes),
        counts=np.bincount(labels, minlength=n_classes),
    )


def _linear_means(
    coef: np.ndarray,
    features: np.ndarray,
    labels: np.ndarray,
    background: np.ndarray,
    fitted: np.ndarray,
    n_classes: int,
) -> np.ndarray:
    """(n_classes, P): mean over class c's samples of phi[:, c], which for linear SHAP is
    coef[c] * (mean x of class c - background). NaN for a class with no samples or one
    the model was not fitted on."""
    means = np.full((n_classes, features.shape[1]), np.nan)
    for column, c in enumerate(fitted.tolist()):
        members = labels == c
        if members.any():
            means[c] = coef[column] * (features[members].mean(axis=0) - background)
    return means


MEASURES = {
    "linear_shap": (
        "phi[c][p] = coef[c][p] * (x[p] - mean[p]): exact SHAP values of class c's logit "
        "(decision_function; for a binary model class 1 gets d and class 0 gets -d, each "
        "class's log-odds) with independent pixels; base[c] + sum_p phi[c][p] = logit[c]"
    ),
    "occlusion": (
        "phi[c][p] = (p(c | x) - p(c | x with the patch of pixel p set to mean)) / (pixels in "
        "that patch) (predict_proba): how much the square patch holding pixel p raises the "
        "probability of class c, shared equally among its pixels (with 1-pixel patches, "
        "pixel p alone); patches interact, so these do not sum to p(c | x) - p(c | mean)"
    ),
}


def report(
    explanation: Explanation,
    predictions: Predictions,
    *,
    model: Any,
    n_train: int,
    settings: params.AttributionParams,
) -> dict[str, Any]:
    """The attribution.json payload: what was computed, for which samples, at what cost."""
    classes = predictions.classes
    ids = predictions.sample
    n = len(ids)
    linear = explanation.method == "linear_shap"
    if linear:
        cost = {
            "how": "closed form from the coefficients, plus one decision_function call per "
            "explained sample to check that the values add up to the logits",
            "evaluations_per_sample": 1,
        }
        selection = f"all {n} held-out samples (exact and cheap, max_samples not applied)"
    else:
        patch = explanation.patch
        cost = {
            "how": f"predict_proba on each explained sample and on its copy with each "
            f"{patch}x{patch} patch occluded, batched",
            "patch": patch,
            "patches_per_image": explanation.n_patches,
            "evaluations_per_sample": explanation.n_patches + 1,
            "max_evaluations": settings.max_evaluations,
        }
        selection = (
            f"all {n} held-out samples"
            if len(explanation.averaged) == n
            else f"{len(explanation.averaged)} of {n} held-out samples, uniformly at random "
            f"(max_samples {settings.max_samples}, max_evaluations "
            f"{settings.max_evaluations} after the examples, seed {settings.seed})"
        )
    confidence = predictions.proba[np.arange(n), predictions.predicted]
    payload: dict[str, Any] = {
        "method": explanation.method,
        "model": type(model).__name__,
        "measures": MEASURES[explanation.method],
        "units": "logit" if linear else "probability",
        "background": f"mean training image (pixels scaled to 0..1), {n_train} samples",
        "cost": {
            **cost,
            "explained_samples": len(explanation.explained),
            "model_evaluations": explanation.evaluations,
            # not attribution, and not in the budget: the stage first checks that the
            # model gives the predictions file's probabilities
            "check_evaluations": n,
        },
        "explained_sample_ids": ids[explanation.explained].tolist(),
        "class_means": {
            "selection": selection,
            "samples_per_class": dict(zip(classes, explanation.counts.tolist(), strict=True)),
            "sample_ids": ids[explanation.averaged].tolist(),
        },
        "examples": [
            {
                "sample": int(ids[i]),
                "actual": classes[predictions.actual[i]],
                "predicted": classes[predictions.predicted[i]],
                "p_predicted": float(confidence[i]),
                "correct": bool(predictions.actual[i] == predictions.predicted[i]),
            }
            for i in explanation.examples.tolist()
        ],
        "example_order": "mistakes first, most confident first; then correct predictions, "
        "least confident first; ties by sample id",
    }
    if linear:
        payload["base_values"] = dict(zip(classes, explanation.base.tolist(), strict=True))
        payload["efficiency_max_abs_error"] = explanation.efficiency_error
    return payload
