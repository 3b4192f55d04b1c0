"""The examples stage's JSON, and the check that a predictions file has the data's classes."""

import csv
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from digitwise.errors import UserError
from digitwise.predictions.schema import PROBA_PREFIX

if TYPE_CHECKING:  # imported for real in main, after the inputs are checked
    from digitwise.examples.selection import CellExamples, ClassExample


def check_classes(path: str | Path, classes: tuple[str, ...], classes_path: str | Path) -> None:
    """The predictions file's probability columns name exactly the prepared classes.

    The reader would also refuse a mismatch, but by column; this names both class lists.
    A header that cannot be read, or a file without probabilities, is left to the reader.
    """
    try:
        with Path(path).open(newline="", encoding="utf-8") as file:
            header = next(csv.reader(file), None)
    except (OSError, UnicodeDecodeError, csv.Error):
        return
    if header is None:
        return
    found = [name[len(PROBA_PREFIX) :] for name in header if name.startswith(PROBA_PREFIX)]
    if found and sorted(found) != sorted(classes):
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
                    | ({"possible_label_error": flag} if cell.label_errors else {})
                    for sample, proba, flag in zip(
                        cell.samples,
                        cell.proba,
                        cell.label_errors or (None,) * len(cell.samples),
                        strict=True,
                    )
                ],
                "actual_example": example(cell.true_example),
                "predicted_example": example(cell.predicted_example),
            }
            | (
                {}
                if cell.n_label_errors is None
                else {"possible_label_errors": cell.n_label_errors}
            )
            for rank, cell in enumerate(selected, start=1)
        ],
    }
