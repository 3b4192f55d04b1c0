"""Checks of single values in ``params.yaml``: each takes the dotted key and the value,
and returns the typed value or raises ``ParamsError`` naming the key, what is allowed and
what was found. ``sections.py`` builds each section's schema from these.
"""

from collections.abc import Callable, Mapping
from typing import Any

from digitwise.errors import UserError

Validator = Callable[[str, Any], Any]


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
                raise ParamsError(f"unknown key '{key}.{name}'; allowed: {', '.join(schema)}")
        for name in schema:
            if name not in value and name not in may_omit:
                raise ParamsError(f"missing key '{key}.{name}'")
        return {name: check(f"{key}.{name}", value.get(name)) for name, check in schema.items()}

    return validate


def _describe(value: Any) -> str:
    return f"{value!r} ({type(value).__name__})"


def choice(options: tuple[str, ...]) -> Validator:
    def validate(key: str, value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise ParamsError(f"{key} must be one of {', '.join(options)}; got {_describe(value)}")
        return value

    return validate


def integer(*, minimum: int, maximum: int | None = None) -> Validator:
    def validate(key: str, value: Any) -> int:
        in_range = maximum is None or (isinstance(value, int) and value <= maximum)
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum or not in_range:
            bound = f">= {minimum}" if maximum is None else f"in {minimum}..{maximum}"
            raise ParamsError(f"{key} must be an integer {bound}; got {_describe(value)}")
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


def _number(key: str, value: Any, bound: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or value != value:
        raise ParamsError(f"{key} must be a number {bound}; got {_describe(value)}")
    return float(value)


def positive(key: str, value: Any) -> float:
    number = _number(key, value, "> 0")
    if not number > 0 or number == float("inf"):
        raise ParamsError(f"{key} must be a number > 0; got {_describe(value)}")
    return number


def non_negative(key: str, value: Any) -> float:
    number = _number(key, value, ">= 0")
    if not number >= 0 or number == float("inf"):
        raise ParamsError(f"{key} must be a number >= 0; got {_describe(value)}")
    return number


def open_interval(low: float, high: float) -> Validator:
    def validate(key: str, value: Any) -> float:
        number = _number(key, value, f"strictly between {low:g} and {high:g}")
        if not low < number < high:
            raise ParamsError(
                f"{key} must be a number strictly between {low:g} and {high:g}; "
                f"got {_describe(value)}"
            )
        return number

    return validate


def closed_interval(low: float, high: float) -> Validator:
    def validate(key: str, value: Any) -> float:
        number = _number(key, value, f"between {low:g} and {high:g}")
        if not low <= number <= high:
            raise ParamsError(
                f"{key} must be a number between {low:g} and {high:g}; got {_describe(value)}"
            )
        return number

    return validate


seed_value = integer(minimum=0, maximum=2**32 - 1)


def path_value(key: str, value: Any) -> str:
    """A non-empty path, as text (DVC reads the same value as a stage dependency)."""
    if not isinstance(value, str) or not value.strip() or "\0" in value:
        raise ParamsError(f"{key} must be a path (a non-empty string); got {_describe(value)}")
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
    repeated = next((name for name in value if value.count(name) > 1), None)
    if repeated is not None:
        raise ParamsError(f"{rule}; '{repeated}' appears more than once")
    return tuple(value)


def positive_int_list(key: str, value: Any) -> tuple[int, ...]:
    ok = (
        isinstance(value, list)
        and value
        and all(
            isinstance(item, int) and not isinstance(item, bool) and item >= 1 for item in value
        )
    )
    if not ok:
        raise ParamsError(
            f"{key} must be a non-empty list of integers >= 1; got {_describe(value)}"
        )
    return tuple(value)


def positive_or(options: tuple[str, ...]) -> Validator:
    """A positive number or one of a few named settings (e.g. SVC's ``gamma``)."""

    def validate(key: str, value: Any) -> float | str:
        if isinstance(value, str) and value in options:
            return value
        if (
            isinstance(value, int | float)
            and not isinstance(value, bool)
            and 0 < value < float("inf")
        ):
            return float(value)
        raise ParamsError(
            f"{key} must be a number > 0 or one of {', '.join(options)}; got {_describe(value)}"
        )

    return validate
