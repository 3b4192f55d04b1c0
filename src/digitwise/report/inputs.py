"""The report's inputs, read and checked: the headline metrics, their intervals, the ranked
confusions, a comparison with a baseline, and the figures (PNG files). Each reader takes
the parsed JSON and the file's name for messages, and returns typed values."""

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, NoReturn

from digitwise.errors import UserError

# (key in the metrics file, label); the headline table's rows, in this order.
HEADLINE = (
    ("accuracy", "Accuracy"),
    ("balanced_accuracy", "Balanced accuracy"),
    ("f1_macro", "Macro F1"),
    ("log_loss", "Log loss"),
    ("auc_ovo_m", "M measure (one-vs-one AUC)"),
    ("matthews_corrcoef", "Matthews correlation"),
    ("cohen_kappa", "Cohen's kappa"),
    ("top_2_accuracy", "Top-2 accuracy"),
    ("n_samples", "Samples"),
)


COUNT_METRICS = frozenset({"n_samples"})


CLASS_SCORES = ("precision", "recall", "f1")


CHANGE_KEYS = ("new", "base", "difference")


DEFAULT_LEVEL = 0.95  # of an interval whose file does not say


@dataclass(frozen=True)
class ClassScores:
    precision: float
    recall: float
    f1: float
    support: int


@dataclass(frozen=True)
class Metrics:
    headline: dict[str, float | int | None]  # keys of HEADLINE; None: undefined (null)
    per_class: dict[str, ClassScores]  # in natural class order


@dataclass(frozen=True)
class Confusion:
    rank: int
    actual: str
    predicted: str
    count: int
    share_of_actual: float


@dataclass(frozen=True)
class Change:
    new: float
    base: float
    difference: float
    support: int | None = None  # held-out samples of the class, for a per-class change


@dataclass(frozen=True)
class McNemar:
    n_new_only: int
    n_base_only: int
    p_value: float


@dataclass(frozen=True)
class ChangedCell:
    actual: str
    predicted: str
    new: int
    base: int
    difference: int


@dataclass(frozen=True)
class Comparison:
    baseline: str
    accuracy: Change
    accuracy_interval: tuple[float, float] | None
    level: float  # of the interval
    baseline_commit: str | None  # None: not in the file, and so for the optional parts below
    n_samples: int | None
    mcnemar: McNemar | None
    per_class_recall: dict[str, Change] | None
    changed_confusions: list[ChangedCell] | None


def check_same_predictions(
    metrics: Metrics, comparison: Comparison, metrics_path: str, source: str
) -> None:
    """Refuse a comparison of other predictions than the metrics beside it (a stale file):
    the page would show one accuracy in its headline and another in its comparison."""
    accuracy, n_samples = metrics.headline.get("accuracy"), metrics.headline.get("n_samples")
    same_n = comparison.n_samples is None or comparison.n_samples == n_samples
    if not same_n or accuracy is None or abs(accuracy - comparison.accuracy.new) > 1e-9:
        raise UserError(
            f"{source}: not a comparison of the predictions {metrics_path} scores "
            f"(accuracy {comparison.accuracy.new:.4f} there, {accuracy:.4f} here); "
            "rerun python -m digitwise.cli.compare"
        )


def _got(value: Any) -> str:
    shown = repr(value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    return f"got {shown} ({type(value).__name__})"


def _bad(source: str, where: str, expected: str, value: Any) -> NoReturn:
    raise UserError(f"{source}: {where} must be {expected}; {_got(value)}")


def _object(value: Any, source: str, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _bad(source, where, "an object", value)
    return value


def _field(
    obj: dict[str, Any], key: str, check: Callable[[Any, str, str], Any], source: str, where: str
) -> Any:
    """``obj[key]`` passed through ``check``; ``where`` is the object's own place, "" at the top."""
    place = f"{where}.{key}" if where else key
    if key not in obj:
        raise UserError(f"{source}: {place} is missing")
    return check(obj[key], source, place)


def _is_number(value: Any) -> bool:
    # bool is an int to Python but never a score; NaN and infinity are not in JSON files
    # written by this project (they become null), so a literal NaN is an error too.
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(value: Any, source: str, where: str) -> float:
    if not _is_number(value):
        _bad(source, where, "a finite number", value)
    return float(value)


def _number_or_null(value: Any, source: str, where: str) -> float | None:
    return None if value is None else _number(value, source, where)


def _list(value: Any, source: str, where: str) -> list[Any]:
    if not isinstance(value, list):
        _bad(source, where, "a list", value)
    return value


def _count(value: Any, source: str, where: str) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool) and value >= 0):
        _bad(source, where, "an integer >= 0", value)
    return value


def _integer(value: Any, source: str, where: str) -> int:
    if not (isinstance(value, int) and not isinstance(value, bool)):
        _bad(source, where, "an integer", value)
    return value


def _name(value: Any, source: str, where: str) -> str:
    if not (isinstance(value, str) and value):
        _bad(source, where, "a non-empty string", value)
    return value


def natural_key(name: str) -> tuple[tuple[tuple[int, int, str], ...], str]:
    """Sort key putting "2" before "10" and "class_9" before "class_10"; ties by the text.

    Class names reach this stage as JSON object keys, which the evaluate stage writes in
    sorted-string order ("10" before "2"); the tables want the classes' natural order.
    """
    parts = tuple(
        (0, int(part), "") if part.isdigit() else (1, 0, part)
        for part in re.split(r"(\d+)", name)
        if part
    )
    return parts, name


def parse_metrics(payload: Any, source: str) -> Metrics:
    """The evaluate stage's headline metrics: the HEADLINE scalars and ``per_class``."""
    payload = _object(payload, source, "the file")
    headline: dict[str, float | int | None] = {}
    for key, _ in HEADLINE:
        if key in COUNT_METRICS:
            headline[key] = _field(payload, key, _count, source, "")
        else:  # null is an undefined metric (json_text writes NaN and infinity so)
            headline[key] = _field(payload, key, _number_or_null, source, "")
    classes = _field(payload, "per_class", _object, source, "")
    if not classes:
        raise UserError(f"{source}: per_class must name at least one class; got {{}}")
    per_class = {}
    for name in sorted(classes, key=natural_key):
        where = f"per_class.{name}"
        scores = _object(classes[name], source, where)
        per_class[name] = ClassScores(
            *(_field(scores, key, _number, source, where) for key in CLASS_SCORES),
            support=_field(scores, "support", _count, source, where),
        )
    return Metrics(headline, per_class)


def parse_top_confusions(payload: Any, source: str) -> list[Confusion]:
    """The ranked confusions, in the file's (rank) order."""
    payload = _object(payload, source, "the file")
    rows = _field(payload, "top_confusions", _list, source, "")
    confusions = []
    for number, row in enumerate(rows):
        where = f"top_confusions[{number}]"
        row = _object(row, source, where)
        confusions.append(
            Confusion(
                rank=_field(row, "rank", _count, source, where),
                actual=_field(row, "actual", _name, source, where),
                predicted=_field(row, "predicted", _name, source, where),
                count=_field(row, "count", _count, source, where),
                share_of_actual=_field(row, "share_of_actual", _number, source, where),
            )
        )
    return confusions


def _interval(bounds: dict[str, Any], source: str, where: str) -> tuple[float, float]:
    low = _field(bounds, "low", _number, source, where)
    high = _field(bounds, "high", _number, source, where)
    if low > high:
        raise UserError(f"{source}: {where}.low ({low}) is above {where}.high ({high})")
    return low, high


def parse_intervals(payload: Any, source: str) -> dict[str, tuple[float, float]]:
    """{metric: {"low": x, "high": y}} for headline metrics; each low <= high.

    An unknown metric name is an error rather than a silently missing row.
    """
    payload = _object(payload, source, "the file")
    known = [key for key, _ in HEADLINE if key not in COUNT_METRICS]
    intervals = {}
    for metric, bounds in payload.items():
        if metric not in known:
            raise UserError(
                f"{source}: {metric!r} is not a headline metric; expected some of "
                f"{', '.join(known)}"
            )
        intervals[metric] = _interval(_object(bounds, source, metric), source, metric)
    return intervals


def _change(payload: Any, source: str, where: str) -> Change:
    payload = _object(payload, source, where)
    return Change(*(_field(payload, key, _number, source, where) for key in CHANGE_KEYS))


def _class_change(payload: Any, source: str, where: str) -> Change:
    change = _change(payload, source, where)
    if "support" not in payload:
        return change
    return replace(change, support=_field(payload, "support", _count, source, where))


def _mcnemar(payload: Any, source: str, where: str) -> McNemar:
    payload = _object(payload, source, where)
    test = McNemar(
        n_new_only=_field(payload, "n_new_only", _count, source, where),
        n_base_only=_field(payload, "n_base_only", _count, source, where),
        p_value=_field(payload, "p_value", _number, source, where),
    )
    if not 0 <= test.p_value <= 1:
        _bad(source, f"{where}.p_value", "in 0..1", test.p_value)
    return test


def _recalls(payload: Any, source: str, where: str) -> dict[str, Change]:
    payload = _object(payload, source, where)
    return {
        name: _class_change(payload[name], source, f"{where}.{name}")
        for name in sorted(payload, key=natural_key)
    }


def _changed_cells(payload: Any, source: str, where: str) -> list[ChangedCell]:
    cells = []
    for number, row in enumerate(_list(payload, source, where)):
        place = f"{where}[{number}]"
        row = _object(row, source, place)
        cells.append(
            ChangedCell(
                actual=_field(row, "actual", _name, source, place),
                predicted=_field(row, "predicted", _name, source, place),
                new=_field(row, "new", _count, source, place),
                base=_field(row, "base", _count, source, place),
                difference=_field(row, "difference", _integer, source, place),
            )
        )
    return cells


def _level(payload: Any, source: str, where: str) -> float:
    level = _field(_object(payload, source, where), "level", _number, source, where)
    if not 0 < level < 1:
        _bad(source, f"{where}.level", "strictly between 0 and 1", level)
    return level


def _commit(value: Any, source: str, where: str) -> str | None:
    return None if value is None else _name(value, source, where)


def parse_comparison(payload: Any, source: str) -> Comparison:
    """A comparison with a baseline run (``python -m digitwise.cli.compare`` writes one).

    Required: ``baseline`` and ``accuracy`` (new, base, difference). Optional, each
    checked when present: ``accuracy.low``/``high`` (the difference's interval, both or
    neither) and ``bootstrap.level`` (its level, 0.95 if absent), ``baseline_commit``,
    ``n_samples``, ``mcnemar``, ``per_class_recall`` (with ``support`` or not) and
    ``changed_confusions``. Other keys are ignored, so the comparison may grow without
    breaking the report.
    """
    payload = _object(payload, source, "the file")
    accuracy = _field(payload, "accuracy", _object, source, "")
    bounds = [key for key in ("low", "high") if key in accuracy]
    if len(bounds) == 1:
        raise UserError(f"{source}: accuracy has {bounds[0]} but not the other bound")

    def optional(key: str, check: Callable[[Any, str, str], Any]) -> Any:
        return _field(payload, key, check, source, "") if key in payload else None

    return Comparison(
        baseline=_field(payload, "baseline", _name, source, ""),
        accuracy=_change(accuracy, source, "accuracy"),
        accuracy_interval=_interval(accuracy, source, "accuracy") if bounds else None,
        level=optional("bootstrap", _level) or DEFAULT_LEVEL,
        baseline_commit=optional("baseline_commit", _commit),
        n_samples=optional("n_samples", _count),
        mcnemar=optional("mcnemar", _mcnemar),
        per_class_recall=optional("per_class_recall", _recalls),
        changed_confusions=optional("changed_confusions", _changed_cells),
    )


def in_class_order(metrics: Metrics, classes: Sequence[str], source: str) -> Metrics:
    """The per-class rows in the class list's order (label order: "T-shirt/top" before
    "Trouser", not "Ankle boot" first), for the same set of classes."""
    if set(classes) != set(metrics.per_class):
        raise UserError(
            f"{source}: its classes ({', '.join(metrics.per_class)}) are not those of the "
            f"class list ({', '.join(classes)})"
        )
    return Metrics(metrics.headline, {name: metrics.per_class[name] for name in classes})
