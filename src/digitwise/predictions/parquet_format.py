"""Predictions as Parquet, read with pyarrow (the ``parquet`` extra), column by column.

One column at a time goes from the file into the arrays ``validation`` checks, so at
10^7 rows the reader holds the predictions once plus one column, never the whole
table twice. Class columns may be strings (dictionary-encoded as they are read, so
a million names cost one small integer each) or integers (read as their decimal
names: ``clf.classes_`` of digits are 0..9). Messages name rows from 0, as
``pandas.read_parquet(path).iloc[row]`` and ``pyarrow`` do.
"""

from pathlib import Path

import numpy as np

from digitwise.errors import printable
from digitwise.predictions.schema import PROBA_PREFIX, Predictions, PredictionsError
from digitwise.predictions.validation import Columns, Labels, Problem, check_columns, validate

MAGIC = b"PAR1"  # the first (and last) four bytes of every Parquet file
INSTALL = "pip install 'digitwise[parquet]'"
_BYTES_PER_READ = 2**26  # probability columns read at once: 64 MiB of float64


EMPTY = "has no rows"


def read(path: Path, classes: tuple[str, ...]) -> Predictions:
    """The validated predictions of one Parquet file."""
    columns, namer = read_columns(path, classes)
    return validate(columns, classes, namer)


def read_columns(path: Path, classes: tuple[str, ...]) -> tuple[Columns, "RowNamer"]:
    pa, pq = _pyarrow(path)
    namer = RowNamer(path)
    problems: list[Problem] = []
    try:
        schema = pq.read_schema(path)
        header = list(schema.names)
        with_proba = check_columns(str(path), header, classes)
        strings = [n for n in ("actual", "predicted") if _is_text(pa, schema.field(n).type)]
        file = pq.ParquetFile(path, read_dictionary=strings)
        n_rows = file.metadata.num_rows

        def _complete(table, name: str):
            """The column, a null a problem of its row and filled with a value that
            breaks no earlier row's rule (it may break its own row's: the null wins)."""
            values = table.column(name)
            if values.null_count:
                row = int(np.argmax(_array(values.is_null())))
                problems.append((row, lambda: f"{printable(name)} is missing (null)"))
                values = _filled(pa, values)
            return values

        def column(name: str):
            return _complete(file.read(columns=[name]), name)

        sample = _integers(pa, column("sample"), "sample", path)
        actual = _labels(pa, column("actual"), "actual", path)
        predicted = _labels(pa, column("predicted"), "predicted", path)
        proba = None
        if with_proba:
            proba = np.empty((n_rows, len(classes)))
            # a few columns per read: one call per column costs ~1 ms, a second at
            # 1,000 classes; at 10^7 rows, one column is the budget already (a file of no
            # rows, refused once read, is read in one go)
            group = max(1, _BYTES_PER_READ // (8 * max(n_rows, 1)))
            for start in range(0, len(classes), group):
                names = [PROBA_PREFIX + c for c in classes[start : start + group]]
                values = file.read(columns=names)
                for offset, name in enumerate(names):
                    proba[:, start + offset] = _numbers(pa, _complete(values, name), name, path)
                del values
    except (pa.ArrowException, OSError) as error:
        raise PredictionsError(f"{path}: not a readable Parquet file ({_reason(error)})") from None
    columns = Columns(
        sample=sample, actual=actual, predicted=predicted, proba=proba, problems=tuple(problems)
    )
    return columns, namer


class RowNamer:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __call__(self, row: int) -> str:
        return f"{self.path}, row {row}"


def _pyarrow(path: Path):
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        raise PredictionsError(
            f"{path}: is a Parquet file, and reading Parquet needs pyarrow: {INSTALL}"
        ) from None
    return pa, pq


def _reason(error: Exception) -> str:
    text = str(error).strip()
    return printable(text.splitlines()[0] if text else type(error).__name__)


def _filled(pa, values):
    import pyarrow.compute as pc

    kind = values.type
    if pa.types.is_dictionary(kind):
        values, kind = pc.cast(values, kind.value_type), kind.value_type
    if _is_text(pa, kind):
        return pc.fill_null(values, "")  # no class is named ""
    if pa.types.is_floating(kind):
        return pc.fill_null(values, float("nan"))  # not a probability
    if pa.types.is_integer(kind):
        return pc.fill_null(values, 0)  # an id or a label: at worst a later row's repeat
    return values  # another type: refused by its column's check


def _is_text(pa, kind) -> bool:
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _array(values) -> np.ndarray:
    """A column as one numpy array, chunk by chunk."""
    chunks = [_array_of(chunk) for chunk in values.chunks]
    if len(chunks) == 1:
        return chunks[0]
    return np.concatenate(chunks) if chunks else np.zeros(0)


def _array_of(chunk) -> np.ndarray:
    """A chunk as numpy; numbers without nulls read in place, as ``to_numpy`` would import
    pandas (0.5 s) to do even that."""
    import pyarrow as pa

    kind = chunk.type
    if chunk.null_count == 0 and (pa.types.is_integer(kind) or pa.types.is_floating(kind)):
        if pa.types.is_floating(kind):
            dtype = np.dtype(f"float{kind.bit_width}")
        else:
            dtype = np.dtype(
                f"{'' if pa.types.is_signed_integer(kind) else 'u'}int{kind.bit_width}"
            )
        data = chunk.buffers()[1]
        return np.frombuffer(
            data, dtype=dtype, count=len(chunk), offset=chunk.offset * dtype.itemsize
        )
    return chunk.to_numpy(zero_copy_only=False)


def _integers(pa, values, name: str, path: Path) -> np.ndarray:
    if not pa.types.is_integer(values.type):
        raise PredictionsError(f"{path}: column {name} must hold integers; it holds {values.type}")
    array = _array(values)
    if array.dtype == np.uint64 and array.size and array.max() >= 2**63:
        raise PredictionsError(f"{path}: column {name} holds ids beyond 64-bit signed integers")
    return array.astype(np.int64, copy=False)


def _labels(pa, values, name: str, path: Path) -> Labels:
    kind = values.type
    if pa.types.is_dictionary(kind) and _is_text(pa, kind.value_type):
        values = values.unify_dictionaries()
        if values.num_chunks == 0:
            return Labels(codes=np.zeros(0, dtype=np.int64), names=[])
        codes = np.concatenate([_array_of(c.indices) for c in values.chunks])
        return Labels(codes=codes, names=values.chunk(0).dictionary.to_pylist())
    if pa.types.is_integer(kind):
        distinct, codes = np.unique(_array(values), return_inverse=True)
        return Labels(codes=codes, names=[str(int(value)) for value in distinct])
    if _is_text(pa, kind):  # not dictionary-encoded when the file's own schema says so
        return _labels(pa, values.dictionary_encode(), name, path)
    raise PredictionsError(
        f"{path}: column {name} must hold class names (strings or integers); "
        f"it holds {printable(str(kind))}"
    )


def _numbers(pa, values, name: str, path: Path) -> np.ndarray:
    kind = values.type
    if not (pa.types.is_floating(kind) or pa.types.is_integer(kind)):
        raise PredictionsError(
            f"{path}: column {printable(name)} must hold numbers; it holds {printable(str(kind))}"
        )
    return _array(values).astype(np.float64, copy=False)
