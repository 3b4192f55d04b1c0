"""Stage prepare: load the data source named in params, validate it, split it."""

import argparse
import sys
from collections.abc import Sequence

from digitwise import params
from digitwise.cli import run
from digitwise.data import datasets, sources
from digitwise.io import outputs


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", required=True, help="params.yaml")
    parser.add_argument("--out", required=True, help="directory for the prepared splits")
    args = parser.parse_args(argv)
    outputs.check_destinations(*datasets.prepared_files(args.out), inputs=[args.params])

    raw = params.load(args.params)
    data = params.data_params(raw)
    split = params.split_params(raw)

    if split.method == "source" and data.source == "digits":  # before reading anything
        raise params.ParamsError(
            f"{args.params}: split.method=source, but the digits source has no split of its "
            "own; use split.method: stratified (with split.stratified.test_size)"
        )
    outputs.check_not_inputs([args.out], [data.path])  # the raw files (idx) are read there
    train, test = sources.split(sources.load_source(data), split, args.params)
    datasets.save_splits(args.out, train, test)


if __name__ == "__main__":
    sys.exit(run(main))
