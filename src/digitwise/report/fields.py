"""Typed values out of parsed JSON, for the report's readers: each check takes the value,
the file's name and the value's place in it ("per_class.2.support"), and returns the value
or raises a one-line UserError naming all three ("... must be an integer >= 0; got 1.5
(float)")."""

import math
import re
import unicodedata
from collections.abc import Callable
from typing import Any, NoReturn

from digitwise.errors import NOT_IN_A_LINE, UserError

# Unicode categories a one-line text may not hold: controls (newline, tab, escape), format
# characters (bidirectional overrides, zero-width ones), lone surrogates (which no page
# can encode) and the line and paragraph separators.


def _got(value: Any) -> str:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"got {shown} ({type(value).__name__})"


def bad(source: str, where: str, expected: str, value: Any) -> NoReturn:
    raise UserError(f"{source}: {where} must be {expected}; {_got(value)}")


def as_object(value: Any, source: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        bad(source, where, "an object", value)
    return value


def field(
    obj: dict[str, Any], key: str, check: Callable[[Any, str, str], Any], source: str, where: str
) -> Any:
    """``obj[key]`` passed through ``check``; ``where`` is the object's own place, "" at the top."""
    place = f"{where}.{key}" if where else key
    if key not in obj:
        raise UserError(f"{source}: {place} is missing")
    return check(obj[key], source, place)


def is_number(value: Any) -> bool:
    # bool is an int to Python but never a score; NaN and infinity are not in JSON files
    # written by this project (they become null), so a literal NaN is an error too.
    if not isinstance(value, int | float) or isinstance(value, bool):
        return False
    try:
        return math.isfinite(value)
    except OverflowError:  # an integer beyond the floats (a 400-digit one)
        return False


def finite(value: Any, source: str, where: str) -> float:
    if not is_number(value):
        bad(source, where, "a finite number", value)
    return float(value)


def finite_or_null(value: Any, source: str, where: str) -> float | None:
    return None if value is None else finite(value, source, where)


def share(value: Any, source: str, where: str) -> float:
    """A proportion, in [0, 1]."""
    if not (is_number(value) and 0 <= value <= 1):
        bad(source, where, "a number in 0..1", value)
    return float(value)


def as_list(value: Any, source: str, where: str) -> list[Any]:
    if not isinstance(value, list):
        bad(source, where, "a list", value)
    return value


def count(value: Any, source: str, where: str) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        bad(source, where, "an integer >= 0", value)
    return value


def integer(value: Any, source: str, where: str) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool)):
        bad(source, where, "an integer", value)
    return value


# half of a surrogate pair: a JSON escape (\ud800) may hold one; no page can encode it
_SURROGATE = re.compile("[\ud800-\udfff]")


def non_empty(value: Any, source: str, where: str) -> str:
    """A name the page shows (a class, a baseline): text, not empty."""
    if not (isinstance(value, str) and value and not _SURROGATE.search(value)):
        bad(source, where, "a non-empty string of characters", value)
    return value


def one_line(value: Any, source: str, where: str) -> str:
    """A text the page shows as one line: not blank, no line break or control character."""
    if not (
        isinstance(value, str)
        and value.strip()
        and not any(unicodedata.category(char) in NOT_IN_A_LINE for char in value)
    ):
        bad(source, where, "one line of text (no line break or control character)", value)
    return value
