"""Stage train: fit the classifier chosen in params on the training split."""

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from stages import datasets, model_io, models, outputs, params, training_steps
from stages.cli import UserError, run


def train(
    features: np.ndarray,
    labels: np.ndarray,
    *,
    model: str,
    hyperparameters: dict,
    seed: int,
    n_classes: int,
) -> Any:
    """A fitted estimator. features: (n_samples, n_features) in 0..1; labels: (n_samples,)
    class indices in 0..n_classes-1."""
    neighbours = hyperparameters.get("n_neighbors", 0) if model == "knn" else 0
    if neighbours > len(labels):
        raise UserError(
            f"train.knn.n_neighbors={neighbours} is more than the {len(labels)} training samples"
        )
    try:
        with models.one_blas_thread():
            if training_steps.trains_in_steps(model):
                # Epoch by epoch, as the steps stage trains it, so the saved model is the last
                # step of the curves that stage draws. MLPClassifier.fit would order the epochs
                # differently and stop once the training loss stalls for n_iter_no_change epochs.
                fitted = training_steps.fit_stepwise(
                    model, hyperparameters, seed, features, labels, n_classes=n_classes
                )
            else:
                fitted = models.build(model, hyperparameters, seed).fit(features, labels)
    except ValueError as error:
        # scikit-learn's own checks of data against settings, e.g. SVC's 5-fold
        # calibration on a class with fewer than 5 training samples
        raise UserError(f"train.model={model} cannot be fitted on this split: {error}") from None
    return models.make_portable(model, fitted)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", required=True, help="params.yaml")
    parser.add_argument("--data", required=True, help="directory of prepared splits")
    parser.add_argument("--model", required=True, help="where to write the skops model")
    args = parser.parse_args(argv)
    outputs.check_destinations(args.model)

    settings = params.train_params(params.load(args.params), models.SCHEMAS)
    split = datasets.load_split(args.data, "train")
    rows = datasets.seeded_subset(len(split.labels), settings.max_samples, settings.seed)
    fitted = train(
        datasets.features(split.images[rows], split.pixel_max),
        split.labels[rows],
        model=settings.model,
        hyperparameters=dict(settings.hyperparameters),
        seed=settings.seed,
        n_classes=len(split.classes),
    )
    model_io.save_model(fitted, args.model)


if __name__ == "__main__":
    sys.exit(run(main))
