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
        # Overflow on the way is judged by the result below, not printed as warnings.
        with models.one_blas_thread(), np.errstate(all="ignore"):
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
    check_converged(fitted, features[:CHECKED_ROWS], model=model, n_classes=n_classes)
    return models.make_portable(model, fitted)


# Training rows whose probabilities are checked after the fit: a few suffice to see a
# model that diverged, and cost nothing next to the fit.
CHECKED_ROWS = 100


def check_converged(fitted: Any, features: np.ndarray, *, model: str, n_classes: int) -> None:
    """Refuse a fitted model with NaN or infinite numbers, or whose probabilities for
    ``features`` are not finite: too large a learning rate (or too little
    regularisation) made it diverge. Predict would refuse its file."""
    where = models.non_finite_part(fitted)
    problem = f"its fitted {where} holds NaN or infinite values" if where is not None else None
    if problem is None:
        try:
            with models.one_blas_thread():
                models.class_probabilities(fitted, features, n_classes)
        except models.NonFiniteProbabilities as error:
            problem = f"{error} on the training samples"
    if problem is not None:
        raise UserError(
            f"train.model={model} diverged: {problem}; try a smaller learning rate or "
            "more regularisation"
        )
