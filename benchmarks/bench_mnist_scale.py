"""Every stage at MNIST scale: wall time and peak memory, per stage and per model.

Writes a synthetic MNIST-format set (``mnist_like.py``: 60,000 + 10,000 images of 28x28
with real class structure, gzip-compressed) to a temporary directory, copies the
project beside it into a fresh git repository, points params at the files
(``data.source=idx``, ``split.method=source``, ``attribution.patch=2``, as the README's
"Your own MNIST-format data" section does), and runs the real ``dvc repro``: once with
the default model, then once per other model (prepare is then cached).

Each stage's time and peak RSS are measured inside that ``dvc repro``: the stage
commands say ``python``, and a stand-in ``python`` first on PATH runs the real
interpreter as its child and records its wall time and ``ru_maxrss`` (os.wait4).

    python benchmarks/bench_mnist_scale.py [--models logistic_regression,mlp,...]
        [--train 60000] [--test 10000] [--keep DIRECTORY] [--figures DIRECTORY]

A model may carry its own settings: ``--models svc:train.max_samples=5000``.

Models whose defaults do not fit this machine are run with the bounded settings in
``OVERRIDES``, which the table prints beside them.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import mnist_like  # noqa: E402

from digitwise.data import idx  # noqa: E402

PROJECT_FILES = [
    "dvc.yaml",
    "params.yaml",
    ".dvc/config",
    ".dvcignore",
    "stages",
    "src",
    "data/raw/README.md",
]
MNIST_PARAMS = {
    "data.source": "idx",
    "split.method": "source",
    "attribution.patch": 2,
}
PIXEL_FIGURES = (
    "separability_maps.png",
    "attribution_class_means.png",
    "attribution_examples.png",
    "confusion_examples.png",
    "steps_confusion.png",
)
MODELS = ["logistic_regression", "mlp", "svc", "random_forest", "hist_gradient_boosting", "knn"]
# Settings that bound a model whose defaults would not finish here in reasonable time.
OVERRIDES = {
    "mlp": {"train.mlp.max_iter": 20},  # 500 epochs: see the per-epoch time
    "svc": {"train.max_samples": 10_000},  # O(n^2) fit: 60,000 samples is hours
}
SHIM = """#!{python}
import json, os, subprocess, sys, time
start = time.perf_counter()
child = subprocess.Popen([{python!r}, *sys.argv[1:]])
_, status, usage = os.wait4(child.pid, 0)
stage = sys.argv[2].removeprefix("stages.") if sys.argv[1:2] == ["-m"] else " ".join(sys.argv[1:])
with open(os.environ["STAGE_LOG"], "a") as log:
    log.write(json.dumps({{"stage": stage, "seconds": time.perf_counter() - start,
                          "peak_mib": usage.ru_maxrss / 1024}}) + "\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def set_params(path: Path, changes: dict) -> None:
    values = yaml.safe_load(path.read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split(".")
        node = values
        for key in parents:
            node = node[key]
        node[last] = value
    path.write_text(yaml.safe_dump(values, sort_keys=False))


def make_project(work: Path, data: Path) -> tuple[Path, dict]:
    project = work / "project"
    for name in PROJECT_FILES:
        source = ROOT / name
        target = project / name
        if source.is_dir():
            shutil.copytree(source, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    shim = work / "bin" / "python"
    shim.parent.mkdir()
    shim.write_text(SHIM.format(python=sys.executable))
    shim.chmod(0o755)
    env = {
        **os.environ,
        "PATH": f"{shim.parent}{os.pathsep}{Path(sys.executable).parent}{os.pathsep}"
        + os.environ["PATH"],
        "DVC_NO_ANALYTICS": "1",
        "STAGE_LOG": str(work / "stages.jsonl"),
        "GIT_AUTHOR_NAME": "bench",
        "GIT_AUTHOR_EMAIL": "bench@example.com",
        "GIT_COMMITTER_NAME": "bench",
        "GIT_COMMITTER_EMAIL": "bench@example.com",
    }
    set_params(project / "params.yaml", {**MNIST_PARAMS, "data.path": str(data)})
    for command in (["git", "init", "-q", "-b", "main"], ["git", "add", "-A"]):
        subprocess.run(command, cwd=project, env=env, check=True)
    subprocess.run(["git", "commit", "-q", "-m", "project"], cwd=project, env=env, check=True)
    return project, env


def repro(project: Path, env: dict, log: Path) -> tuple[float, list[dict], str]:
    log.write_text("")
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "dvc", "repro"], cwd=project, env=env, capture_output=True, text=True
    )
    seconds = time.perf_counter() - start
    stages = [json.loads(line) for line in log.read_text().splitlines()]
    error = "" if result.returncode == 0 else (result.stderr.strip().splitlines() or ["?"])[-1]
    return seconds, stages, error


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS))
    parser.add_argument("--train", type=int, default=60_000)
    parser.add_argument("--test", type=int, default=10_000)
    parser.add_argument("--keep", help="work in this directory and keep it")
    parser.add_argument(
        "--figures", help="copy each model's pixel-level figures into DIRECTORY/<model>/"
    )
    args = parser.parse_args()
    work = Path(args.keep or tempfile.mkdtemp(prefix="mnist-scale-"))
    work.mkdir(parents=True, exist_ok=True)
    data = work / "mnist"
    mnist_like.write_set(data, n_train=args.train, n_test=args.test, compress=True)
    reads = []
    for _ in range(3):
        start = time.perf_counter()
        for part in ("train", "test"):
            idx.read_part(data, part)
        reads.append(time.perf_counter() - start)
    print(
        f"read + validate {args.train + args.test:,} IDX images (gzip): "
        f"median {sorted(reads)[1]:.2f} s of 3"
    )
    project, env = make_project(work, data)

    rows = []
    for spec in args.models.split(","):
        # "svc" or, to try other bounds, "svc:train.max_samples=5000:train.svc.C=1"
        model, *settings = spec.split(":")
        extra = {key: yaml.safe_load(value) for key, value in (s.split("=") for s in settings)}
        changes = {"train.model": model, **(extra or OVERRIDES.get(model, {}))}
        set_params(project / "params.yaml", changes)
        seconds, stages, error = repro(project, env, work / "stages.jsonl")
        metrics_file = project / "reports" / "metrics.json"
        accuracy = json.loads(metrics_file.read_text())["accuracy"] if not error else None
        report = project / "reports" / "report.html"
        size = report.stat().st_size / 1e6 if report.exists() else float("nan")
        rows.append((model, changes, seconds, stages, accuracy, size, error))
        if args.figures and not error:
            target = Path(args.figures) / model
            target.mkdir(parents=True, exist_ok=True)
            for name in PIXEL_FIGURES:
                shutil.copy2(project / "reports" / "figures" / name, target / name)
        settings = ", ".join(f"{k}={v}" for k, v in changes.items() if k != "train.model")
        print(
            f"\n== {model}{f' ({settings})' if settings else ''}: dvc repro {seconds:.1f} s, "
            f"held-out accuracy {accuracy}, report {size:.2f} MB {error}"
        )
        for stage in stages:
            print(
                f"   {stage['stage']:<14} {stage['seconds']:7.1f} s  {stage['peak_mib']:7.0f} MiB"
            )
        sys.stdout.flush()
        # the next model starts from the defaults again
        reset = yaml.safe_load((ROOT / "params.yaml").read_text())
        values = yaml.safe_load((project / "params.yaml").read_text())
        values["train"] = reset["train"]
        (project / "params.yaml").write_text(yaml.safe_dump(values, sort_keys=False))

    names = list(yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"])
    print("\n| model | settings | " + " | ".join(names) + " | dvc repro | peak RSS | accuracy |")
    print("|---" * (len(names) + 5) + "|")
    for model, changes, seconds, stages, accuracy, _, error in rows:
        settings = ", ".join(f"`{k}={v}`" for k, v in changes.items() if k != "train.model")
        timed = {s["stage"]: s for s in stages}
        cells = " | ".join(
            f"{timed[n]['seconds']:.1f} s" if n in timed else "cached" for n in names
        )
        peak = max((s["peak_mib"] for s in stages), default=0)
        result = f"{accuracy:.4f}" if accuracy is not None else f"failed: {error}"
        print(
            f"| {model} | {settings or 'defaults'} | {cells} | {seconds:.0f} s "
            f"| {peak:.0f} MiB | {result} |"
        )
    figures = sorted((project / "reports" / "figures").glob("*.png"))
    from PIL import Image

    for figure in figures:
        with Image.open(figure) as image:
            print(f"{figure.name}: {image.size[0]} x {image.size[1]} px")
    if not args.keep:
        shutil.rmtree(work)


if __name__ == "__main__":
    main()
