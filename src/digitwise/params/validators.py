"""Checks of single values in ``params.yaml``: each takes the dotted key and the value,
and returns the typed value or raises ``ParamsError`` naming the key, what is allowed and
what was found. ``sections.py`` builds each section's schema from these.

Every number has a range, both ends given: a value no real use reaches (a billion
trees, 10^30 epochs, a layer of 10^12 units) would run for ever or exhaust memory, and
one beyond the floats (a 400-digit integer) cannot be used at all. Ranges are checked on
the value as written, before it becomes a float, so no value is too large to refuse.
"""

import itertools
import math
import os
import reprlib
from collections.abc import Callable, Mapping
from typing import Any

from digitwise.errors import UserError

Validator = Callable[[str, Any], Any]

# Counts of samples or model evaluations: far beyond any data set this project reads
# (MNIST has 70,000 images), small enough to stay a plain number everywhere.
MAX_COUNT = 10**9


class ParamsError(UserError):
    """A key, type or value in ``params.yaml`` that this project does not accept."""


def block(schema: Mapping[str, Validator], *, may_omit: tuple[str, ...] = ()) -> Validator:
    """A mapping with exactly the schema's keys; a ``may_omit`` key may be left out,
    which reads as null."""

    def validate(key: str, value: Any) -> dict:
        if not isinstance(value, dict):
            raise ParamsError(f"{key} must be a mapping with keys {', '.join(schema)}")
        for name in value:
            if name not in schema:
                raise ParamsError(
                    f"unknown key '{key}.{key_text(name)}'; allowed: {', '.join(schema)}"
                )
        for name in schema:
            if name not in value and name not in may_omit:
                raise ParamsError(f"missing key '{key}.{name}'")
        return {name: check(f"{key}.{name}", value.get(name)) for name, check in schema.items()}

    return validate


# Quotes of values in messages: short, whatever the value (a list of a million items,
# a string of a megabyte, an alias-built structure that would print as gigabytes).
_QUOTE = reprlib.Repr()
_QUOTE.maxstring, _QUOTE.maxother, _QUOTE.maxlevel = 60, 60, 3


def _quote(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 10**40:
        # str() of an integer of more than 4,300 digits raises, and says nothing anyway
        digits = len(str(abs(value))) if value.bit_length() < 14_000 else None
        size = f"{digits}" if digits else f"about {int(value.bit_length() * 0.30103)}"
        return f"{'a negative' if value < 0 else 'an'} integer of {size} digits"
    return _QUOTE.repr(value)


def _describe(value: Any) -> str:
    return f"{_quote(value)} ({type(value).__name__})"


def key_text(name: Any) -> str:
    """A key as a message quotes it (YAML keys may be numbers, lists, anything)."""
    return name if isinstance(name, str) else _quote(name)


def choice(options: tuple[str, ...]) -> Validator:
    def validate(key: str, value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise ParamsError(f"{key} must be one of {', '.join(options)}; got {_describe(value)}")
        return value

    return validate


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def integer(*, minimum: int, maximum: int) -> Validator:
    def validate(key: str, value: Any) -> int:
        if not _is_integer(value) or not minimum <= value <= maximum:
            raise ParamsError(
                f"{key} must be an integer in {minimum}..{maximum}; got {_describe(value)}"
            )
        return value

    return validate


def optional(validator: Validator) -> Validator:
    """``null`` or whatever ``validator`` accepts (e.g. an unlimited tree depth)."""

    def validate(key: str, value: Any) -> Any:
        if value is None:
            return None
        try:
            return validator(key, value)
        except ParamsError as error:
            raise ParamsError(f"{error} (or null)") from None

    return validate


def _number(value: Any, inside: Callable[[Any], bool]) -> float | None:
    """The value as a float if it is a number for which ``inside`` holds, else None.

    ``inside`` sees the number as written: an int is compared exactly, never converted
    first (float(10**400) raises OverflowError); NaN is inside no range."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return float(value) if inside(value) else None


def open_interval(low: float, high: float) -> Validator:
    def validate(key: str, value: Any) -> float:
        number = _number(value, lambda v: low < v < high)
        if number is None:
            raise ParamsError(
                f"{key} must be a number strictly between {low:g} and {high:g}; "
                f"got {_describe(value)}"
            )
        return number

    return validate


def closed_interval(low: float, high: float) -> Validator:
    def validate(key: str, value: Any) -> float:
        number = _number(value, lambda v: low <= v <= high)
        if number is None:
            raise ParamsError(
                f"{key} must be a number between {low:g} and {high:g}; got {_describe(value)}"
            )
        return number

    return validate


def closed_interval_or(low: float, high: float, options: tuple[str, ...]) -> Validator:
    """A number in [low, high] or one of a few named settings (e.g. SVC's ``gamma``)."""

    def validate(key: str, value: Any) -> float | str:
        if isinstance(value, str) and value in options:
            return value
        number = _number(value, lambda v: low <= v <= high)
        if number is None:
            raise ParamsError(
                f"{key} must be a number between {low:g} and {high:g} or one of "
                f"{', '.join(options)}; got {_describe(value)}"
            )
        return number

    return validate


seed_value = integer(minimum=0, maximum=2**32 - 1)


def path_value(key: str, value: Any) -> str:
    """A non-empty path, as text (DVC reads the same value as a stage dependency)."""
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise ParamsError(f"{key} must be a path (a non-empty string); got {_describe(value)}")
    try:
        os.fsencode(value)
    except UnicodeEncodeError:  # half a surrogate pair, from an escape such as "\ud800"
        raise ParamsError(
            f"{key} must be a path of whole characters; got {_describe(value)}"
        ) from None
    return value


MAX_CLASS_NAME = 100  # characters; longer names cannot be read on any figure


def class_names(key: str, value: Any) -> tuple[str, ...] | None:
    """null, or a list of at least 2 distinct names: printable text without surrounding
    white space (the predictions file strips fields), at most MAX_CLASS_NAME long."""
    if value is None:
        return None
    rule = (
        f"{key} must be null or a list of at least 2 distinct class names (printable "
        f"strings without surrounding spaces or '$', at most {MAX_CLASS_NAME} characters)"
    )
    if not isinstance(value, list) or len(value) < 2:
        raise ParamsError(f"{rule}; got {_describe(value)}")
    for position, name in enumerate(value):
        if (
            not isinstance(name, str)
            or not name
            or name != name.strip()
            or not name.isprintable()
            or "$" in name  # matplotlib would read it as the start of a formula
            or len(name) > MAX_CLASS_NAME
        ):
            raise ParamsError(f"{rule}; item {position} is {_describe(name)}")
    seen: set[str] = set()
    repeated = next((name for name in value if name in seen or seen.add(name)), None)
    if repeated is not None:
        raise ParamsError(f"{rule}; '{repeated}' appears more than once")
    return tuple(value)


def integer_list(*, items: int, minimum: int, maximum: int, total: int | None = None) -> Validator:
    """A list of 1 to ``items`` integers, each in minimum..maximum, and (with ``total``)
    adding up to at most ``total``."""
    rule = f"a list of 1 to {items} integers in {minimum}..{maximum}"
    if total is not None:
        rule += f" adding up to at most {total}"

    def validate(key: str, value: Any) -> tuple[int, ...]:
        ok = (
            isinstance(value, list)
            and 1 <= len(value) <= items
            and all(_is_integer(item) and minimum <= item <= maximum for item in value)
            and (total is None or sum(value) <= total)
        )
        if not ok:
            raise ParamsError(f"{key} must be {rule}; got {_describe(value)}")
        return tuple(value)

    return validate


def increasing_fractions(*, items: int) -> Validator:
    """A list of 1 to ``items`` shares, strictly increasing, each in (0, 1]."""
    rule = f"a list of 1 to {items} strictly increasing numbers, each greater than 0 and at most 1"

    def validate(key: str, value: Any) -> tuple[float, ...]:
        if not isinstance(value, list) or not 1 <= len(value) <= items:
            raise ParamsError(f"{key} must be {rule}; got {_describe(value)}")
        shares = []
        for position, item in enumerate(value):
            share = _number(item, lambda v: 0 < v <= 1)
            if share is None:
                raise ParamsError(f"{key} must be {rule}; item {position} is {_describe(item)}")
            shares.append(share)
        if any(later <= earlier for earlier, later in itertools.pairwise(shares)):
            raise ParamsError(f"{key} must be {rule}; got {_describe(value)}")
        return tuple(shares)

    return validate
