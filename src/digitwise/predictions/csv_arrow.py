"""Predictions CSV read by pyarrow's CSV reader, where pyarrow is installed.

pyarrow (the ``parquet`` extra) parses a CSV file on every core and needs no pandas:
at 10^6 rows of 10 classes, 1.5 s of the command's 3 s of reading. Without it,
``csv_format`` reads with pandas' C parser, as it does for any file this reader
would read differently. So this reader takes only what it reads exactly as pandas
does, and gives up (None) on anything else: any quote character (pyarrow and pandas
part ways on a quote after a space, a quote left open, a quoted line break across
pyarrow's blocks), a field pandas would strip of spaces before parsing it as a class
name, an id written as pandas alone reads it (``1e3``, ``0x10`` pyarrow reads as 16),
a blank line of spaces, a header that is not the file's first line, a line over
1 MiB, bytes that are not UTF-8, or any row that does not parse. Whichever reader
reads a file, it gives the same columns (a test reads hostile files both ways), so the
outputs do not depend on whether pyarrow is installed; errors are always found again
by ``csv_format``'s row-by-row search, with their line.
"""

import mmap
import os
from pathlib import Path

import numpy as np

from digitwise.predictions.validation import Columns, Labels

_ID = r"^[+-]?[0-9]+$"  # an id as both readers read it alike
_BLOCK_VALUES = 2**16  # probabilities copied at a time: a block of rows in cache
# bytes parsed at a time, at least: blocks to keep every core busy at 10^6 rows, and
# at least 1,024 rows each, so copying them into rows costs little at 1,000 classes
_BLOCK_BYTES = 2**22
_MAX_LINE_BYTES = 2**20  # longer lines (1,000 classes take 20 kB) go to pandas' reader


def read_columns(path: Path, header: list[str], proba_names: list[str]) -> Columns | None:
    """The columns of a predictions CSV whose header is ``header``; None if pyarrow is not
    installed or the file is one pandas' parser alone reads as this project means."""
    try:
        import pyarrow as pa
        import pyarrow.csv as arrow_csv
    except ImportError:
        return None
    line_bytes = _line_bytes(path)
    if line_bytes is None or line_bytes > _MAX_LINE_BYTES or _has_quote(path):
        return None
    label = pa.dictionary(pa.int32(), pa.string())  # names once, a small integer a row
    # ids as text, checked before they become integers: pyarrow reads "0x10" as 16
    types = {"sample": pa.string(), "actual": label, "predicted": label}
    types.update({name: pa.float64() for name in proba_names})
    try:
        table = arrow_csv.read_csv(
            path,
            read_options=arrow_csv.ReadOptions(
                column_names=header, skip_rows=1, block_size=max(_BLOCK_BYTES, 2**10 * line_bytes)
            ),
            parse_options=arrow_csv.ParseOptions(newlines_in_values=False),
            convert_options=arrow_csv.ConvertOptions(
                column_types=types,
                include_columns=list(types),  # the others are checked for their count only
                null_values=[],  # "NA" is a class name; an empty number does not parse
                strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowException, OSError, ValueError, OverflowError):
        return None  # pandas reads it, or finds what is wrong and where
    sample = _ids(pa, table.column("sample"))
    if sample is None:
        return None
    actual, predicted = _labels(table.column("actual")), _labels(table.column("predicted"))
    if actual is None or predicted is None:
        return None
    proba = _proba(table, proba_names) if proba_names else None
    if proba_names and proba is None:
        return None
    return Columns(sample=sample, actual=actual, predicted=predicted, proba=proba)


def _line_bytes(path: Path) -> int | None:
    """The length of the line after the header; None unless the header is the file's
    first line: ``skip_rows=1`` skips it then (pandas skips blank lines before it)."""
    with path.open("rb") as file:
        first, second = file.readline(_MAX_LINE_BYTES + 1), file.readline(_MAX_LINE_BYTES + 1)
    return len(second) if first.strip() and len(first) <= _MAX_LINE_BYTES else None


def _has_quote(path: Path) -> bool:
    """Whether the file holds a double quote anywhere (a scan at memory speed)."""
    with path.open("rb") as file:
        if os.fstat(file.fileno()).st_size == 0:
            return False
        with mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ) as content:
            return content.find(b'"') >= 0


def _ids(pa, texts) -> np.ndarray | None:
    """The ids as int64; None unless every one is a plain integer within 64 bits."""
    import pyarrow.compute as compute

    if texts.null_count or not compute.all(compute.match_substring_regex(texts, _ID)).as_py():
        return None
    try:
        return _numbers(compute.cast(texts, pa.int64()), np.int64)
    except pa.ArrowException:  # beyond 64 bits
        return None


def _numbers(values, dtype) -> np.ndarray | None:
    """A column of numbers as one numpy array; None if it has a null."""
    if values.null_count:
        return None
    if not values.num_chunks:
        return np.zeros(0, dtype=dtype)
    return np.concatenate([chunk.to_numpy(zero_copy_only=True) for chunk in values.chunks])


def _labels(values) -> Labels | None:
    """Class names as codes, numbered in the order they first appear, as
    ``pandas.factorize`` numbers them; None if a name starts with a space or a tab,
    which pandas' ``skipinitialspace`` strips and pyarrow keeps."""
    values = values.unify_dictionaries()
    if not values.num_chunks:
        return Labels(codes=np.zeros(0, dtype=np.int64), names=[])
    names = values.chunk(0).dictionary.to_pylist()
    if any(name[:1] in (" ", "\t") for name in names):
        return None
    codes = np.concatenate([chunk.indices.to_numpy() for chunk in values.chunks])
    return Labels(codes=codes.astype(np.int64), names=names)


def _proba(table, names: list[str]) -> np.ndarray | None:
    """The probability columns as (n, K) float64 in C order (a row's classes together),
    filled a batch of rows at a time (one parsed block); None if a column has a null."""
    if any(table.column(name).null_count for name in names):
        return None
    rows = np.empty((table.num_rows, len(names)))
    start = 0
    for batch in table.select(names).to_batches():
        block = rows[start : start + batch.num_rows]
        for index, column in enumerate(batch.columns):
            block[:, index] = column.to_numpy(zero_copy_only=True)
        start += batch.num_rows
    return rows


def rows_of(columns: list[np.ndarray]) -> np.ndarray:
    """(n, K) float64 in C order (a row's classes together) from K columns, copied a
    block of rows at a time (in cache): twice as fast as ``np.stack(columns, axis=1)``
    at 10 columns, once where a frame's ``to_numpy()`` and a C-order copy would copy
    twice, and never column by column out of a frame, which costs K^2 at 1,000 classes."""
    n_rows = len(columns[0]) if columns else 0
    rows = np.empty((n_rows, len(columns)))
    step = max(2**12, _BLOCK_VALUES // max(len(columns), 1))  # rows; few blocks at K = 1,000
    for start in range(0, n_rows, step):
        block = rows[start : start + step]
        for index, column in enumerate(columns):
            block[:, index] = column[start : start + step]
    return rows
