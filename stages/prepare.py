"""Stage prepare: load the data source named in params, validate it, split it."""

import argparse
import sys
from collections.abc import Sequence

from stages import datasets, params
from stages.cli import run


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", required=True, help="params.yaml")
    parser.add_argument("--out", required=True, help="directory for the prepared splits")
    args = parser.parse_args(argv)

    raw = params.load(args.params)
    data = params.data_params(raw)
    split = params.split_params(raw)

    dataset = datasets.validate(datasets.SOURCES[data.source](), data.source)
    train, test = datasets.split(dataset, test_size=split.test_size, seed=split.seed)
    datasets.save_splits(args.out, train, test)


if __name__ == "__main__":
    sys.exit(run(main))
