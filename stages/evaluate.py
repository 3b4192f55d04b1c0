"""Stage evaluate: metrics, confusion matrices and pairwise scores from a predictions file.

It reads nothing but the predictions file and the class list, so it evaluates any
classifier's predictions (the file's schema: ``digitwise/predictions/schema.py``)."""

import argparse
import sys
from collections.abc import Sequence

from digitwise import params
from digitwise.cli import run
from digitwise.data import datasets
from digitwise.io import outputs
from digitwise.metrics import classification as metrics
from digitwise.metrics.reports import (
    confusion_report,
    headline_metrics,
    intervals_report,
    pairwise_report,
    top_confusions_report,
)
from digitwise.predictions.schema import read_csv


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", required=True, help="params.yaml")
    parser.add_argument("--predictions", required=True, help="predictions CSV")
    parser.add_argument("--classes", required=True, help="JSON list of class names, in order")
    parser.add_argument("--metrics", required=True, help="headline metrics JSON to write")
    parser.add_argument("--intervals", required=True, help="95%% intervals JSON to write")
    parser.add_argument("--confusion", required=True, help="confusion matrices JSON to write")
    parser.add_argument("--top-confusions", required=True, help="ranked confusions JSON to write")
    parser.add_argument("--pairwise", required=True, help="pairwise accuracy and AUC JSON to write")
    parser.add_argument("--confusion-plot", required=True, help="PNG of the counts")
    parser.add_argument("--confusion-normalized-plot", required=True, help="PNG of the shares")
    parser.add_argument("--pairwise-plot", required=True, help="PNG of pairwise accuracy")
    args = parser.parse_args(argv)
    outputs.check_destinations(
        args.metrics,
        args.intervals,
        args.confusion,
        args.top_confusions,
        args.pairwise,
        args.confusion_plot,
        args.confusion_normalized_plot,
        args.pairwise_plot,
    )

    settings = params.evaluate_params(params.load(args.params))
    classes = datasets.load_classes(args.classes)
    predictions = read_csv(args.predictions, classes)

    counts = metrics.confusion_matrix(
        predictions.actual, predictions.predicted, n_classes=len(classes)
    )
    accuracy = metrics.pairwise_accuracy(
        predictions.actual, predictions.predicted, predictions.proba
    )
    auc = metrics.pairwise_auc(predictions.actual, predictions.proba)
    intervals = intervals_report(predictions, settings)

    # Imported here: seaborn costs ~1.3 s, and a bad input should fail before that.
    from digitwise.figures import heatmaps
    from digitwise.io.outputs import png_bytes, write_bytes, write_json

    figures = {
        args.confusion_plot: heatmaps.confusion_counts_heatmap(counts, classes),
        args.confusion_normalized_plot: heatmaps.confusion_normalized_heatmap(counts, classes),
        args.pairwise_plot: heatmaps.pairwise_accuracy_heatmap(accuracy, classes),
    }
    images = {path: png_bytes(figure) for path, figure in figures.items()}

    write_json(args.metrics, headline_metrics(predictions, counts, auc))
    write_json(args.intervals, intervals)
    write_json(args.confusion, confusion_report(counts, classes))
    write_json(
        args.top_confusions,
        top_confusions_report(counts, classes, limit=settings.top_confusions),
    )
    write_json(args.pairwise, pairwise_report(accuracy, auc, classes))
    for path, image in images.items():
        write_bytes(path, image)


if __name__ == "__main__":
    sys.exit(run(main))
