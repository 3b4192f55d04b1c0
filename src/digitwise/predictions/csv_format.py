"""Predictions as CSV: read by pandas' C parser, checked by ``validation``.

pandas' C engine reads 10^6 rows in 1.5 s (on both cores), against 11 s for the ``csv``
loop it replaced; pandas is already installed (seaborn needs it). pyarrow's CSV reader
(where installed) reads them in 0.9 s, but makes the whole command only 4% faster, and
it reads quotes after spaces, quotes left open and quoted line breaks otherwise than
pandas does, so the outputs would depend on whether pyarrow is installed.
Class columns are read as strings and factorized. Only when something is wrong does a
``csv`` scan run (``LineFinder``): it applies every rule row by row, so the error names
the first bad row of the file and its line, counted the way an editor counts lines.

Spaces and tabs around fields, a byte-order mark and blank lines are ignored. ``sample``
is read as pandas reads integers: ``1e3`` is 1000; an id beyond 2^53 must be written as
a plain integer, as a float could not hold it exactly.
"""

import csv
import math
import re
import warnings
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from digitwise.errors import QUOTED, printable
from digitwise.predictions import validation
from digitwise.predictions.schema import PROBA_PREFIX, REQUIRED, Predictions, PredictionsError
from digitwise.predictions.validation import FIELD_SPACE, Columns, Labels, check_columns

ENCODING = "utf-8-sig"  # spreadsheet programs start CSV files with a byte-order mark
_OTHER_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "vertical bars"}
_NUMBER = re.compile(r"[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?")
_EXACT = 2**53  # integers a float holds exactly
_BLOCK_VALUES = 2**16  # probabilities copied at a time
_THREADED_ROWS = 2**16  # rows from which half are copied on a second thread
# pandas reads fields of any length; the csv module refuses those over 128 kB unless
# told otherwise, for the whole process (set once here: a save and restore around each
# scan would race between threads)
csv.field_size_limit(max(csv.field_size_limit(), 2**31 - 1))
_MAGIC = {b"\x1f\x8b": "gzip-compressed; decompress it", b"\xff\xfe": "UTF-16; save it as UTF-8"}


EMPTY = "has a header but no rows"


def read(path: Path, classes: tuple[str, ...]) -> Predictions:
    """The validated predictions of one CSV file."""
    columns, finder = read_columns(path, classes)
    try:
        return validation.validate(columns, classes, finder)
    except PredictionsError as error:
        # the checks found a bad row; the row-by-row search finds the first one, which
        # may break another rule (a short row reads as an empty class name, say)
        raise finder.find_first() or error from None


def read_columns(path: Path, classes: tuple[str, ...]) -> tuple[Columns, "LineFinder"]:
    """The columns of a predictions CSV, and a way to name a row's line in messages."""
    header = _header(path, classes)
    with_proba = check_columns(str(path), header, classes)
    proba_names = [PROBA_PREFIX + name for name in classes] if with_proba else []
    finder = LineFinder(path, header, classes, proba_names)
    frame = _parse(path, header, proba_names, finder)
    import pandas as pd

    ids = frame["sample"].to_numpy()
    risky = (ids >= _EXACT) | (ids <= -_EXACT)  # not np.abs: np.abs(-2^63) < 0
    if risky.any():
        frame["sample"] = _large_ids(path, header, ids, risky, finder)

    def labels(name: str) -> Labels:
        codes, names = pd.factorize(frame[name])
        return Labels(codes=codes, names=list(names))

    proba = None
    if with_proba:
        proba = _rows_of([frame[name].to_numpy(dtype=np.float64) for name in proba_names])
    columns = Columns(
        sample=frame["sample"].to_numpy(dtype=np.int64),
        actual=labels("actual"),
        predicted=labels("predicted"),
        proba=proba,
    )
    return columns, finder


def _rows_of(columns: list[np.ndarray]) -> np.ndarray:
    """(n, K) float64 in C order (a row's classes together) from K columns, copied a
    block of rows at a time (in cache): twice as fast as ``np.stack(columns, axis=1)``
    at 10 columns, once where a frame's ``to_numpy()`` and a C-order copy would copy
    twice, and never column by column out of a frame, which costs K^2 at 1,000 classes.
    The second half of the rows is copied on a thread (numpy copies without the GIL):
    at 10^6 rows, 0.2 s against 0.1 s, most of it the new pages' first writes."""
    n_rows = len(columns[0]) if columns else 0
    rows = np.empty((n_rows, len(columns)))
    step = max(2**12, _BLOCK_VALUES // max(len(columns), 1))  # rows; few blocks at K = 1,000

    def copy(first: int, stop: int) -> None:
        for start in range(first, stop, step):
            end = min(start + step, stop)
            block = rows[start:end]
            for index, column in enumerate(columns):
                block[:, index] = column[start:end]

    middle = n_rows // 2 // step * step
    if middle < _THREADED_ROWS:
        copy(0, n_rows)
        return rows
    with ThreadPoolExecutor(max_workers=1) as pool:
        second_half = pool.submit(copy, middle, n_rows)
        copy(0, middle)
        second_half.result()  # its error, if any, raised here
    return rows


def _header(path: Path, classes: tuple[str, ...]) -> list[str]:
    try:
        with path.open("rb") as file:
            start = file.read(2)
        for magic, advice in _MAGIC.items():
            if start == magic:
                raise PredictionsError(f"{path}: is {advice}")
        with path.open(newline="", encoding=ENCODING) as file:
            rows = csv.reader(file, skipinitialspace=True)
            header = next((row for row in rows if not _blank(row)), None)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise PredictionsError(f"{path}: not a readable CSV file ({error})") from None
    if header is None:
        raise PredictionsError(
            f"{path}: empty file; expected a header {validation.header_hint(classes)}"
        )
    header = [name.strip(FIELD_SPACE) for name in header]
    if len(header) == 1:
        for separator, plural in _OTHER_SEPARATORS.items():
            names = [name.strip(FIELD_SPACE) for name in header[0].split(separator)]
            if REQUIRED[0] in names:
                raise PredictionsError(
                    f"{path}: fields are separated by {plural}; a predictions CSV separates "
                    "them by commas"
                )
    return header


def _parse(path: Path, header: list[str], proba_names: list[str], finder: "LineFinder"):
    import pandas as pd  # ~0.3 s: a wrong header fails before it

    # other columns are read as text, never used; not left out with ``usecols``, which
    # would also let a row with fields beyond the header pass unnoticed
    types: dict[str, object] = {name: object for name in header}
    types.update({"sample": np.int64, "actual": object, "predicted": object})
    types.update({name: np.float64 for name in proba_names})
    try:
        with warnings.catch_warnings():
            # a row with more fields than the header: a warning, and the extra dropped;
            # an id beyond int64 written as a float: a cast warning
            warnings.simplefilter("error", pd.errors.ParserWarning)
            warnings.simplefilter("error", RuntimeWarning)
            return pd.read_csv(
                path,
                header=0,
                names=header,
                dtype=types,
                # utf-8, whose byte-order mark pandas drops itself: encoding="utf-8-sig"
                # would decode through Python's codec, 30% slower
                engine="c",
                index_col=False,
                na_filter=False,  # "NA" is a class name, not a missing value
                skip_blank_lines=True,
                skipinitialspace=True,
            )
    except (
        ValueError,
        OverflowError,
        UnicodeDecodeError,
        RuntimeWarning,
        pd.errors.ParserError,
        pd.errors.ParserWarning,
    ) as error:
        # the parser's message names neither the line nor the column: find them
        raise finder.first_bad(error) from None


def _large_ids(path: Path, header: list[str], ids, risky, finder: "LineFinder") -> np.ndarray:
    """The ids, those beyond 2^53 (``risky``) read again as text: pandas may have read
    them through a float, so they must be written as plain integers."""
    import pandas as pd

    text = pd.read_csv(
        path,
        header=0,
        names=header,  # the header as read (" sample " is the column sample)
        usecols=["sample"],
        dtype=str,
        na_filter=False,
        skipinitialspace=True,
        skip_blank_lines=True,
    )["sample"].str.strip(FIELD_SPACE)[risky]
    digits = text.str.lstrip("+-").str.lstrip("0").replace("", "0")  # int() reads 4,300
    if not (text.str.fullmatch(r"[+-]?[0-9]+") & (digits.str.len() <= 19)).all():
        raise finder.first_bad(None)
    exact = np.array(ids, dtype=np.int64)
    try:
        exact[risky] = (text.str[:1].where(text.str.startswith("-"), "") + digits).astype(np.int64)
    except (ValueError, OverflowError):  # beyond 64 bits
        raise finder.first_bad(None) from None
    return exact


class LineFinder:
    """The first bad row and its line, by reading the file row by row with every rule
    ``validation`` applies; blank lines and quoted line breaks are counted. Runs only
    when there is an error to report."""

    def __init__(self, path: Path, header: list[str], classes: Sequence[str], proba_names):
        self.path = path
        self.header = header
        self.classes = classes
        self.proba_names = proba_names

    def _rows(self) -> Iterator[tuple[int, list[str]]]:
        """(first line, fields) of every data row, after the header."""
        with self.path.open(newline="", encoding=ENCODING, errors="replace") as file:
            reader = csv.reader(file, skipinitialspace=True)
            seen_header = False
            end = 0  # the line the previous record ended on
            for row in reader:
                start, end = end + 1, reader.line_num  # a quoted field may span lines
                if _blank(row):
                    continue
                if seen_header:
                    yield start, [field.strip(FIELD_SPACE) for field in row]
                seen_header = True

    def __call__(self, row: int) -> str:
        for index, (line, _) in enumerate(self._rows()):
            if index == row:
                return f"{self.path}, line {line}"
        return f"{self.path}, row {row + 1}"

    def find_first(self) -> PredictionsError | None:
        """The first row that breaks a rule, as an error; None if every row is good."""
        positions = {name: i for i, name in enumerate(self.header)}
        known = set(self.classes)
        first_line: dict[int, int] = {}  # id -> its line
        try:
            for line, fields in self._rows():
                problem = self._problem(fields, positions, known, first_line, line)
                if problem:
                    return PredictionsError(f"{self.path}, line {line}: {problem}")
        except csv.Error as scan_error:
            return PredictionsError(f"{self.path}: not a readable CSV file ({scan_error})")
        return None

    def first_bad(self, error: Exception | None) -> PredictionsError:
        """The first bad row as an error, or the parser's ``error`` if no row breaks a rule."""
        found = self.find_first()
        if found is not None:
            return found
        text = str(error or "").strip()
        reason = printable(text.splitlines()[0]) if text else "unknown reason"
        return PredictionsError(f"{self.path}: not a readable predictions CSV ({reason})")

    def _problem(self, fields, positions, known, first_line, line) -> str | None:
        if len(fields) != len(self.header):
            return f"expected {len(self.header)} fields like the header; got {len(fields)}"
        sample = _integer(fields[positions["sample"]])
        if sample is None:
            shown = printable(fields[positions["sample"]], at_most=QUOTED)
            return f"sample must be an integer id within 64 bits; got '{shown}'"
        if sample in first_line:
            return validation.repeated_id(sample, f"{self.path}, line {first_line[sample]}")
        first_line[sample] = line
        for column in ("actual", "predicted"):
            if fields[positions[column]] not in known:
                return validation.unknown_label(column, fields[positions[column]], self.classes)
        total = 0.0
        for name in self.proba_names:
            text = fields[positions[name]].strip()  # pandas reads " 1\n" as 1 too
            if not _NUMBER.fullmatch(text) and not _SPECIAL.fullmatch(text):
                return f"{printable(name)} is not a number: '{printable(text, at_most=QUOTED)}'"
            value = float(text)
            if not validation.is_probability(value):
                return validation.not_a_probability(name, value)
            total += value
        limit = validation.PROBA_SUM_TOLERANCE + validation.proba_sum_slack(len(self.proba_names))
        if self.proba_names and abs(total - 1) > limit:
            return validation.bad_sum(total)
        return None


_SPECIAL = re.compile(r"[+-]?(nan|inf|infinity)", re.IGNORECASE)  # what float() reads too


def _integer(text: str) -> int | None:
    """The id as pandas reads it: an integer, or an integral number within 2^53."""
    if re.fullmatch(r"[+-]?[0-9]+", text):
        digits = text.lstrip("+-").lstrip("0") or "0"
        if len(digits) > 19:  # beyond 64 bits (and int() reads 4,300 digits at most)
            return None
        value = int(digits) * (-1 if text.startswith("-") else 1)
        return value if -(2**63) <= value < 2**63 else None
    if _NUMBER.fullmatch(text):
        value = float(text)
        if math.isfinite(value) and value.is_integer() and abs(value) < _EXACT:
            return int(value)
    return None


def _blank(row: list[str]) -> bool:
    """A line pandas skips: empty, or white space only (not a row of empty fields)."""
    return not row or (len(row) == 1 and not row[0].strip())
