"""``digitwise report``: one self-contained HTML page of an evaluation, readable offline:
the headline metrics with their intervals, per-class scores, the ranked confusions,
every figure, and the comparison with a baseline when given.
"""
# The report DVC stage runs the same run_report, with its paths from dvc.yaml.

import argparse
from pathlib import Path

from digitwise.cli.names import COMPARE_OUTPUTS, EVALUATE_OUTPUTS, REPORT_PAGE
from digitwise.comparison.provenance import check_same_content
from digitwise.data import datasets
from digitwise.errors import UserError
from digitwise.io import jsonfile, outputs
from digitwise.report.figures import read_figures, read_png
from digitwise.report.inputs import (
    check_same_predictions,
    in_class_order,
    parse_comparison,
    parse_intervals,
    parse_metrics,
    parse_top_confusions,
    with_per_class,
)
from digitwise.report.page import render


def run_report(
    *,
    metrics_path: str | Path,
    top_confusions_path: str | Path,
    figures_dir: str | Path,
    out: str | Path,
    intervals_path: str | Path | None = None,
    comparison_path: str | Path | None = None,
    comparison_plot: str | Path | None = None,
    classes_path: str | Path | None = None,
    confusion_path: str | Path | None = None,
    per_class_path: str | Path | None = None,
) -> None:
    """``confusion_path``: the evaluation's confusion.json, needed with a comparison: the
    digest there must be that of the comparison's new predictions. Without
    ``per_class_path``, metrics.json holds the per-class scores (the older format)."""
    if (comparison_path is None) != (comparison_plot is None):
        raise UserError("--comparison and --comparison-plot must be given together")
    if comparison_path is not None and confusion_path is None:
        raise UserError("--comparison needs --confusion: the predictions the metrics are of")
    inputs = (metrics_path, per_class_path, top_confusions_path, intervals_path, comparison_path)
    inputs += (comparison_plot, classes_path, confusion_path, figures_dir)  # every PNG read
    outputs.check_destinations(out, inputs=inputs)

    metrics = parse_metrics(jsonfile.read_json(metrics_path), str(metrics_path))
    per_class = None if per_class_path is None else jsonfile.read_json(per_class_path)
    metrics = with_per_class(metrics, per_class, str(metrics_path), str(per_class_path))
    if classes_path is not None:
        classes = datasets.load_classes(classes_path)
        metrics = in_class_order(metrics, classes, str(per_class_path or metrics_path))
    confusions = parse_top_confusions(
        jsonfile.read_json(top_confusions_path), str(top_confusions_path)
    )
    figures = read_figures(str(figures_dir))
    intervals = None
    if intervals_path is not None:
        intervals = parse_intervals(jsonfile.read_json(intervals_path), str(intervals_path))
    comparison = None
    if comparison_path is not None and comparison_plot is not None:
        payload = jsonfile.read_json(comparison_path)
        plot = read_png(Path(comparison_plot))
        comparison = (parse_comparison(payload, str(comparison_path)), plot)
        check_same_predictions(metrics, comparison[0], str(metrics_path), str(comparison_path))
        check_same_content(payload, comparison_path, confusion_path)

    page = render(metrics, confusions, figures, intervals=intervals, comparison=comparison)
    outputs.write_text(out, page)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("evaluation", help="the --out directory of digitwise evaluate")
    parser.add_argument(
        "--comparison", help="the --out directory of digitwise compare, to show the comparison"
    )
    parser.add_argument(
        "--classes", help="class list JSON: per-class rows in its order (else natural order)"
    )
    parser.add_argument("--out", help=f"HTML file to write (default: EVALUATION/{REPORT_PAGE})")


def command(args: argparse.Namespace) -> None:
    evaluation = Path(args.evaluation)
    if not evaluation.is_dir():
        raise UserError(f"{evaluation}: not a directory; give the --out of digitwise evaluate")
    comparison = None if args.comparison is None else Path(args.comparison)
    per_class = evaluation / EVALUATE_OUTPUTS["per_class"]  # absent from older evaluations
    run_report(
        metrics_path=evaluation / EVALUATE_OUTPUTS["metrics"],
        per_class_path=per_class if per_class.exists() else None,
        top_confusions_path=evaluation / EVALUATE_OUTPUTS["top_confusions"],
        intervals_path=evaluation / EVALUATE_OUTPUTS["intervals"],
        figures_dir=evaluation / Path(EVALUATE_OUTPUTS["confusion_plot"]).parent,
        out=args.out if args.out is not None else evaluation / REPORT_PAGE,
        comparison_path=None if comparison is None else comparison / COMPARE_OUTPUTS["comparison"],
        comparison_plot=None if comparison is None else comparison / COMPARE_OUTPUTS["delta_plot"],
        classes_path=args.classes,
        confusion_path=evaluation / EVALUATE_OUTPUTS["confusion"],
    )
