"""The ``digitwise`` command: evaluate, compare, gate and report, on any classifier's
predictions; sweep, for a grid of experiments. ``digitwise SUBCOMMAND --help`` describes
each one.

Exit codes: 0 success; 1 the gate refuses the change; 2 bad input (one ``error:`` line
on stderr, nothing written).
"""

import argparse
import importlib
import signal
import sys
from collections.abc import Sequence

from digitwise.cli import run

SUBCOMMANDS = {
    "evaluate": "metrics, intervals, confusion matrices and pairwise scores",
    "compare": "a predictions set against a baseline's, with McNemar's test",
    "gate": "may this change land? exit code 1 when a rule is broken",
    "report": "one offline HTML page of an evaluation",
    "sweep": "a grid of experiments (sweep.yaml): the CI matrix, one run, the table of all",
}


def parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The command's parser; with ``argv`` naming a subcommand, only that subcommand's
    module is imported (the others' imports would cost evaluate a third of a second)."""
    argv = sys.argv[1:] if argv is None else argv
    chosen = [name for name in SUBCOMMANDS if argv and argv[0] == name]
    top = argparse.ArgumentParser(
        prog="digitwise",
        description=__doc__.replace("``", ""),
        formatter_class=argparse.RawTextHelpFormatter,
    )
    commands = top.add_subparsers(dest="subcommand", required=True, metavar="SUBCOMMAND")
    for name, summary in SUBCOMMANDS.items():
        if chosen and name not in chosen:
            commands.add_parser(name, help=summary)
            continue
        module = importlib.import_module(f"digitwise.cli.{name}")
        description = module.__doc__.replace("``", "")  # reStructuredText quotes
        sub = commands.add_parser(name, help=summary, description=description)
        sub.formatter_class = argparse.RawDescriptionHelpFormatter
        module.add_arguments(sub)
        sub.set_defaults(command=module.command)
    return top


def main(argv: Sequence[str] | None = None) -> None:
    args = parser(argv).parse_args(argv)
    args.command(args)


def entry_point() -> int:
    """``[project.scripts] digitwise``."""
    # a closed stdout (digitwise ... | head -1) ends the command quietly, as it does any
    # Unix tool; the summary is printed after every output is written
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    return run(main)


if __name__ == "__main__":
    sys.exit(entry_point())
