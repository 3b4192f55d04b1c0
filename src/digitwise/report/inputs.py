"""The report's inputs, read and checked: the headline metrics, their intervals, the ranked
confusions, a comparison with a baseline, and the figures (PNG files). Each reader takes
the parsed JSON and the file's name for messages, and returns typed values. The per-class
scores have a module of their own (``report.per_class``)."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from digitwise.errors import UserError
from digitwise.report.fields import (
    as_list,
    as_object,
    bad,
    count,
    field,
    finite,
    finite_or_null,
    integer,
    non_empty,
    one_line,
    share,
)
from digitwise.report.per_class import (
    ClassScores,
    natural_key,
    parse_per_class,
    parse_per_class_object,
)

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
    ("ece", "Calibration error (ECE, top label)"),
    ("classwise_ece", "Classwise calibration error"),
    ("n_samples", "Samples"),
)


COUNT_METRICS = frozenset({"n_samples"})


# Computed from the probability columns: all three with them, none in a label-only file.
PROBABILITY_METRICS = ("log_loss", "auc_ovo_m", "top_2_accuracy")
# From the probabilities too, but absent from evaluations written before calibration.
CALIBRATION_METRICS = ("ece", "classwise_ece")


CHANGE_KEYS = ("new", "base", "difference")


DEFAULT_LEVEL = 0.95  # of an interval whose file does not say


@dataclass(frozen=True)
class Metrics:
    # Keys of HEADLINE, in its order, but for PROBABILITY_METRICS in a label-only file;
    # None: undefined (null).
    headline: dict[str, float | int | None]
    # in the per-class file's order (or natural order); empty until read (``with_per_class``)
    per_class: dict[str, ClassScores]
    note: str | None = None  # one line from the evaluate stage, shown as it is
    predicted_not_argmax: float | None = None  # share of predictions not the most probable
    auc_error_bound: float | None = None  # a binned M measure (sharded): within this of exact

    @property
    def label_only(self) -> bool:
        """Scored from the predicted labels alone: the file had no probabilities."""
        return not any(key in self.headline for key in PROBABILITY_METRICS)


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
            "rerun digitwise compare"
        )


def parse_metrics(payload: Any, source: str) -> Metrics:
    """The evaluate stage's headline metrics: the HEADLINE scalars (the
    CALIBRATION_METRICS where present), and optionally ``note``
    (one line), ``predicted_not_argmax`` (a share) and ``auc_ovo_m_error_bound`` (of a
    binned M measure). The per-class scores are read from
    their own file (``with_per_class``), or from ``per_class`` here in an evaluation
    written before that file existed.

    The PROBABILITY_METRICS are all there, or, in a label-only file, none of them;
    ``predicted_not_argmax`` needs probabilities too.
    """
    payload = as_object(payload, source, "the file")
    note = field(payload, "note", one_line, source, "") if "note" in payload else None
    headline: dict[str, float | int | None] = {}
    probabilities = _has_probabilities(payload, note, source)
    _check_calibration(payload, probabilities, source)
    for key, _ in HEADLINE:
        if key in COUNT_METRICS:
            headline[key] = field(payload, key, count, source, "")
        elif key in CALIBRATION_METRICS:
            if key in payload:
                headline[key] = field(payload, key, share, source, "")
        elif key not in PROBABILITY_METRICS or probabilities:
            # null is an undefined metric (json_text writes NaN and infinity so)
            headline[key] = field(payload, key, finite_or_null, source, "")
    per_class = {}
    if "per_class" in payload:
        per_class = parse_per_class_object(payload["per_class"], source)
    metrics = Metrics(headline, per_class, note)
    if "auc_ovo_m_error_bound" in payload and not metrics.label_only:
        bound = field(payload, "auc_ovo_m_error_bound", share, source, "")
        metrics = replace(metrics, auc_error_bound=bound)
    if "predicted_not_argmax" not in payload:
        return metrics
    if metrics.label_only:
        raise UserError(
            f"{source}: predicted_not_argmax needs probabilities, but the file has none "
            f"of {', '.join(PROBABILITY_METRICS)}"
        )
    not_argmax = field(payload, "predicted_not_argmax", share, source, "")
    return replace(metrics, predicted_not_argmax=not_argmax)


def _check_calibration(payload: dict[str, Any], probabilities: bool, source: str) -> None:
    """The CALIBRATION_METRICS come both or neither (an evaluation written before they
    existed), and only with the probability metrics."""
    present = [key for key in CALIBRATION_METRICS if key in payload]
    if present and not probabilities:
        raise UserError(
            f"{source}: {', '.join(present)} needs probabilities, but the file has none "
            f"of {', '.join(PROBABILITY_METRICS)}"
        )
    if present and len(present) != len(CALIBRATION_METRICS):
        missing = [key for key in CALIBRATION_METRICS if key not in present]
        raise UserError(
            f"{source}: has {', '.join(present)} but not {', '.join(missing)}; the "
            f"calibration errors ({', '.join(CALIBRATION_METRICS)}) come together"
        )


def _has_probabilities(payload: dict[str, Any], note: str | None, source: str) -> bool:
    """True with all the PROBABILITY_METRICS, False with none (a label-only file); else
    the file is refused."""
    present = [key for key in PROBABILITY_METRICS if key in payload]
    absent = [key for key in PROBABILITY_METRICS if key not in payload]
    if not absent:
        return True
    if present:
        raise UserError(
            f"{source}: has {', '.join(present)} but not {', '.join(absent)}; the probability "
            f"metrics ({', '.join(PROBABILITY_METRICS)}) come all together or, in a label-only "
            "file, not at all"
        )
    del note  # a label-only file may carry a note, and need not
    return False


def parse_top_confusions(payload: Any, source: str) -> list[Confusion]:
    """The ranked confusions, in the file's (rank) order."""
    payload = as_object(payload, source, "the file")
    rows = field(payload, "top_confusions", as_list, source, "")
    confusions = []
    for number, row in enumerate(rows):
        where = f"top_confusions[{number}]"
        row = as_object(row, source, where)
        confusions.append(
            Confusion(
                rank=field(row, "rank", count, source, where),
                actual=field(row, "actual", non_empty, source, where),
                predicted=field(row, "predicted", non_empty, source, where),
                count=field(row, "count", count, source, where),
                share_of_actual=field(row, "share_of_actual", finite, source, where),
            )
        )
    return confusions


def _interval(bounds: dict[str, Any], source: str, where: str) -> tuple[float, float]:
    low = field(bounds, "low", finite, source, where)
    high = field(bounds, "high", finite, source, where)
    if low > high:
        raise UserError(f"{source}: {where}.low ({low}) is above {where}.high ({high})")
    return low, high


def parse_intervals(payload: Any, source: str) -> dict[str, tuple[float, float]]:
    """{metric: {"low": x, "high": y}} for headline metrics; each low <= high.

    An unknown metric name is an error rather than a silently missing row.
    """
    payload = as_object(payload, source, "the file")
    known = [key for key, _ in HEADLINE if key not in COUNT_METRICS]
    intervals = {}
    for metric, bounds in payload.items():
        if metric not in known:
            raise UserError(
                f"{source}: {metric!r} is not a headline metric; expected some of "
                f"{', '.join(known)}"
            )
        intervals[metric] = _interval(as_object(bounds, source, metric), source, metric)
    return intervals


def _change(payload: Any, source: str, where: str) -> Change:
    payload = as_object(payload, source, where)
    return Change(*(field(payload, key, finite, source, where) for key in CHANGE_KEYS))


def _class_change(payload: Any, source: str, where: str) -> Change:
    change = _change(payload, source, where)
    if "support" not in payload:
        return change
    return replace(change, support=field(payload, "support", count, source, where))


def _mcnemar(payload: Any, source: str, where: str) -> McNemar:
    payload = as_object(payload, source, where)
    test = McNemar(
        n_new_only=field(payload, "n_new_only", count, source, where),
        n_base_only=field(payload, "n_base_only", count, source, where),
        p_value=field(payload, "p_value", finite, source, where),
    )
    if not 0 <= test.p_value <= 1:
        bad(source, f"{where}.p_value", "in 0..1", test.p_value)
    return test


def _recalls(payload: Any, source: str, where: str) -> dict[str, Change]:
    payload = as_object(payload, source, where)
    recalls = {}
    for name in sorted(payload, key=natural_key):
        non_empty(name, source, f"each name in {where}")
        recalls[name] = _class_change(payload[name], source, f"{where}.{name}")
    return recalls


def _changed_cells(payload: Any, source: str, where: str) -> list[ChangedCell]:
    cells = []
    for number, row in enumerate(as_list(payload, source, where)):
        place = f"{where}[{number}]"
        row = as_object(row, source, place)
        cells.append(
            ChangedCell(
                actual=field(row, "actual", non_empty, source, place),
                predicted=field(row, "predicted", non_empty, source, place),
                new=field(row, "new", count, source, place),
                base=field(row, "base", count, source, place),
                difference=field(row, "difference", integer, source, place),
            )
        )
    return cells


def _level(payload: Any, source: str, where: str) -> float:
    level = field(as_object(payload, source, where), "level", finite, source, where)
    if not 0 < level < 1:
        bad(source, f"{where}.level", "strictly between 0 and 1", level)
    return level


def _commit(value: Any, source: str, where: str) -> str | None:
    return None if value is None else non_empty(value, source, where)


def parse_comparison(payload: Any, source: str) -> Comparison:
    """A comparison with a baseline run (``digitwise compare`` writes one).

    Required: ``baseline`` and ``accuracy`` (new, base, difference). Optional, each
    checked when present: ``accuracy.low``/``high`` (the difference's interval, both or
    neither) and ``bootstrap.level`` (its level, 0.95 if absent), ``baseline_commit``,
    ``n_samples``, ``mcnemar``, ``per_class_recall`` (with ``support`` or not) and
    ``changed_confusions``. Other keys are ignored, so the comparison may grow without
    breaking the report.
    """
    payload = as_object(payload, source, "the file")
    accuracy = field(payload, "accuracy", as_object, source, "")
    bounds = [key for key in ("low", "high") if key in accuracy]
    if len(bounds) == 1:
        raise UserError(f"{source}: accuracy has {bounds[0]} but not the other bound")

    def optional(key: str, check: Callable[[Any, str, str], Any]) -> Any:
        return field(payload, key, check, source, "") if key in payload else None

    return Comparison(
        baseline=field(payload, "baseline", non_empty, source, ""),
        accuracy=_change(accuracy, source, "accuracy"),
        accuracy_interval=_interval(accuracy, source, "accuracy") if bounds else None,
        level=optional("bootstrap", _level) or DEFAULT_LEVEL,
        baseline_commit=optional("baseline_commit", _commit),
        n_samples=optional("n_samples", count),
        mcnemar=optional("mcnemar", _mcnemar),
        per_class_recall=optional("per_class_recall", _recalls),
        changed_confusions=optional("changed_confusions", _changed_cells),
    )


def with_per_class(metrics: Metrics, payload: Any, metrics_source: str, source: str) -> Metrics:
    """The metrics with the scores of the per-class file ``source`` (``payload``, parsed;
    None: no such file, as in an evaluation written before it existed, whose metrics.json
    must then hold them)."""
    if payload is not None:
        return replace(metrics, per_class=parse_per_class(payload, source))
    if not metrics.per_class:
        raise UserError(
            f"{metrics_source}: has no per_class, and no per-class file (per_class.json) "
            "was given: give the one evaluate wrote beside it"
        )
    return metrics


def in_class_order(metrics: Metrics, classes: Sequence[str], source: str) -> Metrics:
    """The per-class rows in the class list's order (label order: "T-shirt/top" before
    "Trouser", not "Ankle boot" first), for the same set of classes."""
    if set(classes) != set(metrics.per_class):
        raise UserError(
            f"{source}: its classes ({', '.join(metrics.per_class)}) are not those of the "
            f"class list ({', '.join(classes)})"
        )
    return replace(metrics, per_class={name: metrics.per_class[name] for name in classes})
