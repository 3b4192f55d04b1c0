"""Stage report: one self-contained HTML page of the evaluation, readable offline.

It gathers the headline metrics (with their 95% intervals when given), the per-class
scores, the ranked confusions, every PNG in the figures directory and, when given, the
comparison with a baseline run, into a single file. Nothing is fetched when the page is
viewed: the styles are inline, there is no script, every image is a base64 ``data:`` URI,
and a Content-Security-Policy forbids the browser any other source. The bytes depend only
on the inputs' contents and the figures' file names, never on paths, time or locale."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from digitwise.cli import run
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
)
from digitwise.report.page import render


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--metrics", required=True, help="headline metrics JSON (evaluate)")
    parser.add_argument("--top-confusions", required=True, help="ranked confusions JSON")
    parser.add_argument("--figures", required=True, help="directory of PNG figures, all shown")
    parser.add_argument("--out", required=True, help="HTML file to write")
    parser.add_argument("--intervals", help="JSON of 95%% intervals {metric: {low, high}}")
    parser.add_argument("--comparison", help="JSON comparing this run with a baseline")
    parser.add_argument("--comparison-plot", help="PNG of the confusion matrix difference")
    parser.add_argument(
        "--classes", help="class list JSON: per-class rows in its order (else natural order)"
    )
    args = parser.parse_args(argv)
    if (args.comparison is None) != (args.comparison_plot is None):
        raise UserError("--comparison and --comparison-plot must be given together")
    outputs.check_destinations(args.out)
    inputs = (
        args.metrics,
        args.top_confusions,
        args.intervals,
        args.comparison,
        args.comparison_plot,
    )
    out = Path(args.out).resolve()
    if any(path is not None and Path(path).resolve() == out for path in inputs):
        raise UserError(f"{args.out}: is also an input; write the report elsewhere")

    metrics = parse_metrics(jsonfile.read_json(args.metrics), args.metrics)
    if args.classes is not None:
        metrics = in_class_order(metrics, datasets.load_classes(args.classes), args.metrics)
    confusions = parse_top_confusions(jsonfile.read_json(args.top_confusions), args.top_confusions)
    figures = read_figures(args.figures)
    intervals = None
    if args.intervals is not None:
        intervals = parse_intervals(jsonfile.read_json(args.intervals), args.intervals)
    comparison = None
    if args.comparison is not None:
        comparison = (
            parse_comparison(jsonfile.read_json(args.comparison), args.comparison),
            read_png(Path(args.comparison_plot)),
        )

    if comparison is not None:
        check_same_predictions(metrics, comparison[0], args.metrics, args.comparison)

    page = render(metrics, confusions, figures, intervals=intervals, comparison=comparison)
    outputs.write_text(args.out, page)


if __name__ == "__main__":
    sys.exit(run(main))
