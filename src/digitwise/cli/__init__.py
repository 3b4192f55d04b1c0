"""The command line's edge: bad input becomes one line and exit code 2.

Every entry point (the DVC stages in ``stages/``, the ``digitwise`` command in
``main.py``) is a ``main(argv)`` run through ``run``.
"""

import sys
from collections.abc import Callable, Sequence

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
