"""Stage train: fit the classifier chosen in params on the training split."""

import argparse
import sys
from collections.abc import Sequence

from digitwise import params
from digitwise.cli import run
from digitwise.data import datasets
from digitwise.io import outputs
from digitwise.models import estimators as models
from digitwise.models import files as model_io
from digitwise.models.training import train


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", required=True, help="params.yaml")
    parser.add_argument("--data", required=True, help="directory of prepared splits")
    parser.add_argument("--model", required=True, help="where to write the skops model")
    args = parser.parse_args(argv)
    outputs.check_destinations(args.model, inputs=(args.params, args.data))

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
