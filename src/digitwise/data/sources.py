"""Data sources: where the samples come from, and the split a source may have of its own.

A source returns a ``Source``: its samples as a ``Dataset``, and, if the source has a
train/test split of its own, which samples it holds out. Two are built in:

- ``digits``: scikit-learn's 8x8 digits (1,797 images, shipped with scikit-learn),
  with no split of its own;
- ``idx``: the four MNIST-format files in ``data.path`` (``digitwise/data/idx.py``). The train
  files' samples get ids 0..n_train-1 and the t10k files' the ids after them, in file
  order; the t10k files are the held-out part.

Class names are ``data.classes`` when given, else the source's own (the label numbers).
Another source is one more function in ``SOURCES``.
"""

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from digitwise.data import datasets, idx
from digitwise.data.datasets import DataError, Dataset, load_digits_source, take, validate
from digitwise.errors import UserError
from digitwise.params import DataParams, SplitParams


@dataclass(frozen=True)
class Source:
    dataset: Dataset  # every sample of the source
    held_out: np.ndarray | None  # (n_samples,) bool: the source's own test part; None: no split


def digits_source(data: DataParams) -> Source:
    dataset = load_digits_source()
    return Source(dataset=name_classes(dataset, data.classes, "the digits source"), held_out=None)


def idx_source(data: DataParams) -> Source:
    """The standard four IDX files in ``data.path``: train then t10k, in file order."""
    parts = [idx.read_part(data.path, part) for part in ("train", "test")]
    (train_images, train_labels, train_file, _), (test_images, test_labels, test_file, _) = parts
    if train_images.shape[1:] != test_images.shape[1:]:
        raise DataError(
            f"{test_file}: images of {_pixels(test_images)} pixels, but {Path(train_file).name} "
            f"holds images of {_pixels(train_images)}"
        )
    labels = np.concatenate([train_labels, test_labels]).astype(np.int64)
    if data.classes is not None:
        for _, part_labels, _, labels_file in parts:
            _check_named(part_labels, data.classes, labels_file)
        names = data.classes
    else:
        names = _label_numbers(parts)
    if len(names) < 2:
        raise DataError(
            f"{parts[0][3]}: every label is 0; a classifier needs at least 2 classes "
            "(or name them in data.classes)"
        )
    n_train = len(train_labels)
    dataset = Dataset(
        images=np.concatenate([train_images, test_images]),
        labels=labels,
        ids=np.arange(len(labels), dtype=np.int64),
        classes=names,
        pixel_max=255,  # unsigned bytes
    )
    return Source(dataset=dataset, held_out=np.arange(len(labels)) >= n_train)


def _label_numbers(parts: list) -> tuple[str, ...]:
    """The default class names "0".."max label". Labels 0..max with most numbers unused
    are refused: one damaged label of 255 would otherwise make 256 classes."""
    highest, file = max((int(part[1].max()), part[3]) for part in parts)
    present = np.unique(np.concatenate([part[1] for part in parts]))
    if highest + 1 > 2 * len(present):
        raise DataError(
            f"{file}: labels go up to {highest}, but only {len(present)} of 0..{highest} occur; "
            "if that is right, name the classes in data.classes"
        )
    return tuple(str(label) for label in range(highest + 1))


def _pixels(images: np.ndarray) -> str:
    return f"{images.shape[1]} x {images.shape[2]}"


def _check_named(labels: np.ndarray, classes: tuple[str, ...], file: str) -> None:
    unnamed = np.flatnonzero(labels >= len(classes))
    if unnamed.size:
        first = int(unnamed[0])
        raise DataError(
            f"{file}: label {int(labels[first])} (item {first}) has no name: data.classes "
            f"names labels 0..{len(classes) - 1}"
        )


def name_classes(dataset: Dataset, classes: tuple[str, ...] | None, source: str) -> Dataset:
    """The dataset with its classes renamed by ``data.classes`` (None: as they are)."""
    if classes is None:
        return dataset
    _check_named(dataset.labels, classes, source)
    return replace(dataset, classes=classes)


SOURCES = {"digits": digits_source, "idx": idx_source}


def load_source(data: DataParams) -> Source:
    """The validated samples of the source named in params."""
    source = SOURCES[data.source](data)
    where = data.path if data.source == "idx" else data.source
    return replace(source, dataset=validate(source.dataset, where))


def split(source: Source, settings: SplitParams, params_file: str) -> tuple[Dataset, Dataset]:
    """(train, test) by ``split.method``: a stratified seeded split of all the samples, or
    the source's own split."""
    if settings.method == "source":
        if source.held_out is None:
            raise UserError(
                f"{params_file}: split.method=source, but this data source has no split of its "
                "own; use split.method: stratified"
            )
        rows = np.arange(len(source.held_out))
        return take(source.dataset, rows[~source.held_out]), take(
            source.dataset, rows[source.held_out]
        )
    try:
        return datasets.split(source.dataset, test_size=settings.test_size, seed=settings.seed)
    except UserError as error:
        raise UserError(f"{params_file}: {error}") from None
