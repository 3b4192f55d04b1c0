"""``digitwise evaluate``: metrics, confusion matrices and pairwise scores of any
classifier's predictions (CSV or Parquet, one file or shards; labels with or without
probabilities), written under one directory with standard names. The evaluate DVC stage
runs the same ``run_evaluate``, with its paths from dvc.yaml."""

import argparse
import sys
from collections.abc import Mapping
from pathlib import Path

from digitwise import params
from digitwise.cli import add_params_option
from digitwise.cli import settings as settings_of
from digitwise.cli.names import EVALUATE_OUTPUTS
from digitwise.data import datasets
from digitwise.engines.dask import evaluate as on_dask
from digitwise.errors import UserError
from digitwise.figures.background import Drawer
from digitwise.io import outputs
from digitwise.metrics import evaluation as evaluated
from digitwise.metrics.evaluation import argmax_warning, evaluate, summary_lines
from digitwise.predictions.reading import read_predictions, shard_paths

OUTPUTS = EVALUATE_OUTPUTS  # output name -> path under --out
CONFUSION_FIGURES = {"confusion_plot": "counts", "confusion_normalized_plot": "normalized"}
PARALLEL_BYTES = 10 * 2**20  # from here the figures are drawn meanwhile: 10^5 rows, seconds
ENGINE = "memory: every row read here (default); dask: shards summarised on a Dask cluster"
SCHEDULER = "with --engine dask: its scheduler (tcp://host:8786); default: a local cluster"


def run_evaluate(
    predictions_path: str,
    classes_path: str,
    settings: params.EvaluateParams,
    destinations: Mapping[str, str | Path],
    params_path: str | None = None,
    *,
    scheduler: str | None = None,
    engine: str = "memory",
) -> list[str]:
    """Evaluate, draw and write every output in ``OUTPUTS`` to ``destinations``; the summary
    lines. Bad input fails before anything is written; no output may overwrite the file
    ``params_path``. ``engine="dask"``: at ``scheduler``, or a local cluster if None."""
    shards = shard_paths(predictions_path)
    inputs = [params_path, classes_path, predictions_path, *shards]
    outputs.check_destinations(*(destinations[name] for name in OUTPUTS), inputs=inputs)
    classes = datasets.load_classes(classes_path)
    large = sum(path.stat().st_size for path in shards) > PARALLEL_BYTES
    with Drawer(large and engine == "memory") as drawer:  # worker processes draw meanwhile
        if engine == "dask":  # everything at once, from the shards' merged state
            evaluation = on_dask(shards, predictions_path, classes, settings, scheduler)
            first = early = drawn = evaluation
        else:  # each figure submitted as soon as what it draws is computed
            predictions = read_predictions(predictions_path, classes)
            first = evaluated.confusion_preview(predictions, settings)
        order = first.order  # of the classes in every heatmap (evaluate.class_order)
        drawing = {
            name: drawer.submit(f"confusion_{kind}_heatmap", first.counts, classes, order)
            for name, kind in CONFUSION_FIGURES.items()
        }
        if engine != "dask":  # calibration next: its diagram is the costliest figure
            early = evaluated.calibration_preview(predictions, settings)
        calibration = early.calibration  # None without probabilities
        drawing["calibration_plot"] = drawer.submit("reliability_diagram", calibration, classes)
        if engine != "dask":  # the state's scores, drawn while the per-pair AUC is computed
            drawn = evaluated.preview_of(predictions, settings, first, early)
        kind = f"pairwise{'_label' if drawn.label_only else ''}_accuracy_heatmap"
        drawing["pairwise_plot"] = drawer.submit(kind, drawn.pairwise, classes, order)
        if engine != "dask":
            evaluation = evaluate(predictions, settings, preview=drawn)
        if warning := argmax_warning(evaluation):
            print(warning, file=sys.stderr)
        texts = {name: outputs.json_text(payload) for name, payload in evaluation.payloads.items()}
        images = {name: drawer.png(ticket) for name, ticket in drawing.items()}
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
    parser.add_argument("--engine", choices=("memory", "dask"), default="memory", help=ENGINE)
    parser.add_argument("--scheduler", metavar="ADDRESS", help=SCHEDULER)
    add_params_option(parser, "evaluate", params.EVALUATE_DEFAULTS)


def command(args: argparse.Namespace) -> None:
    settings = settings_of(args.params, params.evaluate_params, params.EVALUATE_DEFAULTS)
    out = Path(args.out)
    destinations = {name: out / relative for name, relative in OUTPUTS.items()}
    if args.scheduler is not None and args.engine != "dask":
        raise UserError("--scheduler is the address of a Dask scheduler: it needs --engine dask")
    on = {"engine": args.engine, "scheduler": args.scheduler}
    lines = run_evaluate(args.predictions, args.classes, settings, destinations, args.params, **on)
    print("\n".join(lines))
