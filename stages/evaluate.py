"""Stage evaluate: metrics, confusion matrices and pairwise scores from a predictions file.

It reads nothing but the predictions and the class list, so it evaluates any
classifier's predictions (their schema: ``digitwise/predictions/schema.py``); it is
``digitwise evaluate`` with the paths of this pipeline."""

import argparse
import sys
from collections.abc import Sequence

from digitwise import params
from digitwise.cli import run
from digitwise.cli.evaluate import OUTPUTS, run_evaluate


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", required=True, help="params.yaml")
    parser.add_argument("--predictions", required=True, help="predictions file or shards")
    parser.add_argument("--classes", required=True, help="JSON list of class names, in order")
    parser.add_argument("--metrics", required=True, help="headline metrics JSON to write")
    parser.add_argument("--intervals", required=True, help="95%% intervals JSON to write")
    parser.add_argument("--confusion", required=True, help="confusion matrices JSON to write")
    parser.add_argument("--top-confusions", required=True, help="ranked confusions JSON to write")
    parser.add_argument("--pairwise", required=True, help="pairwise accuracy and AUC JSON to write")
    parser.add_argument("--calibration", required=True, help="calibration bins JSON to write")
    parser.add_argument("--per-class", required=True, help="per-class scores JSON to write")
    parser.add_argument("--confusion-plot", required=True, help="PNG of the counts")
    parser.add_argument("--confusion-normalized-plot", required=True, help="PNG of the shares")
    parser.add_argument("--pairwise-plot", required=True, help="PNG of pairwise accuracy")
    parser.add_argument("--calibration-plot", required=True, help="PNG reliability diagram")
    args = parser.parse_args(argv)
    destinations = {name: getattr(args, name) for name in OUTPUTS}
    settings = params.evaluate_params(params.load(args.params))
    for line in run_evaluate(args.predictions, args.classes, settings, destinations, args.params):
        print(line)


if __name__ == "__main__":
    sys.exit(run(main))
