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

from digitwise.cli import run
from digitwise.cli.report import run_report


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--metrics", required=True, help="headline metrics JSON (evaluate)")
    parser.add_argument("--per-class", help="per-class scores JSON (evaluate)")
    parser.add_argument("--top-confusions", required=True, help="ranked confusions JSON")
    parser.add_argument("--figures", required=True, help="directory of PNG figures, all shown")
    parser.add_argument("--out", required=True, help="HTML file to write")
    parser.add_argument("--intervals", help="JSON of 95%% intervals {metric: {low, high}}")
    parser.add_argument("--comparison", help="JSON comparing this run with a baseline")
    parser.add_argument("--comparison-plot", help="PNG of the confusion matrix difference")
    parser.add_argument(
        "--confusion",
        help="the evaluate stage's confusion.json: with --comparison, which predictions it is of",
    )
    parser.add_argument(
        "--classes", help="class list JSON: per-class rows in its order (else natural order)"
    )
    args = parser.parse_args(argv)
    run_report(
        metrics_path=args.metrics,
        per_class_path=args.per_class,
        top_confusions_path=args.top_confusions,
        figures_dir=args.figures,
        out=args.out,
        intervals_path=args.intervals,
        comparison_path=args.comparison,
        comparison_plot=args.comparison_plot,
        confusion_path=args.confusion,
        classes_path=args.classes,
    )


if __name__ == "__main__":
    sys.exit(run(main))
