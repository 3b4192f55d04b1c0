"""The predictions file: the one input of the evaluate stage.

A CSV file with a header and one row per evaluated sample:

    sample,actual,predicted,proba_<class 1>,...,proba_<class K>

- ``sample``: an integer id, unique within the file (the row of the sample in its source);
- ``actual``, ``predicted``: class names, each one of the names in the class list;
- ``proba_<name>``: the predicted probability of each class, one column for every
  class in the class list; each in [0, 1], each row summing to 1 (within 0.001).

Other columns are ignored. ``actual`` and ``predicted`` are what DVC's ``confusion``
plot template reads.
"""

import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from digitwise.errors import UserError

PROBA_PREFIX = "proba_"
PROBA_SUM_TOLERANCE = 1e-3
REQUIRED = ("sample", "actual", "predicted")


@dataclass(frozen=True)
class Predictions:
    sample: np.ndarray  # (n_samples,) int64 ids
    actual: np.ndarray  # (n_samples,) int64 class indices
    predicted: np.ndarray  # (n_samples,) int64 class indices
    proba: np.ndarray  # (n_samples, n_classes) float64, rows sum to 1
    classes: tuple[str, ...]


def to_csv(predictions: Predictions) -> str:
    """The CSV text; floats as Python's shortest round-trip repr, so bytes are stable."""
    names = predictions.classes
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow([*REQUIRED, *(PROBA_PREFIX + name for name in names)])
    for sample, actual, predicted, row in zip(
        predictions.sample.tolist(),
        predictions.actual.tolist(),
        predictions.predicted.tolist(),
        predictions.proba.tolist(),
        strict=True,
    ):
        writer.writerow([sample, names[actual], names[predicted], *map(repr, row)])
    return buffer.getvalue()


class PredictionsError(UserError):
    """A predictions file that does not follow the schema above."""


def read_csv(path: str | Path, classes: tuple[str, ...]) -> Predictions:
    """Read and validate a predictions file against the ordered class list.

    Surrounding white space in fields, a byte-order mark and blank lines are ignored.
    """
    path = Path(path)
    try:
        # utf-8-sig: spreadsheet programs start CSV files with a byte-order mark
        with path.open(newline="", encoding="utf-8-sig") as file:
            reader = csv.reader(file)
            numbered = [
                (reader.line_num, stripped)
                for row in reader
                if any(stripped := [field.strip() for field in row])
            ]
    except FileNotFoundError:
        raise PredictionsError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise PredictionsError(f"{path}: not a readable CSV file ({error})") from None
    if not numbered:
        raise PredictionsError(f"{path}: empty file; expected a header {_header_hint(classes)}")
    header = numbered[0][1]
    lines = [line for line, _ in numbered[1:]]  # file line of each row, for messages
    body = [row for _, row in numbered[1:]]
    columns = _column_positions(path, header, classes)
    if not body:
        raise PredictionsError(f"{path}: has a header but no rows")
    for line, row in zip(lines, body, strict=True):
        if len(row) != len(header):
            raise PredictionsError(
                f"{path}, line {line}: expected {len(header)} fields like the header; "
                f"got {len(row)}"
            )

    def column(name: str) -> list[str]:
        position = columns[name]
        return [row[position] for row in body]

    proba_columns = [columns[PROBA_PREFIX + c] for c in classes]
    block = [[row[i] for i in proba_columns] for row in body]
    return Predictions(
        sample=_sample_ids(path, column("sample"), lines),
        actual=_class_indices(path, column("actual"), lines, "actual", classes),
        predicted=_class_indices(path, column("predicted"), lines, "predicted", classes),
        proba=_probabilities(path, block, lines, classes),
        classes=classes,
    )


def _header_hint(classes: tuple[str, ...]) -> str:
    return f"'{','.join(REQUIRED)},{PROBA_PREFIX}{classes[0]},...,{PROBA_PREFIX}{classes[-1]}'"


def _column_positions(path: Path, header: list[str], classes: tuple[str, ...]) -> dict[str, int]:
    wanted = [*REQUIRED, *(PROBA_PREFIX + name for name in classes)]
    missing = [name for name in wanted if name not in header]
    if missing:
        raise PredictionsError(
            f"{path}: missing column '{missing[0]}'; expected {_header_hint(classes)}"
        )
    duplicated = sorted({name for name in header if header.count(name) > 1})
    if duplicated:
        raise PredictionsError(f"{path}: column '{duplicated[0]}' appears more than once")
    unknown = [name for name in header if name.startswith(PROBA_PREFIX) and name not in wanted]
    if unknown:
        raise PredictionsError(
            f"{path}: column '{unknown[0]}' is for a class not in the class list "
            f"({', '.join(classes)})"
        )
    return {name: header.index(name) for name in wanted}


_INTEGER = re.compile(r"-?[0-9]{1,18}")  # ASCII digits only, and always within int64


def _sample_ids(path: Path, column: list[str], lines: list[int]) -> np.ndarray:
    for line, text in zip(lines, column, strict=True):
        if not _INTEGER.fullmatch(text):
            raise PredictionsError(
                f"{path}, line {line}: sample must be an integer id of at most 18 digits; "
                f"got '{text}'"
            )
    ids = np.array(column, dtype=np.int64)
    unique, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise PredictionsError(f"{path}: sample id {unique[counts > 1][0]} appears more than once")
    return ids


def _class_indices(
    path: Path, column: list[str], lines: list[int], name: str, classes: tuple[str, ...]
) -> np.ndarray:
    known = np.array(classes, dtype=str)
    order = np.argsort(known)
    column = np.array(column, dtype=str)
    names, inverse = np.unique(column, return_inverse=True)
    positions = np.searchsorted(known, names, sorter=order).clip(max=len(known) - 1)
    found = known[order[positions]] == names
    if not found.all():
        bad = names[~found][0]
        line = lines[int(np.flatnonzero(column == bad)[0])]
        raise PredictionsError(
            f"{path}, line {line}: {name} '{bad}' is not in the class list ({', '.join(classes)})"
        )
    return order[positions][inverse].astype(np.int64)


def _probabilities(
    path: Path, block: list[list[str]], lines: list[int], classes: tuple[str, ...]
) -> np.ndarray:
    try:
        proba = np.array(block, dtype=np.float64)
    except ValueError:
        row, col = next(
            (r, c)
            for r, values in enumerate(block)
            for c, v in enumerate(values)
            if not _is_float(v)
        )
        raise PredictionsError(
            f"{path}, line {lines[row]}: {PROBA_PREFIX}{classes[col]} is not a number: "
            f"'{block[row][col]}'"
        ) from None
    # A value a rounding error outside [0, 1] (1.0000000000000002) is a probability.
    slack = 1e-9
    bad = ~np.isfinite(proba) | (proba < -slack) | (proba > 1 + slack)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        raise PredictionsError(
            f"{path}, line {lines[row]}: {PROBA_PREFIX}{classes[col]} must be a probability "
            f"in [0, 1]; got {block[row][col]}"
        )
    off = np.abs(proba.sum(axis=1) - 1) > PROBA_SUM_TOLERANCE
    if off.any():
        row = int(np.flatnonzero(off)[0])
        raise PredictionsError(
            f"{path}, line {lines[row]}: probabilities sum to {proba[row].sum():.6g}; "
            f"each row must sum to 1 (within {PROBA_SUM_TOLERANCE:g})"
        )
    return np.clip(proba, 0.0, 1.0)


def _is_float(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


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
