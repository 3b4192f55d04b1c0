"""Stage examples: the held-out images behind the most frequent confusions.

For the ``examples.cells`` largest off-diagonal cells of the confusion matrix, up to
``examples.per_cell`` misclassified images each (most confident first) beside an example
of the true and of the predicted class; as a figure and as JSON (the ids shown). The
likely label errors among the held-out samples (confident learning) are listed in their
own JSON and marked in the figure. The predictions are matched to the held-out images by
sample id."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from digitwise import params
from digitwise.cli import run
from digitwise.data import datasets
from digitwise.examples.report import check_classes, examples_report
from digitwise.io import outputs
from digitwise.predictions.reading import read_predictions
from digitwise.predictions.schema import require_probabilities, rows_in_split


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", required=True, help="params.yaml")
    parser.add_argument("--data", required=True, help="the prepared directory")
    parser.add_argument(
        "--predictions", required=True, help="predictions CSV of the held-out split"
    )
    parser.add_argument("--examples", required=True, help="JSON of the samples shown, to write")
    parser.add_argument("--examples-plot", required=True, help="PNG of the examples, to write")
    parser.add_argument("--label-issues", required=True, help="JSON of likely label errors")
    args = parser.parse_args(argv)
    destinations = (args.examples, args.examples_plot, args.label_issues)
    outputs.check_destinations(*destinations, inputs=(args.params, args.data, args.predictions))

    settings = params.examples_params(params.load(args.params))
    held_out = datasets.load_split(args.data, "test")
    classes_path = Path(args.data) / "classes.json"
    check_classes(args.predictions, held_out.classes, classes_path)
    predictions = read_predictions(args.predictions, held_out.classes)
    require_probabilities(predictions, args.predictions, "choosing examples by confidence")
    rows = rows_in_split(
        predictions,
        held_out.ids,
        held_out.labels,
        source=args.predictions,
        split=Path(args.data) / "test_ids.npy",
    )

    # Imported here: matplotlib costs ~0.6 s, and a bad input should fail before that.
    from digitwise.examples import label_issues
    from digitwise.examples.selection import select_examples
    from digitwise.figures.confusion_examples import confusion_examples_figure
    from digitwise.io.outputs import json_text, png_bytes, write_all

    issues = label_issues.label_issues_of(predictions)
    selected = select_examples(predictions, cells=settings.cells, per_cell=settings.per_cell)
    selected = label_issues.mark_cells(selected, issues, predictions)
    figure = confusion_examples_figure(
        selected,
        held_out.images[rows],
        held_out.classes,
        pixel_max=held_out.pixel_max,
        per_cell=settings.per_cell,
    )
    image = png_bytes(figure)
    report = examples_report(
        selected, held_out.classes, cells=settings.cells, per_cell=settings.per_cell
    )

    limit = settings.label_issues_limit
    issues_report = label_issues.label_issues_report(issues, predictions, limit=limit)
    write_all(
        {
            args.examples: json_text(report),
            args.examples_plot: image,
            args.label_issues: json_text(issues_report),
        }
    )


if __name__ == "__main__":
    sys.exit(run(main))
