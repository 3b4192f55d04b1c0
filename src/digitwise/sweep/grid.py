"""The sweep file: the experiments a sweep runs, each a name and the params it sets.

``sweep.yaml`` at the root of the repository is the one place the grid is declared:
``digitwise sweep matrix`` turns it into the matrix of the GitHub workflow, and
``digitwise sweep run NAME`` into the ``dvc exp run`` of one experiment.

    experiments:
      svc: {train.model: svc}
      lr-c0.1: {train.model: logistic_regression, train.logistic_regression.C: 0.1}
"""

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from digitwise.errors import UserError

# a git ref component and a GitHub matrix value alike: no spaces, slashes or dots first
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_EXPERIMENTS = 256  # a GitHub matrix holds at most 256 jobs
PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")  # a string YAML reads back as itself


@dataclass(frozen=True)
class Experiment:
    name: str
    params: dict[str, Any]  # dotted params.yaml key -> value, in the file's order


def load_grid(path: str | Path, params_path: str | Path) -> tuple[Experiment, ...]:
    """The experiments of the sweep file at ``path``, each key checked against the
    params file at ``params_path`` (its values are checked by the stages that read them)."""
    raw = _read_yaml(path)
    if not isinstance(raw, dict) or set(raw) != {"experiments"}:
        raise UserError(f"{path}: must be a mapping with one key, 'experiments'")
    experiments = raw["experiments"]
    if not isinstance(experiments, dict) or not experiments:
        raise UserError(f"{path}: 'experiments' must map names to the params they set")
    if len(experiments) > MAX_EXPERIMENTS:
        raise UserError(f"{path}: {len(experiments)} experiments; at most {MAX_EXPERIMENTS}")
    keys = flatten(_read_yaml(params_path))
    grid = []
    for name, changes in experiments.items():
        if not valid_name(name):
            raise UserError(
                f"{path}: experiment name {name!r}: letters, digits, '.', '_' and '-' "
                "(64 at most, not starting with '.', '_' or '-', no '..', not ending in "
                "'.' or '.lock': a git ref name)"
            )
        where = f"{path}: experiments.{name}"
        if not isinstance(changes, dict) or not changes:
            raise UserError(f"{where}: must map params.yaml keys to values, e.g. train.model: svc")
        for key, value in changes.items():
            if key not in keys:
                raise UserError(f"{where}: {key!r} is not a key of {params_path}")
            if not _plain_value(value):
                raise UserError(f"{where}.{key}: a number, string, boolean, null or list of them")
        grid.append(Experiment(name, dict(changes)))
    return tuple(grid)


def valid_name(name: Any) -> bool:
    """A name ``git check-ref-format`` takes as a ref component, and a matrix value."""
    return (
        isinstance(name, str)
        and NAME.fullmatch(name) is not None
        and ".." not in name
        and not name.endswith((".", ".lock"))
    )


def find(grid: tuple[Experiment, ...], name: str, path: str | Path) -> Experiment:
    for experiment in grid:
        if experiment.name == name:
            return experiment
    names = ", ".join(experiment.name for experiment in grid)
    raise UserError(f"{path}: no experiment {name!r}; it declares {names}")


def matrix(grid: tuple[Experiment, ...]) -> dict[str, list[str]]:
    """The GitHub Actions matrix: one job per experiment, ``matrix.experiment`` its name."""
    return {"experiment": [experiment.name for experiment in grid]}


def exp_run_command(experiment: Experiment, targets: tuple[str, ...] = ()) -> list[str]:
    """``dvc exp run`` of one experiment, in a temporary copy of the repository (the
    workspace keeps its params, so experiments run one after another stay apart)."""
    sets = [f"--set-param={key}={yaml_value(value)}" for key, value in experiment.params.items()]
    return ["dvc", "exp", "run", "--temp", "--name", experiment.name, *sets, *targets]


def yaml_value(value: Any) -> str:
    """``value`` as DVC reads a ``-S key=value`` back (YAML): JSON, except plain strings."""
    if isinstance(value, str) and PLAIN.fullmatch(value) and value not in _YAML_WORDS:
        return value
    return json.dumps(value)


_YAML_WORDS = {"null", "Null", "NULL", "true", "True", "TRUE", "false", "False", "FALSE"}


def flatten(raw: Any, prefix: str = "") -> dict[str, Any]:
    """A params mapping's values by dotted key (``train.svc.C``), mappings flattened."""
    flat: dict[str, Any] = {}
    for key, value in raw.items() if isinstance(raw, Mapping) else ():
        dotted = f"{prefix}{key}"
        flat |= flatten(value, f"{dotted}.") if isinstance(value, Mapping) else {dotted: value}
    return flat


def _plain_value(value: Any) -> bool:
    if isinstance(value, list):
        return all(_plain_value(item) and not isinstance(item, list) for item in value)
    return value is None or isinstance(value, str | int | float | bool)


def _read_yaml(path: str | Path) -> Any:
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as error:
        raise UserError(f"{path}: cannot read it ({error})") from None
    try:
        return YAML(typ="safe").load(text)  # YAML 1.2, as DVC reads params.yaml
    except (YAMLError, RecursionError, ValueError, TypeError, KeyError) as error:
        where = getattr(error, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise UserError(f"{path}: not valid YAML{line}") from None
