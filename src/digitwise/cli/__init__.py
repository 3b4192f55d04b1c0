"""The command line's edge: bad input becomes one line and exit code 2.

Every entry point (the DVC stages in ``stages/``, the ``digitwise`` command in
``main.py``) is a ``main(argv)`` run through ``run``.
"""

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from digitwise.errors import UserError, printable


def run(main: Callable[[Sequence[str] | None], None], argv: Sequence[str] | None = None) -> int:
    """Run a stage's ``main``; a ``UserError`` becomes one line on stderr and exit code 2.

    Any other exception is a bug in this project and keeps its traceback.
    """
    try:
        main(argv)
    except UserError as error:
        # paths and values in the message come from the user: escaped, so it stays one line
        print(f"error: {printable(str(error))}", file=sys.stderr)
        return 2
    return 0


def add_params_option(parser: argparse.ArgumentParser, section: str, defaults: Any) -> None:
    """``--params``: optional, its section's values otherwise those shipped in params.yaml."""
    shipped = ", ".join(f"{key} {value}" for key, value in vars(defaults).items())
    parser.add_argument(
        "--params", help=f"params.yaml to read the {section} section from (default: {shipped})"
    )


def settings(path: str | None, read: Callable[[Mapping[str, Any]], Any], defaults: Any) -> Any:
    """The section ``read`` takes from the params file at ``path``, or ``defaults``."""
    from digitwise import params

    return defaults if path is None else read(params.load(path))
