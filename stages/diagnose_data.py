"""Stage diagnose_data: how separable each pair of classes is by a single pixel.

A property of the data, not the model: for every pair of classes, the best pixel and
threshold chosen on the training split (``digitwise/pixels/separability.py``), scored on the
held-out split. Beside the model's pairwise accuracy (from the evaluate stage's
``pairwise.json``) it tells the confusions that are hard in the data from those that
are the model's fault. Its heatmap lists the classes as the evaluate stage's do."""

import argparse
import sys
from collections.abc import Sequence

from digitwise import params
from digitwise.cli import run
from digitwise.io import jsonfile, outputs
from digitwise.metrics.ordering import load_class_order
from digitwise.pixels import separability
from digitwise.pixels.diagnosis import (
    build_pair_maps,
    confused_pairs,
    load_data,
    model_pairwise_accuracy,
    model_vs_data_report,
    no_maps_note,
    pair_names,
    separability_report,
)


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", required=True, help="params.yaml")
    parser.add_argument("--data", required=True, help="the prepared splits directory")
    parser.add_argument("--pairwise", required=True, help="the evaluate stage's pairwise.json")
    parser.add_argument(
        "--top-confusions", required=True, help="the evaluate stage's top_confusions.json"
    )
    parser.add_argument("--confusion", help="the evaluate stage's confusion.json (class order)")
    parser.add_argument("--separability", required=True, help="separability JSON to write")
    parser.add_argument("--model-vs-data", required=True, help="model-vs-data JSON to write")
    parser.add_argument("--separability-plot", required=True, help="PNG heatmap to write")
    parser.add_argument("--separability-maps-plot", required=True, help="PNG of pixel maps")
    parser.add_argument("--model-vs-data-plot", required=True, help="PNG scatter to write")
    args = parser.parse_args(argv)
    written = [args.separability, args.model_vs_data, args.separability_plot]
    written += [args.separability_maps_plot, args.model_vs_data_plot]
    read = (args.params, args.data, args.pairwise, args.top_confusions, args.confusion)
    outputs.check_destinations(*written, inputs=read)

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
    order = load_class_order(args.confusion, classes)  # None: the class list's

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
    from digitwise.figures import separability as plots
    from digitwise.io.outputs import json_text, png_bytes, write_all

    pair_maps = build_pair_maps(result, train, confused[: settings.maps])
    a, b = result.pairs.T
    figures = {
        args.separability_plot: plots.separability_heatmap(
            separability.pair_matrix(result.best_test_accuracy, len(classes)), classes, order=order
        ),
        args.separability_maps_plot: plots.separability_maps(
            pair_maps, pixel_max=train.pixel_max, empty=no_maps_note(settings.maps)
        ),
        args.model_vs_data_plot: plots.model_vs_data_scatter(
            result.best_test_accuracy, model[a, b], pair_names(result, classes)
        ),
    }
    images = {path: png_bytes(figure) for path, figure in figures.items()}

    texts = {args.separability: json_text(sep_report), args.model_vs_data: json_text(mvd_report)}
    write_all({**texts, **images})


if __name__ == "__main__":
    sys.exit(run(main))
