"""``digitwise compare``: predictions against a baseline's on the same held-out samples.

A command, not a DVC stage: the baseline is another revision's output. It is a
predictions file or a git revision (``main``, ``HEAD~1``, a sha); for a revision, the
file committed there at the path of the new predictions is the baseline.

Writes a JSON comparison (accuracy difference with a paired bootstrap interval,
McNemar's exact test, per-class recall changes, the confusion cells that changed most),
a heatmap of the change in the confusion matrix normalized by true class, and a short
Markdown summary for a CI job page."""

import argparse
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from digitwise import params
from digitwise.cli import add_params_option
from digitwise.cli import settings as settings_of
from digitwise.cli.names import COMPARE_OUTPUTS
from digitwise.comparison.compare import (
    align,
    comparison_report,
    load_baseline,
    summary_lines,
    summary_markdown,
)
from digitwise.data import datasets
from digitwise.io import outputs
from digitwise.metrics import classification as metrics
from digitwise.metrics.evaluation import confusion_preview
from digitwise.metrics.ordering import order_report
from digitwise.predictions.reading import read_predictions, shard_paths
from digitwise.predictions.schema import content_digest

OUTPUTS = COMPARE_OUTPUTS  # output name -> file name under --out


def run_compare(
    predictions_path: str,
    baseline_ref: str,
    classes_path: str,
    settings: params.EvaluateParams,
    destinations: Mapping[str, str | Path],
    params_path: str | None = None,
) -> list[str]:
    """Compare, draw and write every output in ``OUTPUTS``; the summary lines.
    ``params_path``: the file ``settings`` were read from."""
    inputs = [params_path, classes_path, predictions_path, *shard_paths(predictions_path)]
    if Path(baseline_ref).exists():
        inputs += [baseline_ref, *shard_paths(baseline_ref)]
    outputs.check_destinations(*(destinations[name] for name in OUTPUTS), inputs=inputs)
    classes = datasets.load_classes(classes_path)
    new = read_predictions(predictions_path, classes)
    baseline = load_baseline(baseline_ref, predictions_path, classes)
    # of the predictions as read: digitwise evaluate records the same digest of its input
    digests = {"new": content_digest(new), "baseline": content_digest(baseline.predictions)}
    new, base = align(
        new, baseline.predictions, new_name=predictions_path, base_name=baseline.source
    )
    baseline = replace(baseline, predictions=base)

    first = confusion_preview(new, settings)  # the counts and order evaluate draws first
    base_counts = metrics.confusion_matrix(base.actual, base.predicted, n_classes=len(classes))
    report = comparison_report(
        new,
        baseline,
        n_resamples=settings.bootstrap_resamples,
        seed=settings.bootstrap_seed,
        limit=settings.top_confusions,
    ) | {"predictions_sha256": digests, "class_order": order_report(first.order, classes)}
    summary = summary_markdown(report, new_name=predictions_path)
    from digitwise.figures import heatmaps  # seaborn costs ~1.3 s: a bad input fails before it

    ref = baseline.ref if baseline.commit is None else f"{baseline.ref} ({baseline.commit[:12]})"
    figure = heatmaps.confusion_delta_heatmap(
        first.counts, base_counts, classes, ref=ref, order=first.order
    )
    image = outputs.png_bytes(figure)

    written = {"comparison": outputs.json_text(report), "delta_plot": image, "summary": summary}
    outputs.write_all({destinations[name]: data for name, data in written.items()})
    return summary_lines(report)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("predictions", help="the new predictions (file, directory or glob)")
    parser.add_argument(
        "baseline", help="the baseline: a predictions file, or a git revision (main, HEAD~1)"
    )
    parser.add_argument("--classes", required=True, help="JSON list of class names, in order")
    parser.add_argument(
        "--out", required=True, help=f"directory to write {', '.join(OUTPUTS.values())} in"
    )
    add_params_option(parser, "evaluate", params.EVALUATE_DEFAULTS)


def command(args: argparse.Namespace) -> None:
    settings = settings_of(args.params, params.evaluate_params, params.EVALUATE_DEFAULTS)
    destinations = {name: Path(args.out) / file for name, file in OUTPUTS.items()}
    compared = run_compare(
        args.predictions, args.baseline, args.classes, settings, destinations, args.params
    )
    for line in compared:
        print(line)
