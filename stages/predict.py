"""Stage predict: one row per held-out sample with the class probabilities."""

import argparse
import sys
from collections.abc import Sequence

import numpy as np

from digitwise.cli import run
from digitwise.data import datasets
from digitwise.errors import UserError
from digitwise.io import outputs
from digitwise.io.outputs import write_text
from digitwise.models import files as model_io
from digitwise.models.prediction import predict
from digitwise.predictions.schema import to_csv


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", required=True, help="directory of prepared splits")
    parser.add_argument("--model", required=True, help="the skops model file")
    parser.add_argument("--out", required=True, help="the predictions CSV to write")
    args = parser.parse_args(argv)
    outputs.check_destinations(args.out, inputs=(args.data, args.model))

    split = datasets.load_split(args.data, "test")
    model = model_io.load_model(
        args.model, n_features=int(np.prod(split.images.shape[1:])), n_classes=len(split.classes)
    )
    try:
        predictions = predict(model, split)
    except UserError as error:  # probabilities that are not numbers: the model's fault
        raise UserError(f"{args.model}: {error}") from None
    write_text(args.out, to_csv(predictions))


if __name__ == "__main__":
    sys.exit(run(main))
