"""The per-class scores, read and checked: the evaluate step's ``per_class.json`` (a list
of rows, one per class, in the class list's order) or, in an evaluation written before
that file existed, the ``per_class`` object of its ``metrics.json``."""

import re
from dataclasses import dataclass
from typing import Any

from digitwise.errors import UserError
from digitwise.report.fields import as_list, as_object, count, field, finite, non_empty

CLASS_SCORES = ("precision", "recall", "f1")


@dataclass(frozen=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


def natural_key(name: str) -> tuple[tuple[tuple[int, int, str], ...], str]:
    """Sort key putting "2" before "10" and "class_9" before "class_10"; ties by the text.

    The old format keyed classes by name in a JSON object, which the evaluate stage wrote
    in sorted-string order ("10" before "2"); the tables want the classes' natural order.
    """
    parts = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", name)
        if part
    )
    return parts, name


def _scores(row: dict[str, Any], source: str, where: str) -> ClassScores:
    return ClassScores(
        *(field(row, key, finite, source, where) for key in CLASS_SCORES),
        support=field(row, "support", count, source, where),
    )


def parse_per_class(payload: Any, source: str) -> dict[str, ClassScores]:
    """``[{"class", "precision", "recall", "f1", "support"}, ...]``: at least one row, each
    class once; in the file's order."""
    rows = as_list(payload, source, "the file")
    if not rows:
        raise UserError(f"{source}: must hold a row for at least one class; got []")
    per_class: dict[str, ClassScores] = {}
    for number, row in enumerate(rows):
        where = f"[{number}]"
        row = as_object(row, source, where)
        name = field(row, "class", non_empty, source, where)
        if name in per_class:
            raise UserError(f"{source}: {where}.class {name!r} is there twice; one row per class")
        per_class[name] = _scores(row, source, where)
    return per_class


def parse_per_class_object(classes: Any, source: str) -> dict[str, ClassScores]:
    """The old format, ``metrics.json``'s ``{"per_class": {name: {precision, ...}}}``'s
    object, in the classes' natural order."""
    classes = as_object(classes, source, "per_class")
    if not classes:
        raise UserError(f"{source}: per_class must name at least one class; got {{}}")
    per_class = {}
    for name in sorted(classes, key=natural_key):
        non_empty(name, source, "each name in per_class")
        where = f"per_class.{name}"
        per_class[name] = _scores(as_object(classes[name], source, where), source, where)
    return per_class
