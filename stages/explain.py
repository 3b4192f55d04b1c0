"""Stage explain: which pixels push the model toward each class, as in SHAP's image plots.

Exact linear SHAP for a logistic regression, occlusion of square patches within a budget
for any other model; ``digitwise.pixels.explanation`` says how, and checks first that the
model gives the predictions file's probabilities."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from digitwise import params
from digitwise.cli import run
from digitwise.data import datasets
from digitwise.errors import UserError
from digitwise.io import outputs
from digitwise.models import estimators as models
from digitwise.models import files as model_io
from digitwise.pixels.explanation import check_same_model, explain, report
from digitwise.predictions.reading import read_predictions
from digitwise.predictions.schema import require_probabilities, rows_in_split


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
    written = (args.attribution, args.class_means_plot, args.examples_plot)
    read = (args.params, args.data, args.predictions, args.model)
    outputs.check_destinations(*written, inputs=read)

    settings = params.attribution_params(params.load(args.params))
    train = datasets.load_split(args.data, "train")
    test = datasets.load_split(args.data, "test")
    predictions = read_predictions(args.predictions, test.classes)
    require_probabilities(predictions, args.predictions, "explaining predictions")
    rows = rows_in_split(
        predictions,
        test.ids,
        test.labels,
        source=args.predictions,
        split=Path(args.data) / "test_ids.npy",
    )
    model = model_io.load_model(
        args.model, n_features=int(np.prod(test.images.shape[1:])), n_classes=len(test.classes)
    )
    features = datasets.features(test.images[rows], test.pixel_max)  # as predict makes them
    background = datasets.features(train.images, train.pixel_max).mean(axis=0, dtype=np.float64)
    image_shape = test.images.shape[1:]
    with models.one_blas_thread():  # the numbers predict gives, on any machine
        try:
            check_same_model(model, features, predictions, args.predictions)
        except models.NonFiniteProbabilities as error:  # the model's numbers, not the data's
            sample = predictions.sample[error.row]
            raise UserError(f"{args.model}: {error} for sample {sample}") from None
        try:
            explanation = explain(model, features, predictions, background, settings, image_shape)
        except UserError as error:  # a setting that does not fit this data: name the file
            raise UserError(f"{args.params}: {error}") from None
    payload = report(
        explanation,
        predictions,
        model=model,
        n_train=len(train.labels),
        settings=settings,
    )

    from digitwise.figures.explanation import explanation_figures
    from digitwise.io.outputs import json_text, png_bytes, write_all

    figures = explanation_figures(explanation, predictions, test.images[rows], test.pixel_max)
    images = {
        path: png_bytes(figure)
        for path, figure in zip((args.class_means_plot, args.examples_plot), figures, strict=True)
    }
    write_all({args.attribution: json_text(payload), **images})


if __name__ == "__main__":
    sys.exit(run(main))
