"""Compare a predictions file against a baseline's predictions on the same held-out samples.

A command, not a DVC stage: the baseline is another revision's output. ``--baseline``
is a path to a predictions file or a git revision (``main``, ``HEAD~1``, a sha); for a
revision, the file committed there at the path of ``--predictions`` is the baseline.

Writes a JSON comparison (accuracy difference with a paired bootstrap interval,
McNemar's exact test, per-class recall changes, the confusion cells that changed most),
a heatmap of the change in the confusion matrix normalized by true class, and a short
Markdown summary for a CI job page."""

import argparse
import sys
from collections.abc import Sequence
from dataclasses import replace

from digitwise import params
from digitwise.cli import run
from digitwise.comparison.compare import align, comparison_report, load_baseline, summary_markdown
from digitwise.data import datasets
from digitwise.io import outputs
from digitwise.metrics import classification as metrics
from digitwise.predictions.schema import read_csv


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", required=True, help="params.yaml (section evaluate)")
    parser.add_argument("--classes", required=True, help="JSON list of class names, in order")
    parser.add_argument("--predictions", required=True, help="the new predictions CSV")
    parser.add_argument(
        "--baseline", required=True, help="a predictions CSV, or a git revision (main, HEAD~1)"
    )
    parser.add_argument("--comparison", required=True, help="comparison JSON to write")
    parser.add_argument("--delta-plot", required=True, help="PNG of the confusion change")
    parser.add_argument("--summary", required=True, help="Markdown summary to write")
    args = parser.parse_args(argv)
    outputs.check_destinations(args.comparison, args.delta_plot, args.summary)

    settings = params.evaluate_params(params.load(args.params))
    classes = datasets.load_classes(args.classes)
    new = read_csv(args.predictions, classes)
    baseline = load_baseline(args.baseline, args.predictions, classes)
    new, base = align(
        new, baseline.predictions, new_name=args.predictions, base_name=baseline.source
    )
    baseline = replace(baseline, predictions=base)

    report = comparison_report(
        new,
        baseline,
        n_resamples=settings.bootstrap_resamples,
        seed=settings.bootstrap_seed,
        limit=settings.top_confusions,
    )
    summary = summary_markdown(report, new_name=args.predictions)
    k = len(classes)
    from digitwise.figures import heatmaps  # seaborn costs ~1.3 s: a bad input fails before it

    figure = heatmaps.confusion_delta_heatmap(
        metrics.confusion_matrix(new.actual, new.predicted, n_classes=k),
        metrics.confusion_matrix(base.actual, base.predicted, n_classes=k),
        classes,
        ref=baseline.ref if baseline.commit is None else f"{baseline.ref} ({baseline.commit[:12]})",
    )
    image = outputs.png_bytes(figure)

    outputs.write_json(args.comparison, report)
    outputs.write_bytes(args.delta_plot, image)
    outputs.write_text(args.summary, summary)


if __name__ == "__main__":
    sys.exit(run(main))
