"""Reading predictions from a file, a directory of shards, or a glob of shards.

A file is Parquet when it starts with Parquet's magic bytes, CSV otherwise, whatever
its name. A directory's shards are its ``*.csv`` and ``*.parquet`` (``*.pq``) files;
names starting with ``.`` or ``_`` (``_SUCCESS``, ``.part-0.crc``) are skipped, as
Spark, pyarrow and Dask write and skip them, and any other file is an error rather
than silently left out. Shards are read in the order of their names, and their rows
follow one another in that order: the same rows give the same outputs, whether they
come in one file or in shards, as CSV or as Parquet.
"""

import glob
from pathlib import Path

import numpy as np

from digitwise.predictions import csv_format, parquet_format
from digitwise.predictions.schema import Predictions, PredictionsError
from digitwise.predictions.validation import first_repeat

SHARD_SUFFIXES = (".csv", ".parquet", ".pq")
_GLOB_CHARACTERS = set("*?[")


def read_predictions(source: str | Path, classes: tuple[str, ...]) -> Predictions:
    """Read and validate predictions (one file, a directory or a glob) against the classes."""
    shards = shard_paths(source)
    parts = [read_file(path, classes) for path in shards]
    sample = parts[0].sample if len(parts) == 1 else np.concatenate([p.sample for p in parts])
    check_across(
        source,
        shards,
        [len(part.sample) for part in parts],
        [part.proba is not None for part in parts],
        sample,
    )
    if len(parts) == 1:
        return parts[0]
    return Predictions(
        sample=sample,
        actual=np.concatenate([part.actual for part in parts]),
        predicted=np.concatenate([part.predicted for part in parts]),
        proba=None if parts[0].proba is None else np.concatenate([p.proba for p in parts]),
        classes=parts[0].classes,
    )


def check_across(
    source: str | Path,
    shards: list[Path],
    sizes: list[int],
    with_proba: list[bool],
    sample: np.ndarray,
) -> None:
    """What each shard's own validation cannot see: some rows at all, the same columns in
    every shard, and ids unique across shards. ``sizes``, ``with_proba``: per shard, in
    order; ``sample``: their ids, concatenated in that order. A sharded evaluation
    (``digitwise.engines``) runs the same checks on what its shards report."""
    if not any(sizes):  # an empty shard among others is fine
        empty = _reader(shards[0]).EMPTY
        raise PredictionsError(
            f"{shards[0]}: {empty}" if len(shards) == 1 else f"{source}: no shard has rows"
        )
    if len(shards) == 1:
        return  # its own validation refuses a repeated id
    if any(with_proba) and not all(with_proba):
        odd = shards[with_proba.index(not with_proba[0])]
        raise PredictionsError(
            f"{odd}: {'has' if with_proba[0] is False else 'has no'} proba_ columns, unlike "
            f"{shards[0]}; shards of one predictions set share their columns"
        )
    _check_ids_across(sample, sizes, shards)


def shard_paths(source: str | Path) -> list[Path]:
    """The files to read, in order; a PredictionsError when there are none."""
    path = Path(source)
    if path.is_dir():
        shards, unknown = [], []
        for entry in sorted(path.iterdir()):
            if entry.name.startswith((".", "_")):
                continue
            (shards if entry.suffix.lower() in SHARD_SUFFIXES else unknown).append(entry)
        if unknown:
            raise PredictionsError(
                f"{unknown[0]}: not a predictions shard; a directory of predictions holds "
                f"only {', '.join('*' + s for s in SHARD_SUFFIXES)} files"
            )
        if not shards:
            raise PredictionsError(
                f"{path}: directory holds no predictions shards "
                f"({', '.join('*' + s for s in SHARD_SUFFIXES)})"
            )
        special = next((shard for shard in shards if not shard.is_file()), None)
        if special is not None:  # a FIFO would block, a directory cannot be read
            raise PredictionsError(f"{special}: not a regular file")
        return shards
    if path.exists() or not _GLOB_CHARACTERS & set(str(source)):
        if not path.exists():
            raise PredictionsError(f"{path}: file not found")
        if not path.is_file():
            raise PredictionsError(f"{path}: not a regular file")
        return [path]
    matches = sorted(Path(name) for name in glob.glob(str(source)))
    files = [match for match in matches if match.is_file()]
    if not files:
        found = f"only directories, such as {matches[0]}" if matches else "nothing"
        raise PredictionsError(f"{source}: this pattern matches {found}; it must match files")
    return files


def read_file(path: Path, classes: tuple[str, ...]) -> Predictions:
    return _reader(path).read(path, classes)


def _reader(path: Path):
    """The module that reads this file: Parquet by its magic bytes, else CSV."""
    try:
        with path.open("rb") as file:
            magic = file.read(len(parquet_format.MAGIC))
    except OSError as error:
        raise PredictionsError(f"{path}: cannot be read ({error.strerror or error})") from None
    return parquet_format if magic == parquet_format.MAGIC else csv_format


def _check_ids_across(sample: np.ndarray, sizes: list[int], shards: list[Path]) -> None:
    """Each shard's ids are unique already; an id in two shards is an error."""
    repeat = first_repeat(sample)
    if repeat is None:
        return
    row, first = repeat
    value = int(sample[row])
    starts = np.cumsum([0, *sizes])
    shard = int(np.searchsorted(starts, row, side="right")) - 1
    earlier = int(np.searchsorted(starts, first, side="right")) - 1
    raise PredictionsError(
        f"{shards[shard]}: sample id {value} is also in {shards[earlier]}; "
        "an id names one sample across all shards"
    )
