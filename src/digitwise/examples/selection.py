"""Confusion examples: which images stand behind the most frequent confusion cells.

For each of the most frequent cells (true t, predicted p), the misclassified held-out
images of that cell, most confident mistakes first, and one example of class t and one of
class p to show beside them. Pure selection; ``digitwise.figures.confusion_examples``
draws it.
"""

from dataclasses import dataclass
from typing import Literal

import numpy as np

from digitwise.metrics import classification as metrics
from digitwise.predictions.schema import Predictions

ExampleKind = Literal["correct", "any", "none"]


@dataclass(frozen=True)
class ClassExample:
    """One held-out sample shown as what a class looks like.

    ``kind``: "correct" (the most confident correctly classified sample of the class),
    "any" (none is correct: the sample of the class with the highest probability of it),
    or "none" (the class has no held-out samples; row, sample and proba are None).
    """

    kind: ExampleKind
    row: int | None = None  # row in the predictions (and in the images aligned with them)
    sample: int | None = None
    proba: float | None = None  # the probability the model gave the sample's class


@dataclass(frozen=True)
class CellExamples:
    """One off-diagonal cell of the confusion matrix and the samples shown for it."""

    true: int  # class index
    predicted: int  # class index
    count: int  # misclassified samples in the cell (all of them, not only those shown)
    rows: tuple[int, ...]  # (<= per_cell,) rows of the shown mistakes, most confident first
    samples: tuple[int, ...]  # their sample ids
    proba: tuple[float, ...]  # their probability of the predicted class
    true_example: ClassExample
    predicted_example: ClassExample
    # likely label errors (``label_issues.mark_cells``): per shown mistake, and in the cell
    label_errors: tuple[bool, ...] = ()
    n_label_errors: int | None = None  # None: not looked for


def select_examples(predictions: Predictions, *, cells: int, per_cell: int) -> list[CellExamples]:
    """The ``cells`` most frequent off-diagonal cells and, per cell, the samples to show.

    Cells are ranked as ``metrics.top_confusions`` ranks them (count descending, then
    true, then predicted class index). Mistakes are ordered by their probability of the
    predicted class, descending, then by sample id, and cut at ``per_cell``; the class
    examples are chosen in the same order (see ``ClassExample``). Ties never depend on
    the order of the rows in the file. An empty list: no sample is misclassified.
    """
    actual, predicted, proba = predictions.actual, predictions.predicted, predictions.proba
    counts = metrics.confusion_matrix(actual, predicted, n_classes=len(predictions.classes))
    examples: dict[int, ClassExample] = {}  # one per class used, computed once
    selected: list[CellExamples] = []
    for true, pred, count, _ in metrics.top_confusions(counts, limit=cells):
        mistakes = _ranked(predictions, (actual == true) & (predicted == pred), pred)[:per_cell]
        for cls in (true, pred):
            if cls not in examples:
                examples[cls] = _class_example(predictions, cls)
        selected.append(
            CellExamples(
                true=true,
                predicted=pred,
                count=count,
                rows=tuple(int(row) for row in mistakes),
                samples=tuple(int(predictions.sample[row]) for row in mistakes),
                proba=tuple(float(proba[row, pred]) for row in mistakes),
                true_example=examples[true],
                predicted_example=examples[pred],
            )
        )
    return selected


def _ranked(predictions: Predictions, mask: np.ndarray, cls: int) -> np.ndarray:
    """Rows where mask holds, by probability of class ``cls`` descending, then sample id."""
    rows = np.flatnonzero(mask)
    order = np.lexsort((predictions.sample[rows], -predictions.proba[rows, cls]))
    return rows[order]


def _class_example(predictions: Predictions, cls: int) -> ClassExample:
    of_class = predictions.actual == cls
    for kind, mask in (
        ("correct", of_class & (predictions.predicted == cls)),
        ("any", of_class),
    ):
        rows = _ranked(predictions, mask, cls)
        if rows.size:
            row = int(rows[0])
            return ClassExample(
                kind=kind,
                row=row,
                sample=int(predictions.sample[row]),
                proba=float(predictions.proba[row, cls]),
            )
    return ClassExample(kind="none")
