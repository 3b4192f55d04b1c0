"""Stage steps: accuracy, log loss and the confusion matrix across training steps (epochs).

For a model trained in epochs (the MLP) it trains the model of the ``train`` section
again, one epoch per step for ``max_iter`` steps (``stages/training_steps.py`` says how
this run relates to the train stage's fit), and writes two DVC step plots and one
figure:

- the accuracy and the log loss on the training split and on the validation split
  after every step (``step,train,validation``, one CSV per metric);
- the validation confusion matrices at the ``steps.snapshots`` steps, normalized by
  true class, as small multiples: the static version of a step slider.

Validation is the held-out split of the prepared data (``test_*.npy``), used for
monitoring only. A model without steps still gets every output, saying so: CSVs
with just the header and a figure with one line of text.
"""

import argparse
import math
import sys
from collections.abc import Sequence
from typing import TYPE_CHECKING

from stages import datasets, models, outputs, params, training_steps
from stages.cli import run
from stages.outputs import png_bytes, write_bytes, write_text
from stages.training_steps import StepHistory

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAX_COLUMNS = 4  # panels per row: more would make the figure too wide to read
MAX_WIDTH = 40.0  # inches (4,000 px): with many classes fewer panels fit in a row
HEADER = 1.2  # inches above the panels for the figure title (three lines)
# inches around each panel's grid, as heatmaps.py frames a single heatmap: tick and
# axis labels, the panel title, and the colorbar seaborn carves out of the axes
LEFT, RIGHT, BOTTOM, TOP = 1.0, 0.2, 0.9, 0.6
GRID_SHARE = 0.78  # of the axes width the grid keeps beside its colorbar


def snapshots_figure(
    history: StepHistory, classes: Sequence[str], model: str, scoring: str = ""
) -> "Figure":
    """One normalized confusion heatmap per snapshot step, at most MAX_COLUMNS per row,
    each titled "step N: accuracy X" ("step N (last): ..." for the final step).
    history.confusions: (n_snapshots, K, K)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from stages import heatmaps

    # each panel as large as the single heatmap of K classes, so its numbers stay legible
    grid = heatmaps.layout(len(classes)).cell * len(classes)
    axes_width = grid / GRID_SHARE
    panel_width, panel_height = LEFT + axes_width + RIGHT, BOTTOM + grid + TOP
    count = len(history.snapshots)
    columns = min(count, MAX_COLUMNS, max(1, int(MAX_WIDTH // panel_width)))
    rows = math.ceil(count / columns)
    width, height = columns * panel_width, HEADER + rows * panel_height
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)  # seaborn measures labels; without a canvas that is slow
    figure.suptitle(
        f"{model}: validation confusion matrix after each snapshot step, normalized by true"
        " class (share / count)\nvalidation = the held-out split, for monitoring only"
        + (f"\n{scoring}" if scoring else ""),
        y=1 - 0.15 / height,
        va="top",
    )
    accuracy = history.snapshot_accuracy()
    for index, (step, counts) in enumerate(zip(history.snapshots, history.confusions, strict=True)):
        row, column = divmod(index, columns)
        left = column * panel_width + LEFT
        bottom = height - HEADER - (row + 1) * panel_height + BOTTOM
        ax = figure.add_axes((left / width, bottom / height, axes_width / width, grid / height))
        heatmaps.confusion_normalized_heatmap(counts, classes, ax=ax)
        # a requested step past the end was clipped to the last one: say it is the last
        last = " (last)" if step == history.n_steps else ""
        ax.set_title(f"step {step}{last}: accuracy {accuracy[index]:.3f}")
    return figure


def no_steps_figure(model: str) -> "Figure":
    """The figure for a model that does not train in steps: one line saying so."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6, 1))
    FigureCanvasAgg(figure)
    figure.text(0.5, 0.5, f"{model} does not train in steps", ha="center", va="center")
    return figure


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", required=True, help="params.yaml")
    parser.add_argument("--data", required=True, help="directory of prepared splits")
    parser.add_argument("--accuracy", required=True, help="CSV of accuracy per step to write")
    parser.add_argument("--loss", required=True, help="CSV of log loss per step to write")
    parser.add_argument("--confusion-plot", required=True, help="PNG of the snapshot matrices")
    args = parser.parse_args(argv)
    outputs.check_destinations(args.accuracy, args.loss, args.confusion_plot)

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

    write_text(args.accuracy, accuracy)
    write_text(args.loss, loss)
    write_bytes(args.confusion_plot, image)


if __name__ == "__main__":
    sys.exit(run(main))
