"""Datasets and the prepared splits that the later stages read.

A ``Dataset`` is integer images, class indices, ids and class names; the data sources
that make one are in ``digitwise/data/sources.py``. ``validate`` checks one, ``split`` makes a
stratified seeded split, ``save_splits`` and ``load_split`` write and read the prepared
directory.
"""

import json
import math
import os
import stat
import tokenize
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np

from digitwise.errors import UserError, printable
from digitwise.io import jsonfile
from digitwise.io.outputs import json_text, write_all


class DataError(UserError):
    """A data file that is missing, unreadable or inconsistent."""


@dataclass(frozen=True)
class Dataset:
    images: np.ndarray  # (n_samples, height, width) uint8, values 0..pixel_max
    labels: np.ndarray  # (n_samples,) int64 indices into classes
    ids: np.ndarray  # (n_samples,) int64, each sample's row in the source
    classes: tuple[str, ...]
    pixel_max: int  # the brightest possible pixel value, for scaling features to 0..1


def load_digits_source() -> Dataset:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return Dataset(
        images=bunch.images.astype(np.uint8),  # stored as floats holding 0..16
        labels=bunch.target.astype(np.int64),
        ids=np.arange(len(bunch.target), dtype=np.int64),
        classes=tuple(str(name) for name in bunch.target_names),
        pixel_max=16,
    )


def validate(dataset: Dataset, source: str) -> Dataset:
    images, labels, ids = dataset.images, dataset.labels, dataset.ids
    for name, array in (("labels", labels), ("ids", ids)):
        if array.ndim != 1 or array.dtype.kind not in "iu":
            raise DataError(f"{source}: {name} must be a 1-D integer array; got {_shape(array)}")
    n = len(labels)
    if n == 0 or len(ids) != n:
        raise DataError(
            f"{source}: expected as many ids as labels (at least one); got {len(ids)} and {n}"
        )
    if images.ndim != 3 or images.shape[0] != n or images.dtype.kind not in "iu":
        raise DataError(
            f"{source}: expected integer images of shape (n, height, width) for {n} labels; "
            f"got {_shape(images)}"
        )
    if 0 in images.shape[1:]:
        raise DataError(
            f"{source}: images of {images.shape[1]} x {images.shape[2]} pixels hold no pixels"
        )
    if labels.min() < 0 or labels.max() >= len(dataset.classes):
        raise DataError(f"{source}: labels must be in 0..{len(dataset.classes) - 1}")
    if images.min() < 0 or int(images.max()) > dataset.pixel_max:
        raise DataError(f"{source}: pixel values must be in 0..{dataset.pixel_max}")
    check_unique_ids(ids, source)
    return dataset


def check_unique_ids(ids: np.ndarray, source: str | Path) -> None:
    """Refuse repeated sample ids, naming the first id seen twice and both positions:
    predictions are matched to samples by id."""
    order = np.argsort(ids, kind="stable")  # equal ids keep their order of positions
    repeated = np.flatnonzero(ids[order][1:] == ids[order][:-1])
    if repeated.size:
        # of all repeats, the one whose second position comes first
        second = order[repeated + 1]
        pair = int(np.argmin(second))
        first, again = int(order[repeated[pair]]), int(second[pair])
        raise DataError(
            f"{source}: sample id {int(ids[again])} appears twice, at positions {first} and "
            f"{again}; each sample's id must be unique"
        )


def _shape(array: np.ndarray) -> str:
    return f"{array.dtype} array of shape {array.shape}"


def split(dataset: Dataset, *, test_size: float, seed: int) -> tuple[Dataset, Dataset]:
    """A stratified, seeded split into (train, test)."""
    from sklearn.model_selection import train_test_split

    positions = np.arange(len(dataset.labels))
    try:
        train_rows, test_rows = train_test_split(
            positions, test_size=test_size, stratify=dataset.labels, random_state=seed
        )
    except ValueError as error:  # e.g. fewer test samples than classes
        raise UserError(
            f"split.stratified.test_size={test_size:g} cannot make a stratified split of "
            f"{len(positions)} samples in {len(dataset.classes)} classes ({error})"
        ) from None
    return take(dataset, np.sort(train_rows)), take(dataset, np.sort(test_rows))


def take(dataset: Dataset, rows: np.ndarray) -> Dataset:
    return Dataset(
        images=dataset.images[rows],
        labels=dataset.labels[rows],
        ids=dataset.ids[rows],
        classes=dataset.classes,
        pixel_max=dataset.pixel_max,
    )


# The prepared directory: plain .npy arrays (byte-reproducible, unlike .npz, whose
# zip entries carry the time) and two small JSON files.
def prepared_files(directory: str | Path) -> list[Path]:
    """The eight files ``save_splits`` writes in ``directory``."""
    arrays = [f"{name}_{field}.npy" for name in ("train", "test") for field in FIELDS]
    return [Path(directory) / name for name in (*arrays, "classes.json", "meta.json")]


FIELDS = ("images", "labels", "ids")


def save_splits(directory: str | Path, train: Dataset, test: Dataset) -> None:
    """The prepared directory's eight files, written together or not at all."""
    directory = Path(directory)
    files: dict[Path, bytes | str] = {
        directory / f"{name}_{field}.npy": _npy_bytes(getattr(part, field))
        for name, part in (("train", train), ("test", test))
        for field in FIELDS
    }
    files[directory / "classes.json"] = json_text(list(train.classes))
    meta = {"pixel_max": train.pixel_max, "image_shape": list(train.images.shape[1:])}
    files[directory / "meta.json"] = json_text(meta)
    write_all(files)


def _npy_bytes(array: np.ndarray) -> bytes:
    import io

    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    return buffer.getvalue()


def load_split(directory: str | Path, name: str) -> Dataset:
    directory = Path(directory)
    arrays = {
        field: _load_npy(
            directory / f"{name}_{field}.npy", field, ndim=3 if field == "images" else 1
        )
        for field in ("images", "labels", "ids")
    }
    check_unique_ids(arrays["ids"], directory / f"{name}_ids.npy")
    classes = load_classes(directory / "classes.json")
    dataset = Dataset(classes=classes, pixel_max=_pixel_max(directory / "meta.json"), **arrays)
    return validate(dataset, str(directory / f"{name}_*.npy"))


MAX_PIXEL = 65_535  # the brightest pixel a 16-bit image can hold


def _pixel_max(path: Path) -> int:
    meta = jsonfile.read_json(path)
    value = meta.get("pixel_max") if isinstance(meta, dict) else None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PIXEL:
        raise DataError(
            f"{path}: must be a JSON object with an integer pixel_max >= 1, at most {MAX_PIXEL}"
        )
    return value


def _load_npy(path: Path, field: str, *, ndim: int) -> np.ndarray:
    """The integer array of ``ndim`` dimensions in a .npy file, or a ``DataError`` naming
    the file: for a missing one, one that is not .npy (empty, a zip, damaged), one whose
    data is cut off or followed by more bytes, or one of another dtype or shape."""
    try:
        if not stat.S_ISREG(path.stat().st_mode):  # a FIFO would block
            raise DataError(f"{path}: not a regular file")
        with path.open("rb") as file:
            array = _read_npy(file, os.fstat(file.fileno()).st_size, str(path))
    except FileNotFoundError:
        raise DataError(f"{path}: file not found (run the prepare stage)") from None
    except OSError as error:
        raise DataError(f"{path}: cannot read it ({error.strerror})") from None
    if array.ndim != ndim or array.dtype.kind not in "iu":
        raise DataError(f"{path}: {field} must be a {ndim}-D integer array; got {_shape(array)}")
    return array


NPY_MAGIC = b"\x93NUMPY"


def _read_npy(file: BinaryIO, size: int, name: str) -> np.ndarray:
    """``np.load(allow_pickle=False)`` of a .npy file, once its header is checked:
    version 1 or 2, a plain numeric dtype, and exactly the bytes its shape needs (so
    nothing raises inside np.load, and no header makes it allocate more than the file)."""
    from numpy.lib import format as npy

    unreadable = f"{name}: not a readable .npy array"
    start = file.read(len(NPY_MAGIC))
    if not start:
        raise DataError(f"{unreadable}: the file is empty")
    if start != NPY_MAGIC:
        hint = " (a zip archive: .npz?)" if start.startswith(b"PK") else ""
        raise DataError(f"{unreadable}: it starts with {start!r}{hint}, not {NPY_MAGIC!r}")
    file.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "created on Python 2": it is refused or read
            version = npy.read_magic(file)
            if version not in ((1, 0), (2, 0)):
                raise DataError(f"{unreadable}: format version {version}; 1.0 and 2.0 are read")
            read_header = (
                npy.read_array_header_1_0 if version == (1, 0) else npy.read_array_header_2_0
            )
            shape, _, dtype = read_header(file)
    except (ValueError, SyntaxError, TypeError, tokenize.TokenError, RecursionError) as error:
        first_line = next(iter(str(error).splitlines()), type(error).__name__)
        raise DataError(f"{unreadable}: its header is damaged ({first_line})") from None
    if dtype.kind not in "biuf" or dtype.fields is not None or dtype.subdtype is not None:
        raise DataError(f"{unreadable}: its dtype {dtype} is not a plain number type")
    if any(extent < 0 for extent in shape):
        raise DataError(f"{unreadable}: its shape {shape} has a negative length")
    # numpy's own limits: 64 dimensions, and extents whose product (even one with a zero
    # extent) fits an index
    if len(shape) > 32 or any(extent > np.iinfo(np.intp).max // 16 for extent in shape):
        shown = shape if len(shape) <= 8 else f"of {len(shape)} dimensions"
        raise DataError(f"{unreadable}: its shape {shown} is beyond what numpy holds")
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    body = size - file.tell()
    if body != expected:
        problem = "cut off" if body < expected else f"followed by {body - expected} more bytes"
        raise DataError(
            f"{unreadable}: its data is {problem}: shape {shape} of {dtype} needs {expected} "
            f"bytes, the file holds {body}"
        )
    file.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the header's again
            array = np.load(file, allow_pickle=False)  # now known to be what it reads
    except (ValueError, MemoryError) as error:  # a shape numpy refuses after all
        raise DataError(f"{unreadable}: {printable(str(error))[:200]}") from None
    return array.astype(dtype.newbyteorder("="), copy=False)


_JSON_KINDS = {float: "a number", bool: "a boolean", list: "a list", dict: "an object"}
_JSON_KINDS[type(None)] = "null"


def load_classes(path: str | Path) -> tuple[str, ...]:
    """The ordered class names: a JSON list of distinct, non-empty names.

    A name is a string or an integer: ``clf.classes_.tolist()`` of digits is
    ``[0, 1, ..., 9]``, read as the names "0" to "9".
    """
    path = Path(path)
    classes = jsonfile.read_json(path)
    rule = (
        "must be a JSON list of at least 2 distinct, non-empty class names (strings or "
        "integers; without '$', which figures would read as the start of a formula, control "
        "characters or surrounding white space)"
    )
    if not isinstance(classes, list) or len(classes) < 2:
        raise DataError(f"{path}: {rule}")
    names = []
    for position, name in enumerate(classes):
        if isinstance(name, int) and not isinstance(name, bool):
            name = str(name)
        if not isinstance(name, str):
            raise DataError(
                f"{path}: element {position} is {_JSON_KINDS.get(type(name), 'a value')} "
                f"{printable(json.dumps(name))[:40]}, not a string or an integer; {rule}"
            )
        if not name.strip() or name != name.strip() or "$" in name or printable(name) != name:
            raise DataError(f"{path}: element {position} '{printable(name)}' is refused; {rule}")
        names.append(name)
    seen: set[str] = set()
    repeated = next((name for name in names if name in seen or seen.add(name)), None)
    if repeated is not None:
        raise DataError(f"{path}: {rule}; '{repeated}' appears more than once")
    return tuple(names)


def features(images: np.ndarray, pixel_max: int) -> np.ndarray:
    """Images of shape (n, height, width) as float32 rows of pixel intensities in 0..1.

    float32 halves the memory of 60,000 MNIST images (188 MB instead of 376 MB) and
    the time of a logistic regression's fit, which scikit-learn runs in the input's
    dtype; 8-bit pixels need no more precision. Models are fitted on these and given
    these to predict (``models.class_probabilities`` widens what they return).
    """
    return images.reshape(len(images), -1).astype(np.float32) / np.float32(pixel_max)


def seeded_subset(n: int, max_samples: int | None, seed: int) -> np.ndarray:
    """Positions of at most ``max_samples`` of n items, in increasing order.

    All of them when there are no more than ``max_samples`` (or it is None); otherwise
    a uniform draw without replacement, the same for the same seed.
    """
    if max_samples is None or n <= max_samples:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max_samples, replace=False))
