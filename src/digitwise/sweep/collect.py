"""The experiments of a baseline commit, side by side: one row each with the params it
changed, its headline metrics with their intervals, and its predictions compared with
the baseline's (``digitwise.comparison.compare``: the paired bootstrap interval of the
accuracy difference and McNemar's exact test).

Everything is read from git: DVC keeps each experiment as a commit under
``refs/exps/<baseline sha[:2]>/<baseline sha[2:]>/<name>`` (what ``dvc exp pull`` fetches),
and the files read here are committed outputs (``cache: false`` in dvc.yaml), so no DVC
cache or remote is needed."""

import json
import shlex
import subprocess
from dataclasses import dataclass, replace
from itertools import pairwise
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from digitwise.comparison.compare import align, comparison_report, load_baseline
from digitwise.errors import UserError
from digitwise.metrics.significance import format_p_value
from digitwise.sweep.grid import flatten, yaml_value

# what is read, as the evaluate stage's options in dvc.yaml name it (committed outputs);
# confusion.json's "classes" is the class list, in order
READ = ("params", "predictions", "metrics", "intervals", "confusion")
HEADLINE = (
    ("accuracy", "accuracy"),
    ("balanced_accuracy", "balanced accuracy"),
    ("f1_macro", "macro F1"),
)


@dataclass(frozen=True)
class Revision:
    name: str
    commit: str


def repository_root(directory: str | Path) -> Path:
    found = _git(Path(directory), "rev-parse", "--show-toplevel")
    if found.returncode != 0:
        raise UserError(f"{directory}: not inside a git repository")
    return Path(found.stdout.decode().strip())


def resolve(root: Path, ref: str) -> Revision:
    if not ref or ref.startswith("-"):  # never let a revision reach git as an option
        raise UserError(f"baseline {ref!r}: not a git revision")
    found = _git(root, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    if found.returncode != 0:
        raise UserError(f"baseline {ref}: not a revision of the git repository at {root}")
    return Revision(ref, found.stdout.decode().strip())


def experiments_of(root: Path, baseline: Revision) -> list[Revision]:
    """The experiments whose baseline is that commit, by name."""
    prefix = f"refs/exps/{baseline.commit[:2]}/{baseline.commit[2:]}/"
    listed = _git(root, "for-each-ref", "--format=%(refname) %(objectname)", prefix)
    found = [line.split(" ") for line in listed.stdout.decode().splitlines() if line]
    if not found:
        raise UserError(
            f"baseline {baseline.name} ({baseline.commit[:12]}): no experiments; run some "
            "(digitwise sweep run NAME) or fetch them (dvc exp pull origin)"
        )
    return sorted(
        (Revision(ref.removeprefix(prefix), commit) for ref, commit in found),
        key=lambda revision: revision.name,
    )


def pipeline_paths(root: Path, baseline: Revision) -> dict[str, str]:
    """The files in ``READ``, from the evaluate stage's command in the baseline's dvc.yaml."""
    try:
        pipeline = YAML(typ="safe").load(_show(root, baseline, "dvc.yaml"))
        command = shlex.split(pipeline["stages"]["evaluate"]["cmd"])
        options = dict(pairwise(command))
        return {name: options[f"--{name}"] for name in READ}
    except (YAMLError, KeyError, TypeError, ValueError):
        raise UserError(
            f"{baseline.name} ({baseline.commit[:12]}): dvc.yaml must have an evaluate stage "
            f"whose cmd names {', '.join('--' + name for name in READ)}"
        ) from None


def collect(root: Path, baseline: Revision, *, n_resamples: int, seed: int) -> dict[str, Any]:
    """Every row of the table; the baseline first."""
    experiments = experiments_of(root, baseline)
    paths = pipeline_paths(root, baseline)
    confusion = _json(root, baseline, paths["confusion"])
    classes = tuple(str(name) for name in confusion["classes"])
    predictions = root / paths["predictions"]
    if not predictions.is_file():
        raise UserError(f"{predictions}: not found; run from a checkout of the pipeline")
    base = load_baseline(baseline.commit, predictions, classes)
    base_params = _flat_params(root, baseline, paths["params"])
    rows = [_row(root, baseline, paths, changed={})]
    for experiment in experiments:
        where = f"experiment {experiment.name} ({experiment.commit[:12]})"
        flat = _flat_params(root, experiment, paths["params"])
        changed = {k: v for k, v in flat.items() if base_params.get(k, object()) != v}
        new = load_baseline(experiment.commit, predictions, classes).predictions
        new, aligned = align(new, base.predictions, new_name=where, base_name=baseline.name)
        report = comparison_report(
            new,
            replace(base, predictions=aligned),
            n_resamples=n_resamples,
            seed=seed,
            limit=1,
        )
        row = _row(root, experiment, paths, changed=changed)
        row["against_baseline"] = {"accuracy": report["accuracy"], "mcnemar": report["mcnemar"]}
        rows.append(row)
    return {
        "baseline": baseline.name,
        "baseline_commit": baseline.commit,
        "n_samples": int(base.predictions.sample.size),
        "bootstrap": {"resamples": n_resamples, "seed": seed},
        "rows": rows,
    }


def table_markdown(collected: dict[str, Any]) -> str:
    """The comparison table for a CI job summary; a function of ``collect``'s result."""
    baseline = f"`{collected['baseline']}` ({collected['baseline_commit'][:12]})"
    names = " | ".join(label for _, label in HEADLINE)
    lines = [
        f"## Experiments against {baseline}",
        "",
        f"{collected['n_samples']} held-out samples. Metrics with their 95% bootstrap "
        "intervals; the accuracy difference with its paired bootstrap interval, and "
        "McNemar's exact test on the paired predictions (samples right only in the "
        "experiment / only in the baseline).",
        "",
        f"| experiment | params changed | {names} | log loss | accuracy difference | McNemar | p |",
        "|---|---|" + "---|" * len(HEADLINE) + "---:|---|---:|---:|",
    ]
    for row in collected["rows"]:
        changed = ", ".join(f"`{k}={yaml_value(v)}`" for k, v in row["params_changed"].items())
        cells = [
            "baseline" if row is collected["rows"][0] else _cell(row["experiment"]),
            _cell(changed),
            *(_interval(row["metrics"][key]) for key, _ in HEADLINE),
            "" if row["metrics"]["log_loss"] is None else f"{row['metrics']['log_loss']:.4f}",
        ]
        against = row.get("against_baseline")
        if against is None:
            cells += ["", "", ""]
        else:
            accuracy, test = against["accuracy"], against["mcnemar"]
            cells += [
                f"{accuracy['difference']:+.4f} [{accuracy['low']:+.4f}, {accuracy['high']:+.4f}]",
                f"{test['n_new_only']} / {test['n_base_only']}",
                format_p_value(test["p_value"]),
            ]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _row(
    root: Path, revision: Revision, paths: dict[str, str], *, changed: dict[str, Any]
) -> dict[str, Any]:
    metrics = _json(root, revision, paths["metrics"])
    intervals = _json(root, revision, paths["intervals"])
    values = {}
    for key, _ in HEADLINE:
        try:
            values[key] = {
                "value": float(metrics[key]),
                **{side: float(intervals[key][side]) for side in ("low", "high")},
            }
        except (KeyError, TypeError, ValueError):
            raise UserError(
                f"{revision.name} ({revision.commit[:12]}): {paths['metrics']} and "
                f"{paths['intervals']} must "
                f"hold {key} and its low and high bounds"
            ) from None
    log_loss = metrics.get("log_loss")  # absent for label-only predictions
    values["log_loss"] = float(log_loss) if isinstance(log_loss, int | float) else None
    return {
        "experiment": revision.name,
        "commit": revision.commit,
        "params_changed": changed,
        "metrics": values,
    }


def _interval(value: dict[str, float]) -> str:
    return f"{value['value']:.4f} [{value['low']:.4f}, {value['high']:.4f}]"


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|")


def _flat_params(root: Path, revision: Revision, path: str) -> dict[str, Any]:
    try:
        return flatten(YAML(typ="safe").load(_show(root, revision, path)))
    except YAMLError:
        raise UserError(f"{revision.name} ({revision.commit[:12]}): {path}: not YAML") from None


def _json(root: Path, revision: Revision, path: str) -> Any:
    try:
        return json.loads(_show(root, revision, path))
    except ValueError:
        raise UserError(f"{revision.name} ({revision.commit[:12]}): {path}: not JSON") from None


def _show(root: Path, revision: Revision, path: str) -> bytes:
    shown = _git(root, "show", f"{revision.commit}:{path}")
    if shown.returncode != 0:
        raise UserError(
            f"{revision.name} ({revision.commit[:12]}): {path} is not in its commit; "
            "did the experiment run the pipeline to the end?"
        )
    return shown.stdout


def _git(directory: Path, *args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], cwd=directory, capture_output=True, check=False)
    except OSError as error:  # git not installed, or the directory is gone
        return subprocess.CompletedProcess(args, 1, b"", str(error).encode())
