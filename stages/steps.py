"""Stage steps: accuracy, log loss and the held-out confusion matrix across steps.

What a step is depends on the model (``steps.py`` and ``learning_curve.py`` in
``digitwise/models/`` say how each relates to the train stage's fit):

- the MLP trains in epochs: the model of the ``train`` section is trained again, one
  epoch per step for ``max_iter`` steps, and the confusion matrix is kept at the
  ``steps.snapshots`` epochs;
- every other model gets a learning curve: it is refitted on nested, stratified,
  seeded fractions of the training split (``steps.fractions`` of at most
  ``steps.max_samples``), one step per fraction, each with its confusion matrix.

It writes two DVC step plots (``step,step_kind,train_samples,train,validation``: the
accuracy and the log loss on the fitted samples and on the validation split after
every step) and one figure of the confusion matrices, normalized by true class, as
small multiples: the static version of a step slider. Validation is the held-out split
of the prepared data (``test_*.npy``), used for monitoring only."""

import argparse
import sys
from collections.abc import Sequence

from digitwise import params
from digitwise.cli import run
from digitwise.data import datasets
from digitwise.figures.steps import snapshots_figure
from digitwise.io import outputs
from digitwise.io.outputs import png_bytes, write_all
from digitwise.metrics.ordering import load_class_order
from digitwise.models import estimators as models
from digitwise.models import learning_curve
from digitwise.models import steps as training_steps


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", required=True, help="params.yaml")
    parser.add_argument("--data", required=True, help="directory of prepared splits")
    parser.add_argument("--accuracy", required=True, help="CSV of accuracy per step to write")
    parser.add_argument("--loss", required=True, help="CSV of log loss per step to write")
    parser.add_argument("--confusion-plot", required=True, help="PNG of the snapshot matrices")
    parser.add_argument("--confusion", help="the evaluate stage's confusion.json (class order)")
    args = parser.parse_args(argv)
    written = (args.accuracy, args.loss, args.confusion_plot)
    outputs.check_destinations(*written, inputs=(args.params, args.data, args.confusion))

    raw = params.load(args.params)
    settings = params.train_params(raw, models.SCHEMAS)
    steps_settings = params.steps_params(raw)
    train = datasets.load_split(args.data, "train")
    validation = datasets.load_split(args.data, "test")  # held out; monitoring only
    order = load_class_order(args.confusion, train.classes)  # None: the class list's

    # One BLAS thread, as the train stage fits: the same model to the bit on any machine.
    # An epoch is many small matrix products, for which thread hand-offs cost more than
    # they save anyway (3-4x slower with two threads on a busy 2-core machine).
    # the train stage's subset, so that this is the model it fits
    rows = datasets.seeded_subset(len(train.labels), settings.max_samples, settings.seed)
    fitted_on = (datasets.features(train.images[rows], train.pixel_max), train.labels[rows])
    held_out = (datasets.features(validation.images, validation.pixel_max), validation.labels)
    model, hyperparameters, seed = settings.model, dict(settings.hyperparameters), settings.seed
    with models.one_blas_thread():
        if training_steps.trains_in_steps(model):
            scored = datasets.seeded_subset(len(rows), steps_settings.train_eval_samples, seed)
            history = training_steps.track(
                *(model, hyperparameters, seed, fitted_on, held_out),
                n_classes=len(train.classes),
                snapshots=steps_settings.snapshots,
                scored=scored,
            )
            note = training_steps.scoring_note(len(scored), len(rows))
        else:
            history = learning_curve.track(
                *(model, hyperparameters, seed, fitted_on, held_out),
                n_classes=len(train.classes),
                subsets=learning_curve.nested_subsets(
                    train.labels[rows],
                    steps_settings.fractions,
                    max_samples=steps_settings.max_samples,
                    seed=seed,
                ),
                fractions=steps_settings.fractions,
                train_eval_samples=steps_settings.train_eval_samples,
            )
            note = learning_curve.base_note(
                len(rows), steps_settings.max_samples, steps_settings.train_eval_samples
            )
    image = png_bytes(snapshots_figure(history, train.classes, model, note, order=order))
    accuracy = training_steps.curve_csv(
        history, history.train_accuracy, history.validation_accuracy
    )
    loss = training_steps.curve_csv(history, history.train_loss, history.validation_loss)

    write_all({args.accuracy: accuracy, args.loss: loss, args.confusion_plot: image})


if __name__ == "__main__":
    sys.exit(run(main))
