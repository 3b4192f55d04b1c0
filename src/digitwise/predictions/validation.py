"""One set of checks for every predictions file, whatever its format.

A reader (``csv_format``, ``parquet_format``) turns a file into ``Columns``: the
columns as read, with the class columns still as the names found in the file. It
also gives a ``Locate``, which names a row for a message ("path, line 12" for CSV,
"path, row 5" for Parquet). ``validate`` checks the columns against the class list and
returns ``Predictions``; the error it raises is about the first bad row of the file,
whichever check that row fails.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from digitwise.errors import QUOTED, printable
from digitwise.predictions.digest import id_order
from digitwise.predictions.schema import (
    PROBA_PREFIX,
    PROBA_SUM_TOLERANCE,
    REQUIRED,
    Predictions,
    PredictionsError,
)

Locate = Callable[[int], str]  # row (from 0) -> "path, line 12" or "path, row 5"


@dataclass(frozen=True)
class Labels:
    """A column of class names as ``codes`` into the distinct ``names`` read."""

    codes: np.ndarray  # (n_rows,) integer positions into names
    names: Sequence[str]


Problem = tuple[int, Callable[[], str]]  # (row, its message): the first row is reported


@dataclass(frozen=True)
class Columns:
    sample: np.ndarray  # (n_rows,) int64
    actual: Labels
    predicted: Labels
    proba: np.ndarray | None  # (n_rows, n_classes) float64 in class-list order, or None
    # what the reader itself found (a null in Parquet), each row's value replaced by one
    # that fails no earlier row's check
    problems: tuple[Problem, ...] = ()


FIELD_SPACE = " \t"  # what surrounds a field and is not part of it


# The messages, shared with the CSV reader's line-by-line search (csv_format.LineFinder).
def unknown_label(column: str, value: str, classes: Sequence[str]) -> str:
    known = ", ".join(map(printable, classes))
    return f"{column} '{printable(value, at_most=QUOTED)}' is not in the class list ({known})"


def repeated_id(value: int, first: str) -> str:
    return f"sample id {value} appears more than once (first at {first})"


def not_a_probability(name: str, value: float) -> str:
    return f"{printable(name)} must be a probability in [0, 1]; got {value!r}"


def bad_sum(total: float) -> str:
    return (
        f"probabilities sum to {total:.6g}; each row must sum to 1 (within {PROBA_SUM_TOLERANCE:g})"
    )


def is_probability(value: float) -> bool:
    # a value a rounding error outside [0, 1] (1.0000000000000002) is a probability
    return -1e-9 <= value <= 1 + 1e-9  # NaN is not


def header_hint(classes: Sequence[str]) -> str:
    return (
        f"'{','.join(REQUIRED)}' and optionally "
        f"'{PROBA_PREFIX}{printable(classes[0])},...,{PROBA_PREFIX}{printable(classes[-1])}'"
    )


def check_columns(source: str, header: Sequence[str], classes: Sequence[str]) -> bool:
    """Whether the file has probability columns; a PredictionsError for a bad header.

    The three label columns are required. Probability columns are all or nothing:
    one for every class in the class list, and none for any other class.
    """
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        raise PredictionsError(
            f"{source}: missing column '{missing[0]}'; expected {header_hint(classes)}"
        )
    seen: set[str] = set()
    for name in header:
        if name in seen:
            shown = printable(name, at_most=QUOTED)
            raise PredictionsError(f"{source}: column '{shown}' appears more than once")
        seen.add(name)
    wanted = {PROBA_PREFIX + name for name in classes}
    present = [name for name in header if name.startswith(PROBA_PREFIX)]
    if present and not wanted <= seen:
        absent = next(PROBA_PREFIX + c for c in classes if PROBA_PREFIX + c not in seen)
        raise PredictionsError(
            f"{source}: missing column '{printable(absent)}'; a file with probabilities has "
            "one proba_ column for every class in the class list"
        )
    unknown = [name for name in present if name not in wanted]
    if unknown:
        raise PredictionsError(
            f"{source}: column '{printable(unknown[0], at_most=QUOTED)}' is for a class not in "
            "the class list "
            f"({', '.join(map(printable, classes))})"
        )
    return bool(present)


def validate(columns: Columns, classes: Sequence[str], locate: Locate) -> Predictions:
    """The validated predictions; a PredictionsError naming the first bad row."""
    n_rows = len(columns.sample)
    problems: list[Problem] = list(columns.problems)  # first: they win a tie
    actual, problem = _class_indices(columns.actual, "actual", classes)
    problems += problem
    predicted, problem = _class_indices(columns.predicted, "predicted", classes)
    problems += problem
    problems += _duplicate_ids(columns.sample, locate)
    if columns.proba is not None:
        problems += _probability_problems(columns.proba, classes)
    if problems:
        row, message = min(problems, key=lambda problem: problem[0])
        raise PredictionsError(f"{locate(row)}: {message()}")
    proba = columns.proba
    if proba is not None:
        # rounding may leave a value a hair outside [0, 1]; in place, to hold one copy
        np.clip(proba, 0.0, 1.0, out=proba)
    assert len(actual) == len(predicted) == n_rows
    return Predictions(
        sample=columns.sample,
        actual=actual,
        predicted=predicted,
        proba=proba,
        classes=tuple(classes),
    )


def _class_indices(
    labels: Labels, column: str, classes: Sequence[str]
) -> tuple[np.ndarray, list[Problem]]:
    """Class indices of a column of names; surrounding white space is not part of a name."""
    index = {name: i for i, name in enumerate(classes)}
    lookup = np.array(
        [index.get(name.strip(FIELD_SPACE), -1) for name in labels.names], dtype=np.int64
    )
    indices = lookup[labels.codes] if len(lookup) else np.zeros(0, dtype=np.int64)
    unknown = np.flatnonzero(indices < 0)
    if not unknown.size:
        return indices, []
    row = int(unknown[0])
    bad = labels.names[labels.codes[row]]
    return indices, [(row, lambda: unknown_label(column, bad, classes))]


def first_repeat(sample: np.ndarray) -> tuple[int, int] | None:
    """(the first row whose id an earlier row has, that earlier row), or None."""
    order = id_order(sample)  # equal ids keep their file order
    ordered = sample[order]
    repeats = np.flatnonzero(ordered[1:] == ordered[:-1]) + 1
    if not repeats.size:
        return None
    row = int(order[repeats].min())
    return row, int(order[np.searchsorted(ordered, sample[row])])


def _duplicate_ids(sample: np.ndarray, locate: Locate) -> list[Problem]:
    repeat = first_repeat(sample)
    if repeat is None:
        return []
    row, first = repeat
    value = int(sample[row])
    return [(row, lambda: repeated_id(value, locate(first)))]


_ROWS_PER_CHECK = 2**16


def proba_sum_slack(n_classes: int) -> float:
    """How far a row's float sum may drift from its decimal sum: parsing and adding
    n_classes values in [0, 1] each err by at most one unit in the last place, so a row
    whose decimal values sum to within the tolerance is never refused."""
    return 4 * n_classes * float(np.finfo(np.float64).eps)


def _probability_problems(proba: np.ndarray, classes: Sequence[str]) -> list[Problem]:
    # A value a rounding error outside [0, 1] (1.0000000000000002) is a probability.
    slack = 1e-9
    first_bad, first_column = len(proba), -1
    for start in range(0, len(proba), _ROWS_PER_CHECK):  # rows at a time: small masks,
        block = proba[start : start + _ROWS_PER_CHECK]  # read in memory order
        bad = ~((block >= -slack) & (block <= 1 + slack))  # NaN fails both
        if bad.any():
            row, column = np.argwhere(bad)[0]  # the first bad row, its first bad column
            first_bad, first_column = start + int(row), int(column)
            break
    problems: list[Problem] = []
    if first_column >= 0:
        value = float(proba[first_bad, first_column])
        name = PROBA_PREFIX + classes[first_column]
        problems.append((first_bad, lambda: not_a_probability(name, value)))
    sums = proba.sum(axis=1)
    limit = PROBA_SUM_TOLERANCE + proba_sum_slack(proba.shape[1])
    off = np.flatnonzero(np.abs(sums - 1) > limit)
    if off.size:
        row = int(off[0])
        total = float(sums[row])
        problems.append(
            (
                row,
                lambda: (
                    f"probabilities sum to {total:.6g}; each row must sum to 1 "
                    f"(within {PROBA_SUM_TOLERANCE:g})"
                ),
            )
        )
    return problems
