"""Stage examples: the held-out images behind the most frequent confusions.

For the ``examples.cells`` largest off-diagonal cells of the confusion matrix, up to
``examples.per_cell`` misclassified images each (most confident first) beside an example
of the true and of the predicted class; as a figure and as JSON (the ids shown). The
predictions are matched to the held-out images by sample id.
"""

import argparse
import csv
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from stages import datasets, outputs, params
from stages.cli import UserError, run
from stages.predictions import PROBA_PREFIX, read_csv, rows_in_split

if TYPE_CHECKING:  # imported for real in main, after the inputs are checked
    from stages.confusion_examples import CellExamples, ClassExample


def check_classes(path: str | Path, classes: tuple[str, ...], classes_path: str | Path) -> None:
    """The predictions file's probability columns name exactly the prepared classes.

    ``read_csv`` would also refuse a mismatch, but by column; this names both class lists.
    A header that cannot be read is left to ``read_csv`` to report.
    """
    try:
        with Path(path).open(newline="", encoding="utf-8") as file:
            header = next(csv.reader(file), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return
    if header is None:
        return
    found = [name[len(PROBA_PREFIX) :] for name in header if name.startswith(PROBA_PREFIX)]
    if sorted(found) != sorted(classes):
        raise UserError(
            f"{path}: its classes ({', '.join(found)}) differ from those in {classes_path} "
            f"({', '.join(classes)})"
        )


def examples_report(
    selected: Sequence["CellExamples"], classes: Sequence[str], *, cells: int, per_cell: int
) -> dict[str, Any]:
    """The JSON beside the figure: per cell, the ids shown and the examples chosen."""

    def example(chosen: "ClassExample") -> dict[str, Any]:
        correct = {"correct": True, "any": False, "none": None}[chosen.kind]
        return {"sample": chosen.sample, "correct": correct, "proba": chosen.proba}

    return {
        "cells": cells,
        "per_cell": per_cell,
        "confusions": [
            {
                "rank": rank,
                "actual": classes[cell.true],
                "predicted": classes[cell.predicted],
                "count": cell.count,
                "shown": [
                    {"sample": sample, "proba_predicted": proba}
                    for sample, proba in zip(cell.samples, cell.proba, strict=True)
                ],
                "actual_example": example(cell.true_example),
                "predicted_example": example(cell.predicted_example),
            }
            for rank, cell in enumerate(selected, start=1)
        ],
    }


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", required=True, help="params.yaml")
    parser.add_argument("--data", required=True, help="the prepared directory")
    parser.add_argument(
        "--predictions", required=True, help="predictions CSV of the held-out split"
    )
    parser.add_argument("--examples", required=True, help="JSON of the samples shown, to write")
    parser.add_argument("--examples-plot", required=True, help="PNG of the examples, to write")
    args = parser.parse_args(argv)
    outputs.check_destinations(args.examples, args.examples_plot)

    settings = params.examples_params(params.load(args.params))
    held_out = datasets.load_split(args.data, "test")
    classes_path = Path(args.data) / "classes.json"
    check_classes(args.predictions, held_out.classes, classes_path)
    predictions = read_csv(args.predictions, held_out.classes)
    rows = rows_in_split(
        predictions,
        held_out.ids,
        held_out.labels,
        source=args.predictions,
        split=Path(args.data) / "test_ids.npy",
    )

    # Imported here: matplotlib costs ~0.6 s, and a bad input should fail before that.
    from stages import confusion_examples
    from stages.outputs import png_bytes, write_bytes, write_json

    selected = confusion_examples.select_examples(
        predictions, cells=settings.cells, per_cell=settings.per_cell
    )
    figure = confusion_examples.confusion_examples_figure(
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

    write_json(args.examples, report)
    write_bytes(args.examples_plot, image)


if __name__ == "__main__":
    sys.exit(run(main))
