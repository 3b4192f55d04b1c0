"""Benchmark a cold and a no-op ``dvc repro`` of this project against a bare pipeline.

Ours: the project's pipeline (``dvc.yaml``, ``params.yaml``, ``stages/``,
``.dvc/config``, ``.dvcignore``) copied from the working tree, uncommitted files
included, into a fresh temporary git + DVC repository, on the default data. It is
timed twice over: the whole pipeline (``dvc repro``) and, when ``dvc.yaml`` has
more than the four stages the bare pipeline has, its four core stages alone
(``dvc repro evaluate``: prepare, train, predict, evaluate), which is the
like-for-like comparison with the bare pipeline.

Bare: the same four steps written the obvious way, in a temporary repository of
its own with a tiny ``dvc.yaml`` and four small scripts that this benchmark
writes: prepare (scikit-learn ``load_digits`` + ``train_test_split``, ``np.save``),
train (``LogisticRegression`` on pixels / 16, ``skops.io.dump``), predict
(``skops.io.load`` with its trusted types, ``predict_proba``, a CSV), evaluate
(read the CSV, ``confusion_matrix``, one seaborn heatmap as PNG, a JSON file of
metrics with the accuracy).

For each of ``--repeats`` rounds, each of these gets a fresh copy in which
``dvc.lock`` and every output are deleted and the DVC cache is empty; there the
script times a cold ``dvc repro``, then a no-op ``dvc repro`` (nothing changed).
It prints the medians, ours / bare, and, per stage, the median time of each
stage's command run directly (no DVC, in dependency order) in another fresh copy.

Targets: a cold ``dvc repro`` of ours (its four core stages) within 1.5x of the
bare one; a no-op ``dvc repro`` of ours (the whole pipeline) under 1 s.

Run from the project's virtualenv (the directory of ``sys.executable`` goes first
on PATH, so ``python`` and ``dvc`` are the venv's); it writes only to temporary
directories::

    python benchmarks/bench_repro.py
    python benchmarks/bench_repro.py --repeats 1 --no-stages
"""

import argparse
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from graphlib import TopologicalSorter
from pathlib import Path

import yaml

PROJECT = Path(__file__).resolve().parent.parent
PROJECT_FILES = ("dvc.yaml", "params.yaml", ".dvc/config", ".dvcignore", "data/raw/README.md")
COLD_TARGET = 1.5  # ours / bare
NOOP_TARGET = 1.0  # seconds

BARE_DVC_YAML = """\
stages:
  prepare:
    cmd: python prepare.py data
    deps: [prepare.py]
    outs: [data]
  train:
    cmd: python train.py data model.skops
    deps: [train.py, data]
    outs: [model.skops]
  predict:
    cmd: python predict.py data model.skops predictions.csv
    deps: [predict.py, data, model.skops]
    outs:
      - predictions.csv:
          cache: false
  evaluate:
    cmd: python evaluate.py predictions.csv metrics.json confusion.png
    deps: [evaluate.py, predictions.csv]
    outs:
      - confusion.png:
          cache: false
    metrics:
      - metrics.json:
          cache: false
"""

BARE_SCRIPTS = {
    "prepare.py": """\
import sys
from pathlib import Path

import numpy as np
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

out = Path(sys.argv[1])
out.mkdir(parents=True, exist_ok=True)
digits = load_digits()
x_train, x_test, y_train, y_test = train_test_split(
    digits.data, digits.target, test_size=0.25, stratify=digits.target, random_state=0
)
for name, array in [
    ("x_train", x_train), ("x_test", x_test), ("y_train", y_train), ("y_test", y_test)
]:
    np.save(out / f"{name}.npy", array)
""",
    "train.py": """\
import sys

import numpy as np
import skops.io
from sklearn.linear_model import LogisticRegression

data, model_path = sys.argv[1:]
x = np.load(f"{data}/x_train.npy") / 16
y = np.load(f"{data}/y_train.npy")
model = LogisticRegression(C=1.0, max_iter=1000, random_state=0).fit(x, y)
skops.io.dump(model, model_path)
""",
    "predict.py": """\
import sys

import numpy as np
import skops.io

data, model_path, out = sys.argv[1:]
model = skops.io.load(model_path, trusted=skops.io.get_untrusted_types(file=model_path))
x = np.load(f"{data}/x_test.npy") / 16
y = np.load(f"{data}/y_test.npy")
proba = model.predict_proba(x)
table = np.column_stack([y, proba.argmax(axis=1), proba])
header = "actual,predicted," + ",".join(f"proba_{c}" for c in model.classes_)
np.savetxt(out, table, delimiter=",", header=header, comments="", fmt="%.17g")
""",
    "evaluate.py": """\
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from sklearn.metrics import confusion_matrix

predictions, metrics_path, plot_path = sys.argv[1:]
table = np.loadtxt(predictions, delimiter=",", skiprows=1)
actual, predicted = table[:, 0].astype(int), table[:, 1].astype(int)
counts = confusion_matrix(actual, predicted)
figure, ax = plt.subplots(figsize=(7, 6))
sns.heatmap(counts, annot=True, fmt="d", cmap="Blues", ax=ax)
ax.set_xlabel("Prediction")
ax.set_ylabel("Label")
figure.savefig(plot_path, dpi=100)
with open(metrics_path, "w") as file:
    json.dump({"accuracy": float(np.mean(actual == predicted))}, file, indent=2)
""",
}


def environment() -> dict[str, str]:
    """This environment with the venv's bin first on PATH and DVC analytics off."""
    env = dict(os.environ)
    venv_bin = str(Path(sys.executable).parent)  # not resolved: keep the venv's link
    env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env["DVC_NO_ANALYTICS"] = "1"
    return env


ENV = environment()


def run(command: Sequence[str], cwd: Path) -> tuple[float, str]:
    """Run a command; return its wall-clock seconds and its output. Fail loudly."""
    start = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=ENV, capture_output=True, text=True, check=False)
    seconds = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(
            f"failed ({done.returncode}) in {cwd}: {shlex.join(command)}\n"
            f"{done.stdout}\n{done.stderr}"
        )
    return seconds, done.stdout + done.stderr


def copy_project(repo: Path) -> None:
    """stages/, src/ and the pipeline's files from the working tree, without caches."""
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    shutil.copytree(PROJECT / "stages", repo / "stages", ignore=ignore)
    shutil.copytree(PROJECT / "src", repo / "src", ignore=ignore)
    for name in PROJECT_FILES:
        source = PROJECT / name
        if source.exists():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, repo / name)


def write_bare(repo: Path) -> None:
    (repo / "dvc.yaml").write_text(BARE_DVC_YAML)
    for name, text in BARE_SCRIPTS.items():
        (repo / name).write_text(text)


def stages_of(repo: Path) -> dict[str, dict]:
    return yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]


def _paths(entries: list) -> list[str]:
    """dvc.yaml lists paths as strings or as one-key mappings to their options."""
    return [entry if isinstance(entry, str) else next(iter(entry)) for entry in entries]


def outs_of(stage: dict) -> list[str]:
    return _paths([*stage.get("outs", []), *stage.get("metrics", []), *stage.get("plots", [])])


def upstream_of(stages: dict[str, dict]) -> dict[str, set[str]]:
    """For each stage, the stages whose outputs it depends on (directly)."""

    def overlaps(dep: str, out: str) -> bool:
        return dep == out or dep.startswith(out + "/") or out.startswith(dep + "/")

    return {
        name: {
            other
            for other, producer in stages.items()
            if other != name
            and any(
                overlaps(d, o) for d in _paths(stage.get("deps", [])) for o in outs_of(producer)
            )
        }
        for name, stage in stages.items()
    }


def with_ancestors(stages: dict[str, dict], targets: Sequence[str]) -> list[str]:
    """The targets and every stage they depend on, in an order that runs them; all
    stages when there are no targets."""
    graph = upstream_of(stages)
    order = list(TopologicalSorter(graph).static_order())
    if not targets:
        return order
    wanted, todo = set(), list(targets)
    while todo:
        name = todo.pop()
        if name not in wanted:
            wanted.add(name)
            todo.extend(graph[name])
    return [name for name in order if name in wanted]


@dataclass(frozen=True)
class Pipeline:
    label: str
    fill: Callable[[Path], None]  # writes the pipeline into an empty directory
    targets: tuple[str, ...] = ()  # of dvc repro; none: the whole pipeline


def make_repo(root: Path, fill: Callable[[Path], None]) -> Path:
    """A fresh git + DVC repository holding one pipeline, committed, never run."""
    repo = root / "repo"
    repo.mkdir()
    run(["git", "init", "-q"], repo)
    run(["dvc", "init", "-q"], repo)
    fill(repo)  # may overwrite .dvc/config with the project's
    run(["dvc", "config", "core.analytics", "false"], repo)
    # DVC keeps per-repo state in a "site cache" (/var/tmp/dvc by default): keep
    # it in this run's temporary directory, so each run starts cold and leaves
    # nothing behind
    run(["dvc", "config", "core.site_cache_dir", str(root / "site_cache")], repo)
    every_out = [out for stage in stages_of(repo).values() for out in outs_of(stage)]
    for path in [repo / "dvc.lock", *(repo / out for out in every_out)]:  # none expected
        if path.is_dir():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
    run(["git", "add", "-A"], repo)
    identity = ["-c", "user.name=bench", "-c", "user.email=bench@localhost"]
    run(["git", *identity, "commit", "-q", "-m", "pipeline"], repo)
    return repo


def time_repro(pipeline: Pipeline) -> tuple[float, float]:
    """(cold, no-op) seconds of ``dvc repro [targets]`` in a fresh repository."""
    command = ["dvc", "repro", *pipeline.targets]
    with tempfile.TemporaryDirectory(prefix="bench_repro_") as tmp:
        repo = make_repo(Path(tmp), pipeline.fill)
        cache = repo / ".dvc" / "cache"
        assert not any(p.is_file() for p in cache.rglob("*")), "DVC cache not empty"
        cold, _ = run(command, repo)
        stages = stages_of(repo)
        expected = [o for s in with_ancestors(stages, pipeline.targets) for o in outs_of(stages[s])]
        missing = [out for out in expected if not (repo / out).exists()]
        assert not missing, f"{shlex.join(command)} did not write {missing}"
        noop, output = run(command, repo)
        assert "Running stage" not in output, f"the no-op repro ran a stage:\n{output}"
    return cold, noop


def time_stages(fill: Callable[[Path], None]) -> dict[str, float]:
    """Seconds of each stage's command run directly, in dependency order, in a fresh copy."""
    with tempfile.TemporaryDirectory(prefix="bench_stages_") as tmp:
        repo = Path(tmp)
        fill(repo)
        stages = stages_of(repo)
        return {
            name: run(shlex.split(stages[name]["cmd"]), repo)[0]
            for name in with_ancestors(stages, ())
        }


def describe(values: list[float]) -> str:
    runs = ", ".join(f"{v:.2f}" for v in values)
    return f"{statistics.median(values):7.2f}  ({runs})"


def print_stage_table(per_stage: dict[str, list[dict[str, float]]], core: list[str]) -> None:
    """Median seconds of each stage run directly, ours beside bare's."""
    medians = {
        label: {name: statistics.median(run_[name] for run_ in runs) for name in runs[0]}
        for label, runs in per_stage.items()
    }
    ours, bare = medians["ours"], medians["bare"]
    print("\nper stage, its command run directly without DVC (median seconds):")
    print(f"{'stage':<24} {'ours':>7} {'bare':>7} {'ours/bare':>10}")
    for name, seconds in ours.items():
        if name in bare:
            print(f"{name:<24} {seconds:7.2f} {bare[name]:7.2f} {seconds / bare[name]:9.2f}x")
        else:
            print(f"{name:<24} {seconds:7.2f} {'-':>7}")
    core_sum, bare_sum = sum(ours[n] for n in core), sum(bare.values())
    print(f"{'sum, core four':<24} {core_sum:7.2f} {bare_sum:7.2f} {core_sum / bare_sum:9.2f}x")
    if len(core) < len(ours):
        print(f"{'sum, all stages':<24} {sum(ours.values()):7.2f}")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeats", type=int, default=3, help="runs of each; median")
    parser.add_argument("--no-stages", action="store_true", help="skip the per-stage breakdown")
    parser.add_argument(
        "--core",
        default="evaluate",
        help="the stage of ours whose ancestry matches the bare pipeline (default: evaluate)",
    )
    args = parser.parse_args()

    project_stages = stages_of(PROJECT)
    core = with_ancestors(project_stages, (args.core,))
    pipelines = [Pipeline("ours", copy_project)]
    if len(core) < len(project_stages):
        pipelines.append(Pipeline("ours, core four", copy_project, (args.core,)))
    pipelines.append(Pipeline("bare", write_bare))

    _, dvc_version = run(["dvc", "--version"], PROJECT)
    print(
        f"dvc {dvc_version.strip()}, python {sys.version.split()[0]} "
        f"({sys.executable}); {os.cpu_count()} cores, load average "
        f"{os.getloadavg()[0]:.2f} (other work skews the timings); "
        f"median of {args.repeats}"
    )
    print(
        f"ours: copied from {PROJECT} (working tree), {len(project_stages)} stages: "
        f"{', '.join(with_ancestors(project_stages, ()))}"
    )
    if len(pipelines) == 3:
        print(f"ours, core four: `dvc repro {args.core}` in such a copy: {', '.join(core)}")
    print("bare: four stages written by this script: prepare, train, predict, evaluate")

    cold: dict[str, list[float]] = {p.label: [] for p in pipelines}
    noop: dict[str, list[float]] = {p.label: [] for p in pipelines}
    for _ in range(args.repeats):  # interleaved, so drift hits all alike
        for pipeline in pipelines:
            cold_s, noop_s = time_repro(pipeline)
            cold[pipeline.label].append(cold_s)
            noop[pipeline.label].append(noop_s)
    median_cold = {label: statistics.median(v) for label, v in cold.items()}
    median_noop = {label: statistics.median(v) for label, v in noop.items()}

    print(f"\n{'dvc repro [s]':<24} {'cold':>7}  {'(runs)':<23} {'no-op':>7}  (runs)")
    for label in cold:
        print(f"{label:<24} {describe(cold[label]):<32} {describe(noop[label])}")
    for label in cold:
        if label != "bare":
            print(
                f"{label + ' / bare':<24} {median_cold[label] / median_cold['bare']:7.2f}x "
                f"{'':<24} {median_noop[label] / median_noop['bare']:7.2f}x"
            )

    if not args.no_stages:
        per_stage = {
            "ours": [time_stages(copy_project) for _ in range(args.repeats)],
            "bare": [time_stages(write_bare) for _ in range(args.repeats)],
        }
        print_stage_table(per_stage, core)
        print("DVC's own share, median cold repro - median sum of its stages run directly:")
        sums = {
            label: statistics.median(sum(run_[n] for n in names) for run_ in per_stage[who])
            for label, who, names in (
                ("ours", "ours", list(per_stage["ours"][0])),
                ("ours, core four", "ours", core),
                ("bare", "bare", list(per_stage["bare"][0])),
            )
        }
        for label in cold:
            print(f"   {label:<24} {median_cold[label] - sums[label]:6.2f} s")

    print(f"\nload average at the end: {os.getloadavg()[0]:.2f}")
    print("targets:")
    like_for_like = pipelines[-2].label  # "ours, core four", or "ours" if that is all
    cold_ratio = median_cold[like_for_like] / median_cold["bare"]
    verdict = "PASS" if cold_ratio <= COLD_TARGET else "MISS"
    print(
        f"   cold: {like_for_like} {median_cold[like_for_like]:.2f} s = {cold_ratio:.2f}x "
        f"bare {median_cold['bare']:.2f} s, target <= {COLD_TARGET:g}x: {verdict}"
    )
    if like_for_like != "ours":
        print(
            f"         (the whole pipeline, {len(project_stages)} stages against 4: "
            f"{median_cold['ours']:.2f} s = {median_cold['ours'] / median_cold['bare']:.2f}x)"
        )
    verdict = "PASS" if median_noop["ours"] < NOOP_TARGET else "MISS"
    print(
        f"   no-op: ours {median_noop['ours']:.2f} s "
        f"(bare {median_noop['bare']:.2f} s), target < {NOOP_TARGET:g} s: {verdict}"
    )


if __name__ == "__main__":
    main()
