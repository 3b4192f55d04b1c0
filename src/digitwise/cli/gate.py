"""``digitwise gate``: may this change land?

Reads the evaluate stage's headline metrics and, optionally, the comparison with a
baseline that ``digitwise compare`` writes, and applies the ``gate`` params:

- accuracy >= gate.min_accuracy;
- with a comparison: not (the accuracy drop, baseline minus new, is more than
  gate.max_accuracy_drop and McNemar's exact test finds it significant at gate.alpha).

Exit code 0 and one summary line on stdout when every rule holds; exit code 1 and one
line per broken rule on stderr otherwise; exit code 2 and one ``error:`` line for bad
input (a missing file, invalid JSON, a missing or mistyped key)."""

import argparse
import sys
from pathlib import Path

from digitwise import params
from digitwise.cli import add_params_option
from digitwise.cli import settings as settings_of
from digitwise.cli.names import EVALUATE_OUTPUTS
from digitwise.comparison.gate import (
    check_same_predictions,
    judge,
    metrics_accuracy,
    parse_comparison,
)
from digitwise.comparison.provenance import check_same_content
from digitwise.io import jsonfile


def run_gate(metrics_path: str, comparison_path: str | None, settings: params.GateParams) -> None:
    """Print the verdict; raise SystemExit(1) when a rule is broken.

    With a comparison, the evaluation's ``confusion.json`` beside ``metrics_path`` says
    which predictions the metrics are of; the comparison must be of the same."""
    accuracy, n_samples = metrics_accuracy(jsonfile.read_json(metrics_path), metrics_path)
    comparison = None
    if comparison_path is not None:
        payload = jsonfile.read_json(comparison_path)
        comparison = parse_comparison(payload, comparison_path)
        check_same_predictions(accuracy, n_samples, comparison, metrics_path, comparison_path)
        confusion_path = Path(metrics_path).parent / EVALUATE_OUTPUTS["confusion"]
        check_same_content(payload, comparison_path, confusion_path)

    verdict = judge(accuracy, comparison, settings)
    stream = sys.stdout if verdict.passed else sys.stderr
    for line in verdict.lines:
        print(line, file=stream)
    if not verdict.passed:
        raise SystemExit(1)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "metrics", help="metrics.json of digitwise evaluate, or the directory holding it"
    )
    parser.add_argument(
        "--comparison",
        help="comparison.json of digitwise compare, or the directory holding it",
    )
    add_params_option(parser, "gate", params.GATE_DEFAULTS)


def command(args: argparse.Namespace) -> None:
    settings = settings_of(args.params, params.gate_params, params.GATE_DEFAULTS)
    run_gate(
        _in_directory(args.metrics, "metrics.json"),
        None if args.comparison is None else _in_directory(args.comparison, "comparison.json"),
        settings,
    )


def _in_directory(path: str, name: str) -> str:
    """A directory given for a file means its file of the standard name."""
    return str(Path(path) / name) if Path(path).is_dir() else path
