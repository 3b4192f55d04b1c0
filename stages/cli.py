"""What every stage shares at its edge: the user-error type and the exit path."""

import sys
from collections.abc import Callable, Sequence


class UserError(Exception):
    """Bad input from the user: reported as one line, never as a traceback."""


def run(main: Callable[[Sequence[str] | None], None], argv: Sequence[str] | None = None) -> int:
    """Run a stage's ``main``; a ``UserError`` becomes one line on stderr and exit code 2.

    Any other exception is a bug in this project and keeps its traceback.
    """
    try:
        main(argv)
    except UserError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    return 0
