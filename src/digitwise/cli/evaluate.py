"""``digitwise evaluate``: metrics, confusion matrices and pairwise scores of any
classifier's predictions (CSV or Parquet, one file or shards; labels with or without
probabilities), written under one directory with standard names.
"""
# The evaluate DVC stage runs the same run_evaluate, with its paths from dvc.yaml.

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

from digitwise import params
from digitwise.cli import add_params_option
from digitwise.cli import settings as settings_of
from digitwise.cli.names import EVALUATE_OUTPUTS
from digitwise.data import datasets
from digitwise.figures.background import Drawer
from digitwise.io import outputs
from digitwise.metrics import classification as metrics
from digitwise.metrics.evaluation import (
    argmax_warning,
    evaluate,
    pairwise_matrix,
    summary_lines,
)
from digitwise.metrics.ordering import class_order
from digitwise.predictions.reading import read_predictions, shard_paths

OUTPUTS = EVALUATE_OUTPUTS  # output name -> path under --out
PARALLEL_BYTES = 10 * 2**20  # predictions from which the heatmaps are drawn meanwhile


def run_evaluate(
    predictions_path: str,
    classes_path: str,
    settings: params.EvaluateParams,
    destinations: Mapping[str, str | Path],
    params_path: str | None = None,
) -> list[str]:
    """Evaluate, draw and write every output in ``OUTPUTS`` to ``destinations``; the
    summary lines. Bad input fails before anything is written. ``params_path``: the
    file ``settings`` were read from, which no output may overwrite."""
    inputs = [params_path, classes_path, predictions_path, *shard_paths(predictions_path)]
    outputs.check_destinations(*(destinations[name] for name in OUTPUTS), inputs=inputs)
    classes = datasets.load_classes(classes_path)
    # a worker process pays off from a few seconds of work: about 10^5 rows, 10 MB
    large = sum(path.stat().st_size for path in shard_paths(predictions_path)) > PARALLEL_BYTES
    with Drawer(large) as drawer:  # its worker imports matplotlib while the rest is read
        predictions = read_predictions(predictions_path, classes)
        counts = metrics.confusion_matrix(
            predictions.actual, predictions.predicted, n_classes=len(classes)
        )
        order = class_order(counts, method=settings.class_order)  # of every heatmap
        drawing = {  # drawn while the rest is computed
            "confusion_plot": drawer.submit("confusion_counts_heatmap", counts, classes, order),
            "confusion_normalized_plot": drawer.submit(
                "confusion_normalized_heatmap", counts, classes, order
            ),
        }
        pairwise = pairwise_matrix(predictions, counts)
        kind = (
            "pairwise_label_accuracy_heatmap"
            if predictions.proba is None
            else "pairwise_accuracy_heatmap"
        )
        # before the pairwise AUC: drawing the last heatmap after every metric would
        # leave the worker idle meanwhile, and make this process wait for it at the end
        drawing["pairwise_plot"] = drawer.submit(kind, pairwise, classes, order)
        evaluation = evaluate(predictions, settings, counts=counts, pairwise=pairwise, order=order)
        warning = argmax_warning(evaluation)
        if warning:
            print(warning, file=sys.stderr)
        texts = {name: outputs.json_text(payload) for name, payload in evaluation.payloads.items()}
        images = {name: drawer.png(future) for name, future in drawing.items()}
    outputs.write_all({destinations[name]: data for name, data in (texts | images).items()})
    return summary_lines(evaluation)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "predictions",
        help="predictions: a CSV or Parquet file, a directory of shards, or a quoted glob",
    )
    parser.add_argument(
        "--classes", required=True, help="JSON list of class names, in the classifier's order"
    )
    parser.add_argument(
        "--out", required=True, help=f"directory to write {', '.join(OUTPUTS.values())} in"
    )
    add_params_option(parser, "evaluate", params.EVALUATE_DEFAULTS)


def command(args: argparse.Namespace) -> None:
    settings = settings_of(args.params, params.evaluate_params, params.EVALUATE_DEFAULTS)
    out = Path(args.out)
    destinations = {name: out / relative for name, relative in OUTPUTS.items()}
    evaluated = run_evaluate(args.predictions, args.classes, settings, destinations, args.params)
    for line in evaluated:
        print(line)
