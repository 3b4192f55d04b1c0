"""Read ``params.yaml`` once and turn each section into typed, validated values.

Every stage reads only its own sections. Unknown sections and keys are errors
(a typo must not silently fall back to a default), and every message names the
file, the dotted key, what is allowed and what was found.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from stages.cli import UserError

SECTIONS = (
    "data",
    "split",
    "train",
    "evaluate",
    "separability",
    "attribution",
    "examples",
    "steps",
    "gate",
)
DATA_SOURCES = ("digits",)

Validator = Callable[[str, Any], Any]


class ParamsError(UserError):
    """A key, type or value in ``params.yaml`` that this project does not accept."""


@dataclass(frozen=True)
class DataParams:
    source: str


@dataclass(frozen=True)
class SplitParams:
    test_size: float
    seed: int


@dataclass(frozen=True)
class TrainParams:
    model: str
    seed: int
    hyperparameters: Mapping[str, Any]  # of the chosen model only, already validated


@dataclass(frozen=True)
class EvaluateParams:
    top_confusions: int
    bootstrap_resamples: int  # for the 95% confidence intervals of the headline metrics
    bootstrap_seed: int


@dataclass(frozen=True)
class GateParams:
    min_accuracy: float  # the accuracy below which a change is refused outright
    max_accuracy_drop: float  # a larger drop against the baseline is refused ...
    alpha: float  # ... when McNemar's test says it is significant at this level


@dataclass(frozen=True)
class SeparabilityParams:
    maps: int  # per-pixel accuracy maps drawn, for the pairs the model confuses most


@dataclass(frozen=True)
class AttributionParams:
    examples: int  # held-out examples drawn with their attributions, misclassified first
    max_samples: int  # held-out samples averaged into the per-class maps (a seeded subset)
    seed: int


@dataclass(frozen=True)
class ExamplesParams:
    cells: int  # most frequent off-diagonal confusion cells shown
    per_cell: int  # misclassified images shown per cell


@dataclass(frozen=True)
class StepsParams:
    snapshots: tuple[int, ...]  # training steps at which the confusion matrix is drawn


def load(path: str | Path) -> dict[str, Any]:
    """Parse the params file and check its top-level sections, nothing more."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ParamsError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ParamsError(f"{path}: cannot read it ({error})") from None
    try:
        # DVC's own reader (YAML 1.2), so a value means the same to DVC and to a stage:
        # PyYAML (YAML 1.1) would read 010 as 8 and 1e-3 as a string.
        raw = YAML(typ="safe").load(text)
    except YAMLError as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        problem = getattr(error, "problem", None) or "syntax error"
        raise ParamsError(f"{path}: not valid YAML{line}: {problem}") from None
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: must be a mapping of sections {', '.join(SECTIONS)}")
    unknown = sorted(str(key) for key in raw if key not in SECTIONS)
    if unknown:
        raise ParamsError(f"{path}: unknown section '{unknown[0]}'; allowed: {', '.join(SECTIONS)}")
    return {"__file__": str(path), **raw}


def data_params(raw: Mapping[str, Any]) -> DataParams:
    values = _section(raw, "data", {"source": choice(DATA_SOURCES)})
    return DataParams(**values)


def split_params(raw: Mapping[str, Any]) -> SplitParams:
    values = _section(raw, "split", {"test_size": open_interval(0.0, 1.0), "seed": seed_value})
    return SplitParams(**values)


def evaluate_params(raw: Mapping[str, Any]) -> EvaluateParams:
    schema = {
        "top_confusions": integer(minimum=1),
        "bootstrap_resamples": integer(minimum=100, maximum=100_000),
        "bootstrap_seed": seed_value,
    }
    return EvaluateParams(**_section(raw, "evaluate", schema))


def gate_params(raw: Mapping[str, Any]) -> GateParams:
    schema = {
        "min_accuracy": closed_interval(0.0, 1.0),
        "max_accuracy_drop": closed_interval(0.0, 1.0),
        "alpha": open_interval(0.0, 1.0),
    }
    return GateParams(**_section(raw, "gate", schema))


def separability_params(raw: Mapping[str, Any]) -> SeparabilityParams:
    return SeparabilityParams(**_section(raw, "separability", {"maps": integer(minimum=0)}))


def attribution_params(raw: Mapping[str, Any]) -> AttributionParams:
    schema = {
        "examples": integer(minimum=0),
        "max_samples": integer(minimum=1),
        "seed": seed_value,
    }
    return AttributionParams(**_section(raw, "attribution", schema))


def examples_params(raw: Mapping[str, Any]) -> ExamplesParams:
    schema = {"cells": integer(minimum=1), "per_cell": integer(minimum=1, maximum=20)}
    return ExamplesParams(**_section(raw, "examples", schema))


def steps_params(raw: Mapping[str, Any]) -> StepsParams:
    return StepsParams(**_section(raw, "steps", {"snapshots": positive_int_list}))


def train_params(
    raw: Mapping[str, Any], models: Mapping[str, Mapping[str, Validator]]
) -> TrainParams:
    """Validate the ``train`` section against the hyperparameter schema of each model.

    Every model's block is checked, not just the chosen one's, so a typo in a block
    that is not in use today is reported today.
    """
    schema: dict[str, Validator] = {"model": choice(tuple(models)), "seed": seed_value}
    for name, fields in models.items():
        schema[name] = _block(fields)
    values = _section(raw, "train", schema)
    return TrainParams(
        model=values["model"], seed=values["seed"], hyperparameters=values[values["model"]]
    )


def _section(raw: Mapping[str, Any], name: str, schema: Mapping[str, Validator]) -> dict:
    file = raw.get("__file__", "params.yaml")
    if name not in raw:
        raise ParamsError(f"{file}: missing section '{name}'")
    try:
        return _block(schema)(name, raw[name])
    except ParamsError as error:
        raise ParamsError(f"{file}: {error}") from None


def _block(schema: Mapping[str, Validator]) -> Validator:
    def validate(key: str, value: Any) -> dict:
        if not isinstance(value, dict):
            raise ParamsError(f"{key} must be a mapping with keys {', '.join(schema)}")
        for name in value:
            if name not in schema:
                raise ParamsError(f"unknown key '{key}.{name}'; allowed: {', '.join(schema)}")
        for name in schema:
            if name not in value:
                raise ParamsError(f"missing key '{key}.{name}'")
        return {name: check(f"{key}.{name}", value[name]) for name, check in schema.items()}

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
