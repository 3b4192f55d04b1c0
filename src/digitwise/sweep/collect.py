"""The experiments of a baseline commit, side by side: one row each with the params it
changed, its headline metrics with their intervals, and its predictions compared with
the baseline's (``digitwise.comparison.compare``: the paired bootstrap interval of the
accuracy difference and McNemar's exact test).

Everything is read from git: DVC keeps each experiment as a commit under
``refs/exps/<baseline sha[:2]>/<baseline sha[2:]>/<name>`` (what ``dvc exp pull`` fetches),
and the files read here are committed outputs (``cache: false`` in dvc.yaml), so no DVC
cache or remote is needed. Each commit read must be one run of the pipeline up to
evaluate (``lock_mismatch``): an experiment cut before evaluate still holds the outputs
evaluate made for its baseline, and would show the baseline's numbers under its name."""

import hashlib
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
        command = shlex.split(pipeline["stages"]["evaluate"]["cmd"])  # a str, else TypeError
        options = dict(pairwise(command))
        return {name: options[f"--{name}"] for name in READ}
    except (YAMLError, KeyError, TypeError, ValueError, AttributeError, RecursionError):
        raise UserError(
            f"{baseline.name} ({baseline.commit[:12]}): dvc.yaml must have an evaluate stage "
            f"whose cmd names {', '.join('--' + name for name in READ)}"
        ) from None


def collect(
    root: Path,
    baseline: Revision,
    *,
    n_resamples: int,
    seed: int,
    against: Revision | None = None,
) -> dict[str, Any]:
    """Every row of the table; the baseline first. The experiments are those of
    ``baseline``, compared with ``against`` (default: ``baseline`` itself), e.g. the
    experiments of a branch's head against main."""
    experiments = experiments_of(root, baseline)
    paths = pipeline_paths(root, baseline)
    ran_on, baseline = baseline, against or baseline
    classes = _classes(root, baseline, paths["confusion"])
    predictions = root / paths["predictions"]
    if not predictions.is_file():
        raise UserError(f"{predictions}: not found; run from a checkout of the pipeline")
    base = load_baseline(baseline.commit, predictions, classes)
    base_params = _flat_params(root, baseline, paths["params"])
    check_lock(root, baseline, paths, base_params)
    rows = [_row(root, baseline, paths, changed={})]
    for experiment in experiments:
        where = f"experiment {experiment.name} ({experiment.commit[:12]})"
        flat = _flat_params(root, experiment, paths["params"])
        check_lock(root, experiment, paths, flat)
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
        "experiments_of": ran_on.name,
        "experiments_of_commit": ran_on.commit,
        "n_samples": int(base.predictions.sample.size),
        "bootstrap": {"resamples": n_resamples, "seed": seed},
        "rows": rows,
    }


def check_lock(root: Path, revision: Revision, paths: dict[str, str], flat: dict) -> None:
    """Refuse a commit whose committed outputs are not what its dvc.lock says evaluate
    made from its params.yaml: an experiment run only part of the way up to evaluate
    still holds the baseline's predictions and metrics."""
    committed = {paths[name]: _show(root, revision, paths[name]) for name in READ[1:]}
    problem = lock_mismatch(
        _yaml(root, revision, "dvc.lock"), flat, committed, params_file=paths["params"]
    )
    if problem:
        raise UserError(
            f"{revision.name} ({revision.commit[:12]}): {problem}; was the pipeline run "
            "up to evaluate (digitwise sweep run NAME evaluate)?"
        )


def experiment_commit(root: Path, baseline: Revision, name: str) -> str | None:
    """The commit of experiment ``name`` of that baseline, if there is one."""
    ref = f"refs/exps/{baseline.commit[:2]}/{baseline.commit[2:]}/{name}"
    found = _git(root, "rev-parse", "--verify", "--quiet", ref)
    return found.stdout.decode().strip() if found.returncode == 0 else None


def is_shallow(root: Path) -> bool:
    found = _git(root, "rev-parse", "--is-shallow-repository")
    return found.stdout.decode().strip() == "true"


def table_markdown(collected: dict[str, Any]) -> str:
    """The comparison table for a CI job summary; a function of ``collect``'s result."""
    baseline = f"`{collected['baseline']}` ({collected['baseline_commit'][:12]})"
    ran_on = f"`{collected['experiments_of']}` ({collected['experiments_of_commit'][:12]})"
    names = " | ".join(label for _, label in HEADLINE)
    lines = [
        f"## Experiments against {baseline}"
        if ran_on == baseline
        else f"## Experiments of {ran_on} against {baseline}",
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


def _classes(root: Path, revision: Revision, path: str) -> tuple[str, ...]:
    classes = _json(root, revision, path)
    classes = classes.get("classes") if isinstance(classes, dict) else None
    if (
        not isinstance(classes, list)
        or not classes
        or not all(isinstance(name, str | int) and not isinstance(name, bool) for name in classes)
    ):
        raise UserError(
            f"{revision.name} ({revision.commit[:12]}): {path} must hold 'classes', "
            "a non-empty list of class names"
        )
    return tuple(str(name) for name in classes)


def _flat_params(root: Path, revision: Revision, path: str) -> dict[str, Any]:
    return flatten(_yaml(root, revision, path))


def _yaml(root: Path, revision: Revision, path: str) -> Any:
    try:
        return YAML(typ="safe").load(_show(root, revision, path))
    except (YAMLError, RecursionError, ValueError, TypeError, KeyError):
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


_MISSING = object()


def lock_mismatch(
    lock: Any,
    params: dict[str, Any],
    committed: dict[str, bytes],
    *,
    params_file: str = "params.yaml",
    stage: str = "evaluate",
) -> str | None:
    """What does not agree, in a few words, or None: for ``stage`` and every stage it
    depends on, the params the lock recorded must be the values in the commit's params
    file, each dependency on another stage's output must have that output's hash, and the
    committed outputs must have the hashes the lock recorded (DVC 3 hashes a file's bytes
    with MD5).

    ``params`` is the commit's params file flattened (``train.model``), ``committed``
    the bytes of some outputs by path, as committed."""
    try:
        stages = lock["stages"]
        outs = {
            out["path"]: (name, out.get("md5"))
            for name, spec in stages.items()
            for out in spec.get("outs", [])
        }
        if stage not in stages:
            return f"dvc.lock has no {stage} stage"
        return _chain_mismatch(stages, outs, stage, params, params_file) or next(
            (
                f"{path} is not the output of {outs[path][0]} that dvc.lock records"
                for path, data in committed.items()
                if path in outs and outs[path][1] != hashlib.md5(data).hexdigest()
            ),
            None,
        )
    except (KeyError, TypeError, AttributeError, ValueError):
        return "dvc.lock: not a DVC lock file"


def _chain_mismatch(stages, outs, stage, params, params_file) -> str | None:
    seen, todo = set(), [stage]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        recorded = flatten(stages[name].get("params", {}).get(params_file, {}))
        for key, value in recorded.items():
            now = params.get(key, _MISSING)
            if now != value:
                has = (
                    f"{params_file} has {yaml_value(now)}"
                    if now is not _MISSING
                    else f"not in {params_file}"
                )
                return f"dvc.lock: stage {name} ran with {key}={yaml_value(value)}, {has}"
        for dep in stages[name].get("deps", []):
            path = dep["path"]
            producer = next(
                (out for out in outs if path == out or path.startswith(out + "/")), None
            )
            if producer is None:
                continue
            made_by, md5 = outs[producer]
            if path == producer and dep.get("md5") != md5:
                return f"dvc.lock: stage {name} read a {path} other than the one {made_by} made"
            todo.append(made_by)
    return None
