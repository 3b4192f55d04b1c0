"""Stage explain: which pixels push the model toward each class, as in SHAP's image plots.

A logistic regression is explained exactly: the SHAP values of its logits with
independent pixels (``linear_shap``), for every held-out sample, since they cost one
multiplication each. Any other model is explained by occlusion on its probabilities:
each pixel in turn set to its training mean, (P + 1) model evaluations per sample, for
a seeded subset of at most ``attribution.max_samples`` held-out samples plus the
examples drawn. Both measure against the same background, the mean training image.

Reads the predictions file for which samples were misclassified and how confidently,
and checks that the model gives the same probabilities before explaining it.
"""

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from stages import attribution, datasets, model_io, outputs, params
from stages.cli import UserError, run
from stages.predictions import Predictions, read_csv, rows_in_split

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
    phi: np.ndarray  # (m, n_classes, P); NaN for a class the model was not fitted on
    base: np.ndarray | None  # (n_classes,) logits of the background (linear only)
    efficiency_error: float | None  # max |base + sum phi - logits| (linear only)
    evaluations: int  # model evaluations (rows through the model) the attribution took
    averaged: np.ndarray  # positions averaged into the per-class maps, increasing
    means: np.ndarray  # (n_classes, P) mean phi[:, c] over averaged samples of true class c
    counts: np.ndarray  # (n_classes,) samples averaged per class
    examples: np.ndarray  # positions drawn, in drawing order

    def phi_of(self, positions: np.ndarray) -> np.ndarray:
        """phi for some explained positions: (len(positions), n_classes, P)."""
        return self.phi[np.searchsorted(self.explained, positions)]


def fitted_classes(model: Any) -> np.ndarray:
    """The model's classes as indices into the class list (its output columns, in order)."""
    return np.asarray(model.classes_).astype(np.int64)  # checked by model_io.check_fits_data


def expand_classes(
    values: np.ndarray, fitted: np.ndarray, n_classes: int, *, fill: float
) -> np.ndarray:
    """Values over the model's classes (axis 1) placed at their columns among all classes."""
    shape = (values.shape[0], n_classes, *values.shape[2:])
    full = np.full(shape, fill, dtype=np.float64)
    full[:, fitted] = values
    return full


def check_same_model(
    model: Any, features: np.ndarray, predictions: Predictions, fitted: np.ndarray, source: str
) -> None:
    """The predictions must be this model's: the examples' titles quote them."""
    proba = expand_classes(model.predict_proba(features), fitted, len(predictions.classes), fill=0)
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
) -> Explanation:
    """Attributions for the predictions' samples. features: (n, P) in 0..1, row i the
    sample of predictions row i; background: (P,) the mean training features."""
    n_classes = len(predictions.classes)
    fitted = fitted_classes(model)
    n, n_features = features.shape
    confidence = predictions.proba[np.arange(n), predictions.predicted]
    examples = attribution.select_examples(
        predictions.actual, predictions.predicted, confidence, predictions.sample, settings.examples
    )
    if is_linear(model):
        # Exact and cheap: explain every sample, average over all of them.
        explained = averaged = np.arange(n)
        coef, intercept = attribution.linear_coefficients(model)
        base, phi = attribution.linear_shap(coef, intercept, features, background)
        logits = attribution.linear_logits(model, features)
        error = attribution.efficiency_error(base, phi, logits)
        if not error <= EFFICIENCY_TOLERANCE * max(1.0, float(np.abs(logits).max())):
            raise RuntimeError(f"linear SHAP values do not add up to the logits: error {error}")
        method, evaluations = "linear_shap", n  # the decision_function call of the check
        base = expand_classes(base[np.newaxis], fitted, n_classes, fill=np.nan)[0]
    else:
        averaged = attribution.seeded_subset(n, settings.max_samples, settings.seed)
        explained = np.union1d(averaged, examples)
        phi = attribution.occlusion(model.predict_proba, features[explained], background)
        base, error = None, None
        method = "occlusion"
        evaluations = attribution.occlusion_evaluations(len(explained), n_features)
    phi = expand_classes(phi, fitted, n_classes, fill=np.nan)
    averaged_phi = phi[np.searchsorted(explained, averaged)]
    labels = predictions.actual[averaged]
    return Explanation(
        method=method,
        explained=explained,
        phi=phi,
        base=base,
        efficiency_error=error,
        evaluations=evaluations,
        averaged=averaged,
        means=attribution.class_means(averaged_phi, labels, n_classes),
        counts=np.bincount(labels, minlength=n_classes),
        examples=examples,
    )


MEASURES = {
    "linear_shap": (
        "phi[c][p] = coef[c][p] * (x[p] - mean[p]): exact SHAP values of class c's logit "
        "(decision_function; for a binary model class 1 gets d and class 0 gets -d, each "
        "class's log-odds) with independent pixels; base[c] + sum_p phi[c][p] = logit[c]"
    ),
    "occlusion": (
        "phi[c][p] = p(c | x) - p(c | x with pixel p set to mean[p]) (predict_proba): how "
        "much pixel p alone raises the probability of class c; pixels interact, so these "
        "do not sum to p(c | x) - p(c | mean)"
    ),
}


def report(
    explanation: Explanation,
    predictions: Predictions,
    *,
    model: Any,
    n_features: int,
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
        cost = {
            "how": "predict_proba on each explained sample and on its copy with each pixel "
            "occluded, batched",
            "evaluations_per_sample": n_features + 1,
        }
        selection = (
            f"all {n} held-out samples"
            if len(explanation.averaged) == n
            else f"{len(explanation.averaged)} of {n} held-out samples, uniformly at random "
            f"(max_samples {settings.max_samples}, seed {settings.seed})"
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


def draw(
    explanation: Explanation,
    predictions: Predictions,
    images: np.ndarray,
    pixel_max: int,
) -> tuple[Any, Any]:
    """(class means figure, examples figure). images: (n, height, width), row i the
    image of predictions row i."""
    from stages import attribution_plots as plots

    shape = images.shape[1:]
    classes = predictions.classes
    mean_label, sample_label = plots.VALUE_LABELS[explanation.method]
    how = (
        "linear SHAP on the logit"
        if explanation.method == "linear_shap"
        else "occlusion effect on p(class)"
    )
    means = plots.class_means_figure(
        explanation.means.reshape(len(classes), *shape),
        classes,
        explanation.counts,
        label=mean_label,
        title=(
            f"Mean pixel attribution for each true class ({how})\n"
            f"{len(explanation.averaged)} held-out samples vs the mean training image; "
            "red raises the class's score"
        ),
    )
    phi = explanation.phi_of(explanation.examples)
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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", required=True, help="params.yaml")
    parser.add_argument("--data", required=True, help="directory of prepared splits")
    parser.add_argument("--model", required=True, help="the skops model file")
    parser.add_argument("--predictions", required=True, help="the predictions CSV of the model")
    parser.add_argument("--attribution", required=True, help="attribution JSON to write")
    parser.add_argument("--class-means-plot", required=True, help="PNG of per-class mean maps")
    parser.add_argument("--examples-plot", required=True, help="PNG of the examples")
    args = parser.parse_args(argv)
    outputs.check_destinations(args.attribution, args.class_means_plot, args.examples_plot)

    settings = params.attribution_params(params.load(args.params))
    train = datasets.load_split(args.data, "train")
    test = datasets.load_split(args.data, "test")
    predictions = read_csv(args.predictions, test.classes)
    rows = rows_in_split(
        predictions,
        test.ids,
        test.labels,
        source=args.predictions,
        split=Path(args.data) / "test_ids.npy",
    )
    model = model_io.load_model(args.model)
    model_io.check_fits_data(
        model,
        args.model,
        n_features=int(np.prod(test.images.shape[1:])),
        n_classes=len(test.classes),
    )
    features = datasets.features(test.images[rows], test.pixel_max)
    check_same_model(
        model,
        features,
        predictions,
        fitted_classes(model),
        args.predictions,
    )
    background = datasets.features(train.images, train.pixel_max).mean(axis=0)

    explanation = explain(model, features, predictions, background, settings)
    payload = report(
        explanation,
        predictions,
        model=model,
        n_features=features.shape[1],
        n_train=len(train.labels),
        settings=settings,
    )

    from stages.outputs import png_bytes, write_bytes, write_json

    figures = draw(explanation, predictions, test.images[rows], test.pixel_max)
    images = {
        path: png_bytes(figure)
        for path, figure in zip((args.class_means_plot, args.examples_plot), figures, strict=True)
    }
    write_json(args.attribution, payload)
    for path, image in images.items():
        write_bytes(path, image)


if __name__ == "__main__":
    sys.exit(run(main))
