"""Reading a JSON input: one place for the one-line errors every stage gives."""

import json
import re
from pathlib import Path
from typing import Any

from digitwise.errors import UserError

# No JSON file this project reads nests more than 4 deep. Deeper input is refused at once,
# so that nothing after the parser (a check, a message quoting a value) recurses into it.
MAX_DEPTH = 100
# Python refuses to turn longer digit strings into integers (sys.get_int_max_str_digits)
MAX_DIGITS = 4300


def read_json(path: str | Path, *, hint: str = "") -> Any:
    """The parsed file; a missing, unreadable, malformed or too deeply nested one is a
    ``UserError``.

    ``hint`` follows "file not found", e.g. "(run the evaluate stage)".
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: file not found{' ' + hint if hint else ''}") from None
    except IsADirectoryError:
        raise UserError(f"{path}: is a directory; expected a JSON file") from None
    except OSError as error:
        raise UserError(f"{path}: cannot read it ({error.strerror})") from None
    except UnicodeDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error})") from None
    try:
        payload = json.loads(text)
    except RecursionError:
        raise UserError(f"{path}: {_too_deep()}") from None
    except json.JSONDecodeError as error:
        raise UserError(f"{path}: not valid JSON ({error})") from None
    except ValueError as error:  # the parser's only other one: a number too long to read
        raise UserError(f"{path}: {_unreadable_number(text, error)}") from None
    if deeper_than(payload, MAX_DEPTH):
        raise UserError(f"{path}: {_too_deep()}")
    return payload


def _too_deep() -> str:
    return f"nested too deeply (more than {MAX_DEPTH} levels of lists and objects)"


def _unreadable_number(text: str, error: ValueError) -> str:
    found = re.search(rf"\d{{{MAX_DIGITS + 1},}}", text)
    if found is None:
        return f"not valid JSON ({error})"
    line = text.count("\n", 0, found.start()) + 1
    column = found.start() - (text.rfind("\n", 0, found.start()) + 1) + 1
    return (
        f"line {line} column {column}: a number of {len(found[0])} digits; "
        f"at most {MAX_DIGITS} are read"
    )


def deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and objects nest more than ``limit`` deep (iteratively: a value too
    deep to recurse into is what this looks for)."""
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, list | dict):
            if depth > limit:
                return True
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, depth + 1) for child in children)
    return False
