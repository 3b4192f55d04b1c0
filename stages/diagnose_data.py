"""Stage diagnose_data: how separable each pair of classes is by a single pixel.

A property of the data, not the model: for every pair of classes, the best pixel and
threshold chosen on the training split (``stages/separability.py``), scored on the
held-out split. Beside the model's pairwise accuracy (from the evaluate stage's
``pairwise.json``) it tells the confusions that are hard in the data from those that
are the model's fault.
"""

import argparse
import math
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from stages import datasets, jsonfile, outputs, params, separability
from stages.cli import UserError, run
from stages.separability import Separability

if TYPE_CHECKING:  # at run time only once the inputs are valid: it imports seaborn
    from stages.separability_plots import PairMap


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
) -> list["PairMap"]:
    """The rows of the separability maps, one per pair (a < b), in the given order."""
    from stages.separability_plots import PairMap

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


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", required=True, help="params.yaml")
    parser.add_argument("--data", required=True, help="the prepared splits directory")
    parser.add_argument("--pairwise", required=True, help="the evaluate stage's pairwise.json")
    parser.add_argument(
        "--top-confusions", required=True, help="the evaluate stage's top_confusions.json"
    )
    parser.add_argument("--separability", required=True, help="separability JSON to write")
    parser.add_argument("--model-vs-data", required=True, help="model-vs-data JSON to write")
    parser.add_argument("--separability-plot", required=True, help="PNG heatmap to write")
    parser.add_argument("--separability-maps-plot", required=True, help="PNG of pixel maps")
    parser.add_argument("--model-vs-data-plot", required=True, help="PNG scatter to write")
    args = parser.parse_args(argv)
    outputs.check_destinations(
        args.separability,
        args.model_vs_data,
        args.separability_plot,
        args.separability_maps_plot,
        args.model_vs_data_plot,
    )

    settings = params.separability_params(params.load(args.params))
    train, test = load_data(args.data)
    classes = train.classes
    model = model_pairwise_accuracy(
        jsonfile.read_json(args.pairwise, hint="(run the evaluate stage)"),
        classes,
        source=args.pairwise,
    )
    confused = confused_pairs(
        jsonfile.read_json(args.top_confusions, hint="(run the evaluate stage)"),
        classes,
        source=args.top_confusions,
    )

    result = separability.separability(
        train.images,
        train.labels,
        test.images,
        test.labels,
        n_classes=len(classes),
        pixel_max=train.pixel_max,
    )
    image_shape = train.images.shape[1:]
    sep_report = separability_report(result, classes, image_shape, train.pixel_max)
    mvd_report = model_vs_data_report(result, model, classes)

    # Imported here: seaborn costs ~1.3 s, and a bad input should fail before that.
    from stages import separability_plots as plots
    from stages.outputs import png_bytes, write_bytes, write_json

    pair_maps = build_pair_maps(result, train, confused[: settings.maps])
    empty = (
        "separability.maps is 0: no maps drawn"
        if settings.maps == 0
        else "no confusions in top_confusions.json: nothing to map"
    )
    a, b = result.pairs.T
    names = [f"{classes[i]}-{classes[j]}" for i, j in zip(a, b, strict=True)]
    figures = {
        args.separability_plot: plots.separability_heatmap(
            separability.pair_matrix(result.best_test_accuracy, len(classes)), classes
        ),
        args.separability_maps_plot: plots.separability_maps(
            pair_maps, pixel_max=train.pixel_max, empty=empty
        ),
        args.model_vs_data_plot: plots.model_vs_data_scatter(
            result.best_test_accuracy, model[a, b], names
        ),
    }
    images = {path: png_bytes(figure) for path, figure in figures.items()}

    write_json(args.separability, sep_report)
    write_json(args.model_vs_data, mvd_report)
    for path, image in images.items():
        write_bytes(path, image)


if __name__ == "__main__":
    sys.exit(run(main))
