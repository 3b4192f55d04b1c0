"""Predicting the held-out split: every class's probability and the most probable class."""

from typing import Any

from digitwise.data import datasets
from digitwise.errors import UserError
from digitwise.models import estimators as models
from digitwise.predictions.schema import Predictions


def predict(model: Any, split: datasets.Dataset) -> Predictions:
    """Probabilities for every class, and the most probable class as the prediction.

    The prediction is the arg max of the probabilities (ties to the lowest class
    index), so every number in the file tells one consistent story. A model whose
    probabilities for a sample are not finite numbers is a ``UserError`` naming the
    sample (a model whose numbers are finite can still overflow on some input).
    """
    features = datasets.features(split.images, split.pixel_max)
    try:
        with models.one_blas_thread():  # the same numbers on any machine
            proba = models.class_probabilities(model, features, len(split.classes))
    except models.NonFiniteProbabilities as error:
        raise UserError(f"{error} for sample {split.ids[error.row]}") from None
    return Predictions(
        sample=split.ids,
        actual=split.labels,
        predicted=proba.argmax(axis=1),
        proba=proba,
        classes=split.classes,
    )
