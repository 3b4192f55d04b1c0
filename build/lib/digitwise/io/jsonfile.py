"""Reading a JSON input: one place for the one-line errors every stage gives."""

import json
from pathlib import Path
from typing import Any

from digitwise.errors import UserError


def read_json(path: str | Path, *, hint: str = "") -> Any:
    """The parsed file; a missing, unreadable or malformed one is a ``UserError``.

    ``hint`` follows "file not found", e.g. "(run the evaluate stage)".
    """
    path = Path(path)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path}: file not found{' ' + hint if hint else ''}") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory; expected a JSON file") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read it ({error.strerror})") from None
    except ValueError as error:  # also UnicodeDecodeError
        raise UserError(f"{path}: not valid JSON ({error})") from None
