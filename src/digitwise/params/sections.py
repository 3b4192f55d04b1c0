"""Read ``params.yaml`` once and turn each section into typed, validated values.

Every stage reads only its own sections. Unknown sections and keys are errors
(a typo must not silently fall back to a default), and every message names the
file, the dotted key, what is allowed and what was found.
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from digitwise.params.validators import (
    MAX_COUNT,
    ParamsError,
    Validator,
    block,
    choice,
    class_names,
    closed_interval,
    increasing_fractions,
    integer,
    integer_list,
    key_text,
    open_interval,
    optional,
    path_value,
    seed_value,
)

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
DATA_SOURCES = ("digits", "idx")
SPLIT_METHODS = ("stratified", "source")
CLASS_ORDERS = ("natural", "clustered")  # digitwise.metrics.ordering.METHODS
# Nesting deeper than this is no params file (this one nests 4 deep); refused at once, so
# that nothing after the parser recurses into it.
MAX_DEPTH = 100
# Figures of one row per item are unreadable long before this, and slow to draw.
MAX_FIGURE_ROWS = 100
MAX_STEPS = 100_000  # the MLP's max_iter bound: snapshot steps beyond it cannot occur
# A learning curve fits the model once per fraction and draws a matrix for each.
MAX_FRACTIONS = 10


@dataclass(frozen=True)
class DataParams:
    source: str  # digits | idx
    path: str  # the directory of IDX files (idx); DVC tracks it for every source
    classes: tuple[str, ...] | None  # names of labels 0, 1, ...; None: the label numbers


@dataclass(frozen=True)
class SplitParams:
    method: str  # stratified: a seeded split of all samples | source: the files' own
    test_size: float | None  # stratified only: the share held out
    seed: int | None  # stratified only


@dataclass(frozen=True)
class TrainParams:
    model: str
    seed: int
    max_samples: int | None  # fit on a seeded subset of this many training samples; None: all
    hyperparameters: Mapping[str, Any]  # of the chosen model only, already validated


@dataclass(frozen=True)
class EvaluateParams:
    top_confusions: int
    bootstrap_resamples: int  # for the 95% confidence intervals of the headline metrics
    bootstrap_seed: int
    calibration_bins: int  # equal-width bins of the calibration errors and diagram
    class_order: str  # of the classes in the heatmaps: natural | clustered


# What the digitwise command uses without --params; params.yaml holds the same values.
EVALUATE_DEFAULTS = EvaluateParams(
    top_confusions=10,
    bootstrap_resamples=1000,
    bootstrap_seed=0,
    calibration_bins=15,
    class_order="natural",
)


@dataclass(frozen=True)
class GateParams:
    min_accuracy: float  # the accuracy below which a change is refused outright
    max_accuracy_drop: float  # a larger drop against the baseline is refused ...
    alpha: float  # ... when McNemar's test says it is significant at this level


GATE_DEFAULTS = GateParams(min_accuracy=0.95, max_accuracy_drop=0.01, alpha=0.05)


@dataclass(frozen=True)
class SeparabilityParams:
    maps: int  # per-pixel accuracy maps drawn, for the pairs the model confuses most


@dataclass(frozen=True)
class AttributionParams:
    examples: int  # held-out examples drawn with their attributions, misclassified first
    max_samples: int  # held-out samples averaged into the per-class maps (a seeded subset)
    seed: int
    patch: int  # occlusion: side of the square patches occluded together, in pixels
    max_evaluations: int  # occlusion: model evaluations (rows through the model) allowed


@dataclass(frozen=True)
class ExamplesParams:
    cells: int  # most frequent off-diagonal confusion cells shown
    per_cell: int  # misclassified images shown per cell
    label_issues_limit: int  # candidate label errors listed in label_issues.json


@dataclass(frozen=True)
class StepsParams:
    snapshots: tuple[int, ...]  # epochs at which the confusion matrix is drawn (the MLP)
    fractions: tuple[float, ...]  # learning curve (other models): increasing, in (0, 1]
    max_samples: int | None  # learning curve: the fractions' base, a stratified subset
    train_eval_samples: int  # training samples scored after each step (a seeded subset)


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
    except RecursionError:
        raise ParamsError(f"{path}: {_too_deep()}") from None
    except (ValueError, TypeError, KeyError) as error:
        # raised by the constructors of values: an integer of more than 4,300 digits,
        # a date of month 13, "!!bool maybe", a list as a mapping key
        raise ParamsError(f"{path}: not valid YAML: {_unreadable(text, error)}") from None
    if _deeper_than(raw, MAX_DEPTH):
        raise ParamsError(f"{path}: {_too_deep()}")
    if not isinstance(raw, dict):
        raise ParamsError(f"{path}: must be a mapping of sections {', '.join(SECTIONS)}")
    unknown = sorted(key_text(key) for key in raw if key not in SECTIONS)
    if unknown:
        raise ParamsError(f"{path}: unknown section '{unknown[0]}'; allowed: {', '.join(SECTIONS)}")
    return {"__file__": str(path), **raw}


def _too_deep() -> str:
    return f"nested too deeply (more than {MAX_DEPTH} levels of mappings and lists)"


def _unreadable(text: str, error: Exception) -> str:
    """What a value the YAML constructors refused is, with its line if it can be found."""
    long_number = re.search(r"[0-9a-fA-F_]{4301,}", text)
    if long_number is not None and "digits" in str(error):
        line = text.count("\n", 0, long_number.start()) + 1
        return f"line {line} holds an integer of more than 4300 digits"
    if isinstance(error, KeyError | TypeError):
        return f"a value or key of an unreadable kind ({type(error).__name__}: {error})"
    return f"a value that cannot be read ({error})"


def _deeper_than(value: Any, limit: int) -> bool:
    """Whether lists and mappings nest more than ``limit`` deep (a cycle, which YAML
    aliases can make, nests infinitely). Each node is visited once per deeper path."""
    deepest: dict[int, int] = {}
    stack = [(value, 1)]
    while stack:
        node, depth = stack.pop()
        if not isinstance(node, list | dict):
            continue
        if depth > limit:
            return True
        if deepest.get(id(node), 0) >= depth:
            continue
        deepest[id(node)] = depth
        children = node.values() if isinstance(node, dict) else node
        stack.extend((child, depth + 1) for child in children)
    return False


def data_params(raw: Mapping[str, Any]) -> DataParams:
    schema = {"source": choice(DATA_SOURCES), "path": path_value, "classes": class_names}
    return DataParams(**_section(raw, "data", schema, may_omit=("classes",)))


def split_params(raw: Mapping[str, Any]) -> SplitParams:
    """``split.method`` and the block of settings that belongs to it.

    ``stratified`` has a block (test_size, seed), checked even when ``source`` is in
    use, like the model blocks of ``train``; ``source`` has no settings: the files say
    which samples are held out.
    """
    stratified = block({"test_size": open_interval(0.0, 1.0), "seed": seed_value})
    values = _section(raw, "split", {"method": choice(SPLIT_METHODS), "stratified": stratified})
    if values["method"] == "source":
        return SplitParams(method="source", test_size=None, seed=None)
    return SplitParams(method="stratified", **values["stratified"])


def evaluate_params(raw: Mapping[str, Any]) -> EvaluateParams:
    schema = {
        # 1,000 classes have 999,000 off-diagonal cells
        "top_confusions": integer(minimum=1, maximum=1_000_000),
        "bootstrap_resamples": integer(minimum=100, maximum=100_000),
        "bootstrap_seed": seed_value,
        # one bin is the plain gap between mean confidence and accuracy; beyond a
        # thousand, bins hold too few samples to estimate anything
        "calibration_bins": integer(minimum=1, maximum=1_000),
        "class_order": choice(CLASS_ORDERS),
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
    schema = {"maps": integer(minimum=0, maximum=MAX_FIGURE_ROWS)}
    return SeparabilityParams(**_section(raw, "separability", schema))


def attribution_params(raw: Mapping[str, Any]) -> AttributionParams:
    schema = {
        "examples": integer(minimum=0, maximum=MAX_FIGURE_ROWS),
        "max_samples": integer(minimum=1, maximum=MAX_COUNT),
        "seed": seed_value,
        "patch": integer(minimum=1, maximum=64),
        "max_evaluations": integer(minimum=1, maximum=MAX_COUNT),
    }
    return AttributionParams(**_section(raw, "attribution", schema))


def examples_params(raw: Mapping[str, Any]) -> ExamplesParams:
    schema = {
        "cells": integer(minimum=1, maximum=MAX_FIGURE_ROWS),
        "per_cell": integer(minimum=1, maximum=20),
        "label_issues_limit": integer(minimum=0, maximum=MAX_COUNT),
    }
    return ExamplesParams(**_section(raw, "examples", schema))


def steps_params(raw: Mapping[str, Any]) -> StepsParams:
    schema = {
        # one confusion matrix drawn per snapshot
        "snapshots": integer_list(items=20, minimum=1, maximum=MAX_STEPS),
        "fractions": increasing_fractions(items=MAX_FRACTIONS),
        "max_samples": optional(integer(minimum=1, maximum=MAX_COUNT)),
        "train_eval_samples": integer(minimum=1, maximum=MAX_COUNT),
    }
    return StepsParams(**_section(raw, "steps", schema))


def train_params(
    raw: Mapping[str, Any], models: Mapping[str, Mapping[str, Validator]]
) -> TrainParams:
    """Validate the ``train`` section against the hyperparameter schema of each model.

    Every model's block is checked, not just the chosen one's, so a typo in a block
    that is not in use today is reported today.
    """
    schema: dict[str, Validator] = {
        "model": choice(tuple(models)),
        "seed": seed_value,
        "max_samples": optional(integer(minimum=1, maximum=MAX_COUNT)),
    }
    for name, fields in models.items():
        schema[name] = block(fields)
    values = _section(raw, "train", schema)
    return TrainParams(
        model=values["model"],
        seed=values["seed"],
        max_samples=values["max_samples"],
        hyperparameters=values[values["model"]],
    )


def _section(
    raw: Mapping[str, Any],
    name: str,
    schema: Mapping[str, Validator],
    *,
    may_omit: tuple[str, ...] = (),
) -> dict:
    file = raw.get("__file__", "params.yaml")
    if name not in raw:
        raise ParamsError(f"{file}: missing section '{name}'")
    try:
        return block(schema, may_omit=may_omit)(name, raw[name])
    except ParamsError as error:
        raise ParamsError(f"{file}: {error}") from None
