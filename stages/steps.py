"""Stage steps: accuracy, log loss and the confusion matrix across training steps (epochs).

For a model trained in epochs (the MLP) it trains the model of the ``train`` section
again, one epoch per step for ``max_iter`` steps (``digitwise/models/steps.py`` says how
this run relates to the train stage's fit), and writes two DVC step plots and one
figure:

- the accuracy and the log loss on the training split and on the validation split
  after every step (``step,train,validation``, one CSV per metric);
- the validation confusion matrices at the ``steps.snapshots`` steps, normalized by
  true class, as small multiples: the static version of a step slider.

Validation is the held-out split of the prepared data (``test_*.npy``), used for
monitoring only. A model without steps still gets every output, saying so: CSVs
with just the header and a figure with one line of text."""

import argparse
import sys
from collections.abc import Sequence

from digitwise import params
from digitwise.cli import run
from digitwise.data import datasets
from digitwise.figures.steps import no_steps_figure, snapshots_figure
from digitwise.io import outputs
from digitwise.io.outputs import png_bytes, write_all
from digitwise.models import estimators as models
from digitwise.models import steps as training_steps


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", required=True, help="params.yaml")
    parser.add_argument("--data", required=True, help="directory of prepared splits")
    parser.add_argument("--accuracy", required=True, help="CSV of accuracy per step to write")
    parser.add_argument("--loss", required=True, help="CSV of log loss per step to write")
    parser.add_argument("--confusion-plot", required=True, help="PNG of the snapshot matrices")
    args = parser.parse_args(argv)
    written = (args.accuracy, args.loss, args.confusion_plot)
    outputs.check_destinations(*written, inputs=(args.params, args.data))

    raw = params.load(args.params)
    settings = params.train_params(raw, models.SCHEMAS)
    steps_settings = params.steps_params(raw)
    train = datasets.load_split(args.data, "train")
    validation = datasets.load_split(args.data, "test")  # held out; monitoring only

    # One BLAS thread, as the train stage fits: the same model to the bit on any machine.
    # An epoch is many small matrix products, for which thread hand-offs cost more than
    # they save anyway (3-4x slower with two threads on a busy 2-core machine).
    # the train stage's subset, so that this is the model it fits
    rows = datasets.seeded_subset(len(train.labels), settings.max_samples, settings.seed)
    scored = datasets.seeded_subset(len(rows), steps_settings.train_eval_samples, settings.seed)
    with models.one_blas_thread():
        history = training_steps.track(
            settings.model,
            dict(settings.hyperparameters),
            settings.seed,
            (datasets.features(train.images[rows], train.pixel_max), train.labels[rows]),
            (datasets.features(validation.images, validation.pixel_max), validation.labels),
            n_classes=len(train.classes),
            snapshots=steps_settings.snapshots,
            scored=scored,
        )
    scoring = (
        f"train curves score all {len(rows)} training samples"
        if len(scored) == len(rows)
        else f"train curves score {len(scored)} of the {len(rows)} training samples "
        f"(seeded subset, steps.train_eval_samples)"
    )
    figure = (
        snapshots_figure(history, train.classes, settings.model, scoring)
        if history.n_steps
        else no_steps_figure(settings.model)
    )
    image = png_bytes(figure)
    accuracy = training_steps.curve_csv(
        history.steps, history.train_accuracy, history.validation_accuracy
    )
    loss = training_steps.curve_csv(history.steps, history.train_loss, history.validation_loss)

    write_all({args.accuracy: accuracy, args.loss: loss, args.confusion_plot: image})


if __name__ == "__main__":
    sys.exit(run(main))
