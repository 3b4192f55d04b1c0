"""Stage prepare: load the data source named in params, validate it, split it."""

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from stages import datasets, outputs, params
from stages.cli import UserError, run


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", required=True, help="params.yaml")
    parser.add_argument("--out", required=True, help="directory for the prepared splits")
    args = parser.parse_args(argv)
    outputs.check_destinations(Path(args.out) / "classes.json")

    raw = params.load(args.params)
    data = params.data_params(raw)
    split = params.split_params(raw)

    dataset = datasets.validate(datasets.SOURCES[data.source](), data.source)
    try:
        train, test = datasets.split(dataset, test_size=split.test_size, seed=split.seed)
    except UserError as error:
        raise UserError(f"{args.params}: {error}") from None
    datasets.save_splits(args.out, train, test)


if __name__ == "__main__":
    sys.exit(run(main))
