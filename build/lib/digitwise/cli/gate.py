"""The regression gate: may this change land?

Reads the evaluate stage's headline metrics and, optionally, the comparison with a
baseline that ``python -m digitwise.cli.compare`` writes, and applies the ``gate`` params:

- accuracy >= gate.min_accuracy;
- with a comparison: not (the accuracy drop, baseline minus new, is more than
  gate.max_accuracy_drop and McNemar's exact test finds it significant at gate.alpha).

Exit code 0 and one summary line on stdout when every rule holds; exit code 1 and one
line per broken rule on stderr otherwise; exit code 2 and one ``error:`` line for bad
input (a missing file, invalid JSON, a missing or mistyped key)."""

import argparse
import sys
from collections.abc import Sequence

from digitwise import params
from digitwise.cli import run
from digitwise.comparison.gate import (
    check_same_predictions,
    judge,
    metrics_accuracy,
    parse_comparison,
)
from digitwise.io import jsonfile


def main(argv: Sequence[str] | None = None) -> None:
    """Print the verdict; raise SystemExit(1) when a rule is broken."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--params", required=True, help="params.yaml (section gate)")
    parser.add_argument("--metrics", required=True, help="headline metrics JSON (evaluate)")
    parser.add_argument("--comparison", help="comparison JSON (python -m digitwise.cli.compare)")
    args = parser.parse_args(argv)

    settings = params.gate_params(params.load(args.params))
    accuracy, n_samples = metrics_accuracy(jsonfile.read_json(args.metrics), args.metrics)
    comparison = None
    if args.comparison is not None:
        comparison = parse_comparison(jsonfile.read_json(args.comparison), args.comparison)
        check_same_predictions(accuracy, n_samples, comparison, args.metrics, args.comparison)

    verdict = judge(accuracy, comparison, settings)
    stream = sys.stdout if verdict.passed else sys.stderr
    for line in verdict.lines:
        print(line, file=stream)
    if not verdict.passed:
        raise SystemExit(1)


if __name__ == "__main__":
    sys.exit(run(main))
