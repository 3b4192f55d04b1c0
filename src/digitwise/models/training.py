"""Fitting the classifier chosen in params on the training split, the same on any machine."""

from typing import Any

import numpy as np

from digitwise.errors import UserError
from digitwise.models import estimators as models
from digitwise.models import steps as training_steps


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
