"""The data against the model: which classes' pairs one pixel separates, against how well
the model tells them apart, as the diagnose_data stage reports them."""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from digitwise.data import datasets
from digitwise.errors import UserError
from digitwise.pixels import separability
from digitwise.pixels.separability import Separability


def model_pairwise_accuracy(
    payload: Any, classes: Sequence[str], *, source: str = "pairwise.json"
) -> np.ndarray:
    """The evaluate stage's pairwise accuracy as (K, K) floats, NaN for null.

    ``payload`` is the parsed ``pairwise.json``; its ``classes`` must be the data's.
    """
    if not isinstance(payload, dict) or "classes" not in payload:
        raise UserError(f"{source}: must be an object with keys 'classes' and 'pairwise_accuracy'")
    if payload["classes"] != list(classes):
        raise UserError(
            f"{source}: classes {payload['classes']!r} do not match the data's classes "
            f"{list(classes)!r}; evaluate the predictions of a model trained on this data"
        )
    matrix = payload.get("pairwise_accuracy")
    k = len(classes)
    if not (
        isinstance(matrix, list)
        and len(matrix) == k
        and all(isinstance(row, list) and len(row) == k for row in matrix)
    ):
        raise UserError(f"{source}: 'pairwise_accuracy' must be a {k} x {k} list of lists")
    values = [value for row in matrix for value in row]
    if not all(
        value is None
        or (isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value <= 1)
        for value in values
    ):
        raise UserError(f"{source}: 'pairwise_accuracy' values must be numbers in 0..1 or null")
    return np.array([math.nan if v is None else float(v) for v in values]).reshape(k, k)


@dataclass(frozen=True)
class PairMap:
    """What one row of the separability maps shows, for the pair (a, b)."""

    a: str
    b: str
    mean_a: np.ndarray  # (h, w) mean training image of class a; NaN if the class is absent
    mean_b: np.ndarray  # (h, w)
    accuracy: np.ndarray  # (h, w) held-out accuracy of each pixel's rule; NaN if undefined
    best: tuple[int, int] | None  # (row, col) of the best pixel; None if the pair is undefined
    best_accuracy: float  # held-out accuracy at the best pixel; NaN if undefined


def confused_pairs(
    payload: Any, classes: Sequence[str], *, source: str = "top_confusions.json"
) -> list[tuple[int, int]]:
    """Distinct unordered pairs (a < b) of the ranked confusions, in the file's rank order.

    ``payload`` is the parsed ``top_confusions.json``: {"top_confusions": [{"actual",
    "predicted", "count", ...}, ...]}, ranked (as the evaluate stage writes it).
    """
    rows = payload.get("top_confusions") if isinstance(payload, dict) else None
    if not isinstance(rows, list):
        raise UserError(f"{source}: must be an object with a list 'top_confusions'")
    index = {name: i for i, name in enumerate(classes)}
    pairs: list[tuple[int, int]] = []
    for number, row in enumerate(rows, start=1):
        names = (row.get("actual"), row.get("predicted")) if isinstance(row, dict) else ()
        if len(names) != 2 or not all(isinstance(n, str) and n in index for n in names):
            raise UserError(
                f"{source}: top_confusions[{number}] must have 'actual' and 'predicted' "
                f"among the data's classes; got {row!r}"
            )
        a, b = sorted(index[name] for name in names)
        if a == b:
            raise UserError(f"{source}: top_confusions[{number}] confuses a class with itself")
        if (a, b) not in pairs:
            pairs.append((a, b))
    return pairs


def load_data(directory: str | Path) -> tuple[datasets.Dataset, datasets.Dataset]:
    """The prepared train and test splits, checked to fit together."""
    train = datasets.load_split(directory, "train")
    test = datasets.load_split(directory, "test")
    for name, part in (("train", train), ("test", test)):
        if not np.issubdtype(part.images.dtype, np.integer) or int(part.images.min()) < 0:
            raise datasets.DataError(
                f"{directory}/{name}_images.npy: pixel values must be integers in "
                f"0..{part.pixel_max}; got dtype {part.images.dtype}"
            )
    if train.images.shape[1:] != test.images.shape[1:]:
        raise datasets.DataError(
            f"{directory}: train images are {train.images.shape[1:]} but test images are "
            f"{test.images.shape[1:]}"
        )
    return train, test


def pair_records(result: Separability, classes: Sequence[str], width: int) -> list[dict]:
    """Per pair, in class order: the winning pixel and rule, and both accuracies."""
    records = []
    best = {
        "pixel": result.best_pixel,
        "threshold": result.best_threshold,
        "a_high": result.best_a_high,
        "train": result.best_train_accuracy,
        "test": result.best_test_accuracy,
    }
    for q, (a, b) in enumerate(result.pairs):
        record: dict[str, Any] = {
            "a": classes[a],
            "b": classes[b],
            "n_train": int(result.n_train[q]),
            "n_test": int(result.n_test[q]),
            "test_accuracy": float(best["test"][q]),
            "train_accuracy": float(best["train"][q]),
        }
        pixel = int(best["pixel"][q])
        if pixel < 0:  # a class absent from the training split
            record |= dict.fromkeys(("pixel", "row", "col", "threshold", "direction", "rule"))
        else:
            row, col = divmod(pixel, width)
            threshold = int(best["threshold"][q])
            high, low = (classes[a], classes[b]) if best["a_high"][q] else (classes[b], classes[a])
            record |= {
                "pixel": pixel,
                "row": row,
                "col": col,
                "threshold": threshold,
                "direction": separability.A_HIGH if best["a_high"][q] else separability.B_HIGH,
                "rule": f"{high} if pixel ({row}, {col}) >= {threshold} else {low}",
            }
        records.append(record)
    return records


def separability_report(
    result: Separability, classes: Sequence[str], image_shape: tuple[int, int], pixel_max: int
) -> dict[str, Any]:
    k = len(classes)
    return {
        "classes": list(classes),
        "image_shape": list(image_shape),
        "pixel_max": pixel_max,
        "best_pixel_test_accuracy": separability.pair_matrix(result.best_test_accuracy, k).tolist(),
        "best_pixel_train_accuracy": separability.pair_matrix(
            result.best_train_accuracy, k
        ).tolist(),
        "pairs": pair_records(result, classes, width=image_shape[1]),
    }


def model_vs_data_report(
    result: Separability, model: np.ndarray, classes: Sequence[str]
) -> dict[str, Any]:
    """Per pair, in class order: model pairwise accuracy, best one-pixel accuracy, difference."""
    a, b = result.pairs.T
    model_accuracy = model[a, b]
    pixel_accuracy = result.best_test_accuracy
    return {
        "classes": list(classes),
        "pairs": [
            {
                "a": classes[i],
                "b": classes[j],
                "model_pairwise_accuracy": float(m),
                "best_pixel_accuracy": float(p),
                "difference": float(m - p),  # what the model adds over one pixel; NaN -> null
            }
            for i, j, m, p in zip(a, b, model_accuracy, pixel_accuracy, strict=True)
        ],
    }


def class_mean(dataset: datasets.Dataset, k: int) -> np.ndarray:
    """Mean image of class k, (h, w) floats; all NaN if the split has no sample of it."""
    members = dataset.images[dataset.labels == k]
    if len(members) == 0:
        return np.full(dataset.images.shape[1:], np.nan)
    return members.mean(axis=0, dtype=np.float64)


def build_pair_maps(
    result: Separability, train: datasets.Dataset, pairs: Sequence[tuple[int, int]]
) -> list[PairMap]:
    """The rows of the separability maps, one per pair (a < b), in the given order."""
    image_shape = train.images.shape[1:]
    rows = {(a, b): q for q, (a, b) in enumerate(result.pairs.tolist())}
    pair_maps = []
    for a, b in pairs:
        q = rows[(a, b)]
        pixel = int(result.best_pixel[q])
        pair_maps.append(
            PairMap(
                a=train.classes[a],
                b=train.classes[b],
                mean_a=class_mean(train, a),
                mean_b=class_mean(train, b),
                accuracy=result.test_accuracy[q].reshape(image_shape),
                best=None if pixel < 0 else divmod(pixel, image_shape[1]),
                best_accuracy=float(result.best_test_accuracy[q]),
            )
        )
    return pair_maps


def pair_names(result: Separability, classes: Sequence[str]) -> list[str]:
    """ "a-b" for each pair of classes, in the order of ``result.pairs``."""
    return [f"{classes[i]}-{classes[j]}" for i, j in result.pairs.tolist()]


def no_maps_note(maps: int) -> str:
    """What the separability maps figure says when it has no pair to draw."""
    if maps == 0:
        return "separability.maps is 0: no maps drawn"
    return "no confusions in top_confusions.json: nothing to map"
