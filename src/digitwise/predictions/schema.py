"""The predictions file: the one input of the evaluate stage.

A table with one row per evaluated sample, as CSV (with a header line) or Parquet,
in one file or in shards (a directory or a glob of files):

    sample,actual,predicted[,proba_<class 1>,...,proba_<class K>]

- ``sample``: an integer id, unique within the file or shards (the row of the sample
  in its source);
- ``actual``, ``predicted``: class names, each one of the names in the class list
  (in Parquet, strings or integers);
- ``proba_<name>``: optional, all or none: the predicted probability of each class,
  one column for every class in the class list; each in [0, 1], each row summing to 1
  within 0.001. A file without them is label-only: everything computed from the
  labels is evaluated, and the probability-based metrics are left out.

Other columns are ignored. ``actual`` and ``predicted`` are what DVC's ``confusion``
plot template reads. ``digitwise.predictions.reading`` reads every format.
"""

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitwise.errors import UserError
from digitwise.predictions.digest import digest_of_rows, row_hashes

PROBA_PREFIX = "proba_"
PROBA_SUM_TOLERANCE = 1e-3
REQUIRED = ("sample", "actual", "predicted")


@dataclass(frozen=True)
class Predictions:
    sample: np.ndarray  # (n_samples,) int64 ids
    actual: np.ndarray  # (n_samples,) int64 class indices
    predicted: np.ndarray  # (n_samples,) int64 class indices
    proba: np.ndarray | None  # (n_samples, n_classes) float64, rows sum to 1; None: labels only
    classes: tuple[str, ...]


def content_digest(predictions: Predictions) -> str:
    """A digest of the rows read, whatever the format, sharding or row order.

    SHA-256 of the class list and of every row's hash, in the order of the sample ids
    (``predictions.digest``: shards hash their own rows). The same rows in CSV or
    Parquet, in one file or in shards, in any order, have the same digest; a change to
    any value changes it.
    """
    hashes = row_hashes(
        predictions.sample, predictions.actual, predictions.predicted, predictions.proba
    )
    with_proba = predictions.proba is not None
    return digest_of_rows(predictions.classes, with_proba, predictions.sample, hashes)


def to_csv(predictions: Predictions) -> str:
    """The CSV text; floats as Python's shortest round-trip repr, so bytes are stable."""
    names = predictions.classes
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    with_proba = predictions.proba is not None
    writer.writerow([*REQUIRED, *(PROBA_PREFIX + name for name in names if with_proba)])
    rows = predictions.proba.tolist() if with_proba else [[]] * len(predictions.sample)
    for sample, actual, predicted, row in zip(
        predictions.sample.tolist(),
        predictions.actual.tolist(),
        predictions.predicted.tolist(),
        rows,
        strict=True,
    ):
        writer.writerow([sample, names[actual], names[predicted], *map(repr, row)])
    return buffer.getvalue()


class PredictionsError(UserError):
    """A predictions file that does not follow the schema above."""


def require_probabilities(predictions: Predictions, source: str | Path, purpose: str) -> None:
    """A PredictionsError unless the predictions have probability columns."""
    if predictions.proba is None:
        raise PredictionsError(
            f"{source}: has no proba_ columns; {purpose} needs each class's probability"
        )


def rows_in_split(
    predictions: Predictions,
    ids: np.ndarray,
    labels: np.ndarray,
    *,
    source: str | Path,
    split: str | Path,
) -> np.ndarray:
    """(n_predictions,) the row of each predicted sample among a split's ``ids``.

    Every predicted sample must be in the split and carry its label there: a file
    made from another split or another data source must not be explained or drawn
    as if it were this one. ``source`` and ``split`` name the two for messages.
    """
    order = np.argsort(ids, kind="stable")
    rows = order[np.searchsorted(ids, predictions.sample, sorter=order).clip(max=len(ids) - 1)]
    missing = ids[rows] != predictions.sample
    if missing.any():
        sample = int(predictions.sample[np.flatnonzero(missing)[0]])
        raise PredictionsError(
            f"{source}: sample id {sample} is not in the held-out split ({split}); "
            "were the predictions made on another split?"
        )
    wrong = labels[rows] != predictions.actual
    if wrong.any():
        first = int(np.flatnonzero(wrong)[0])
        names = predictions.classes
        raise PredictionsError(
            f"{source}: sample {int(predictions.sample[first])} has actual "
            f"'{names[predictions.actual[first]]}' but its held-out label is "
            f"'{names[labels[rows[first]]]}'"
        )
    return rows
