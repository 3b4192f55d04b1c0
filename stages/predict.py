"""Stage predict: one row per held-out sample with the class probabilities."""

import argparse
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from stages import datasets, model_io, models, outputs
from stages.cli import run
from stages.outputs import write_text
from stages.predictions import Predictions, to_csv


def predict(model: Any, split: datasets.Dataset) -> Predictions:
    """Probabilities for every class, and the most probable class as the prediction.

    The prediction is the arg max of the probabilities (ties to the lowest class
    index), so every number in the file tells one consistent story.
    """
    features = datasets.features(split.images, split.pixel_max)
    with models.one_blas_thread():  # the same numbers on any machine
        proba = models.class_probabilities(model, features, len(split.classes))
    return Predictions(
        sample=split.ids,
        actual=split.labels,
        predicted=proba.argmax(axis=1),
        proba=proba,
        classes=split.classes,
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="directory of prepared splits")
    parser.add_argument("--model", required=True, help="the skops model file")
    parser.add_argument("--out", required=True, help="the predictions CSV to write")
    args = parser.parse_args(argv)
    outputs.check_destinations(args.out)

    split = datasets.load_split(args.data, "test")
    model = model_io.load_model(args.model)
    model_io.check_fits_data(
        model,
        args.model,
        n_features=int(np.prod(split.images.shape[1:])),
        n_classes=len(split.classes),
    )
    write_text(args.out, to_csv(predict(model, split)))


if __name__ == "__main__":
    sys.exit(run(main))
