"""Benchmark the whole ``digitwise evaluate`` command against the plain script.

Digitwise is the installed console script, ``digitwise evaluate PREDICTIONS --classes
CLASSES.json --out DIR``: it reads and validates the predictions, computes the
headline metrics, 1,000 bootstrap resamples of the 95% intervals, the confusion
matrices, top confusions, pairwise accuracy and AUC, calibration, draws three heatmaps
and the reliability diagram and writes seven JSON files and four PNGs.

The plain script (``PLAIN_SCRIPT`` below, run as ``python -c``) is what one would
write by hand: ``pandas.read_csv`` (``pd.read_parquet`` for Parquet), the class
names mapped to codes with ``pd.Categorical``, then the scikit-learn calls for the
same headline metrics (accuracy, balanced accuracy, precision/recall/F1 macro and
weighted, MCC, Cohen's kappa, log loss, top-2 accuracy, ``roc_auc_score(multi_class=
"ovo")``, ``confusion_matrix``, per-class ``precision_recall_fscore_support``) and ONE
seaborn heatmap of the confusion matrix saved as PNG (pyplot, Agg). It computes no
bootstrap intervals, no pairwise matrices and two heatmaps fewer: the comparison is
digitwise's whole output against the script's headline metrics, as the issue asks.

The predictions are synthetic and seeded: uniform true classes, standard normal
logits with the true class's logit raised (about 90% of argmaxes right), scaled so
the probabilities are about calibrated, softmax (rows sum to 1), predicted = argmax,
ids 0..n-1. They are written as CSV (floats as Python's repr, with
``digitwise.predictions.schema.to_csv``, in chunks of 10^6 rows) and as Parquet
(pyarrow, string class columns), with the classes.json, under ``--work`` (default
/tmp/bench), where later runs find them.

Each measurement is a fresh process (``subprocess.Popen``), its wall time from the
parent's ``time.perf_counter``, its CPU time and its largest process's peak RSS from
GNU ``/usr/bin/time -f "%e %M %U %S"`` (not ``os.wait4``, whose ``ru_maxrss`` starts
at the parent's own peak: see ``run_child``), and the peak of the summed RSS of all
its processes (digitwise draws its figures in a worker process) sampled from /proc
every 20 ms; the peak reported is the larger of the two. Digitwise and the
script alternate (digitwise, script, digitwise, script, ...) ``--repeats`` times per
case, and the medians are reported: the machine is shared, so single runs are noisy.
The page cache is warmed by reading each file once before its case.

Cases and targets:

- default: 10^5 and 10^6 rows, 10 classes, CSV and Parquet; target: digitwise at
  least 3x faster than the script at 10^6 (bootstrap and all three heatmaps included
  on the digitwise side);
- ``--large``: 10^7 rows, 10 classes, Parquet, digitwise only (``--large-script``
  adds the script); target: peak RSS at most 2x the predictions in memory,
  n x (K float64 probabilities + 3 int64 columns) = 104 bytes a row at K = 10;
- ``--many-classes``: 10^4 rows, 1,000 classes, Parquet and CSV; target: digitwise
  in at most 10 s and 1.5 GB peak RSS. The script runs there too, killed after
  ``--script-timeout`` seconds (``roc_auc_score`` ovo loops over 499,500 pairs).

``--large`` and ``--many-classes`` run only their case, unless ``--sizes`` is given.
The digitwise and script metrics are compared on every case where both ran
(relative difference, target 1e-9), and digitwise's JSON outputs from CSV and from
Parquet of the same predictions are compared byte for byte. Other people edit the
library while benchmarks run: a hash of the package's source, taken at the start and
at the end, says whether the runs all timed one version.

Run from the project root in its virtualenv (the default takes about 5 minutes, plus
half a minute to write its files the first time; ``--large`` writes a 0.9 GB file
once, then takes about a minute at 2 repeats; ``--many-classes`` about 5 minutes, most
of it the two script runs that time out)::

    python benchmarks/bench_evaluate.py
    python benchmarks/bench_evaluate.py --large --repeats 2
    python benchmarks/bench_evaluate.py --many-classes --repeats 3
"""

import argparse
import json
import math
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

GENERATOR_VERSION = 1  # part of the cached file names: bump when synthetic() changes
TRUE_CLASS_BOOST = {10: 3.0, 1000: 4.6}  # added to the true logit: ~90% of argmaxes right
# logits times this: at 10 classes the mean top probability (0.90) then matches the
# accuracy, as a calibrated classifier's would (at 1: 0.59, log loss 0.65 against 0.29)
LOGIT_SCALE = 3.0
CSV_CHUNK_ROWS = 10**6  # schema.to_csv builds the whole text in memory
DEFAULT_SIZES = "1e5,1e6"
LARGE_ROWS = 10**7
MANY_CLASSES = (10**4, 1000)  # (rows, classes)
SPEEDUP_TARGET = 3.0  # script / digitwise at 10^6 rows
LARGE_RSS_TARGET = 2.0  # digitwise peak RSS / the predictions' size in memory
MANY_SECONDS_TARGET = 10.0
MANY_RSS_TARGET = 1.5e9  # bytes
AGREEMENT_RTOL = 1e-9
# digitwise metrics.json key -> the script's key
COMPARED_METRICS = {
    "accuracy": "accuracy",
    "balanced_accuracy": "balanced_accuracy",
    "f1_macro": "f1_macro",
    "matthews_corrcoef": "matthews_corrcoef",
    "cohen_kappa": "cohen_kappa",
    "log_loss": "log_loss",
    "top_2_accuracy": "top_2_accuracy",
    "auc_ovo_m": "auc_ovo",
}
HEADLINE_CHECKED = ("accuracy", "f1_macro", "log_loss", "auc_ovo_m")  # the four

PLAIN_SCRIPT = """\
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns
from sklearn import metrics

predictions, classes_path, out = sys.argv[1:]
classes = json.loads(Path(classes_path).read_text())
if predictions.endswith(".parquet"):
    frame = pd.read_parquet(predictions)
else:
    frame = pd.read_csv(predictions, dtype={"actual": str, "predicted": str})
labels = np.arange(len(classes))
y_true = pd.Categorical(frame["actual"], categories=classes).codes.astype(np.int64)
y_pred = pd.Categorical(frame["predicted"], categories=classes).codes.astype(np.int64)
proba = frame[[f"proba_{name}" for name in classes]].to_numpy()

scores = {
    "accuracy": metrics.accuracy_score(y_true, y_pred),
    "balanced_accuracy": metrics.balanced_accuracy_score(y_true, y_pred),
}
for average in ("macro", "weighted"):
    precision, recall, f1, _ = metrics.precision_recall_fscore_support(
        y_true, y_pred, labels=labels, average=average, zero_division=0
    )
    scores[f"precision_{average}"] = precision
    scores[f"recall_{average}"] = recall
    scores[f"f1_{average}"] = f1
scores["matthews_corrcoef"] = metrics.matthews_corrcoef(y_true, y_pred)
scores["cohen_kappa"] = metrics.cohen_kappa_score(y_true, y_pred)
scores["log_loss"] = metrics.log_loss(y_true, proba, labels=labels)
scores["top_2_accuracy"] = metrics.top_k_accuracy_score(y_true, proba, k=2, labels=labels)
scores["auc_ovo"] = metrics.roc_auc_score(
    y_true, proba, multi_class="ovo", average="macro", labels=labels
)
counts = metrics.confusion_matrix(y_true, y_pred, labels=labels)
per_class = metrics.precision_recall_fscore_support(
    y_true, y_pred, labels=labels, average=None, zero_division=0
)
scores["per_class"] = {
    name: dict(zip(("precision", "recall", "f1", "support"), map(float, values)))
    for name, *values in zip(classes, *per_class)
}
scores = {k: float(v) if np.isscalar(v) else v for k, v in scores.items()}
scores["counts"] = counts.tolist()
Path(out).mkdir(parents=True, exist_ok=True)
Path(out, "metrics.json").write_text(json.dumps(scores, indent=2, sort_keys=True) + "\\n")

figure, ax = plt.subplots(figsize=(8, 7))
sns.heatmap(
    counts, annot=len(classes) <= 40, fmt="d", cmap="Blues",
    xticklabels=classes, yticklabels=classes, ax=ax,
)
ax.set_xlabel("predicted")
ax.set_ylabel("actual")
figure.savefig(Path(out, "confusion.png"), dpi=100)
plt.close(figure)
"""


# --- the synthetic predictions ---------------------------------------------------------


def class_names(n_classes: int) -> tuple[str, ...]:
    """ "0".."9" for 10 classes; class_0000.. for more."""
    if n_classes <= 10:
        return tuple(str(c) for c in range(n_classes))
    return tuple(f"class_{c:04d}" for c in range(n_classes))


def synthetic(n: int, n_classes: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """actual, predicted (int64 class indices, shape (n,)) and proba (n, K) float64,
    rows summing to 1: softmax of scaled normal logits with the true class's raised."""
    rng = np.random.default_rng(seed)
    actual = rng.integers(0, n_classes, size=n, dtype=np.int64)
    proba = rng.standard_normal((n, n_classes))
    proba[np.arange(n), actual] += TRUE_CLASS_BOOST.get(n_classes, 3.0)
    proba *= LOGIT_SCALE
    proba -= proba.max(axis=1, keepdims=True)  # softmax, in place
    np.exp(proba, out=proba)
    proba /= proba.sum(axis=1, keepdims=True)
    predicted = proba.argmax(axis=1).astype(np.int64)
    return actual, predicted, proba


def write_csv(path: Path, classes: tuple[str, ...], actual, predicted, proba) -> None:
    from digitwise.predictions.schema import Predictions, to_csv

    with path.open("w", encoding="utf-8", newline="") as file:
        for start in range(0, len(actual), CSV_CHUNK_ROWS):
            rows = slice(start, start + CSV_CHUNK_ROWS)
            chunk = Predictions(
                sample=np.arange(start, start + len(actual[rows]), dtype=np.int64),
                actual=actual[rows],
                predicted=predicted[rows],
                proba=proba[rows],
                classes=classes,
            )
            text = to_csv(chunk)
            file.write(text if start == 0 else text[text.index("\n") + 1 :])


def write_parquet(path: Path, classes: tuple[str, ...], actual, predicted, proba) -> None:
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = pa.array(classes, type=pa.string())

    def labels(codes: np.ndarray):
        # plain string columns, as a pandas frame of names would be written
        return pa.DictionaryArray.from_arrays(pa.array(codes), names).cast(pa.string())

    columns = {
        "sample": pa.array(np.arange(len(actual), dtype=np.int64)),
        "actual": labels(actual),
        "predicted": labels(predicted),
    }
    for j, name in enumerate(classes):
        columns[f"proba_{name}"] = pa.array(proba[:, j])
    pq.write_table(pa.table(columns), path)


def prepare(work: Path, n: int, n_classes: int, seed: int, formats: list[str]) -> dict[str, Path]:
    """The cached predictions files ({format: path}) and classes.json, made if missing."""
    work.mkdir(parents=True, exist_ok=True)
    classes = class_names(n_classes)
    classes_path = work / f"classes-k{n_classes}.json"
    if not classes_path.exists():
        classes_path.write_text(json.dumps(list(classes)) + "\n")
    stem = f"predictions-n{n}-k{n_classes}-seed{seed}-v{GENERATOR_VERSION}"
    paths = {fmt: work / f"{stem}.{fmt}" for fmt in formats}
    missing = [fmt for fmt, path in paths.items() if not path.exists()]
    if missing:
        start = time.perf_counter()
        actual, predicted, proba = synthetic(n, n_classes, seed)
        for fmt in missing:
            temporary = paths[fmt].with_name(paths[fmt].name + ".partial")
            writer = write_csv if fmt == "csv" else write_parquet
            writer(temporary, classes, actual, predicted, proba)
            temporary.replace(paths[fmt])  # an interrupted run leaves no bad cache
        print(
            f"generated n={n:,} K={n_classes} ({', '.join(missing)}; accuracy "
            f"{np.mean(actual == predicted):.4f}) in {time.perf_counter() - start:.1f} s",
            flush=True,
        )
        del actual, predicted, proba
    paths["classes"] = classes_path
    return paths


# --- running and measuring one process --------------------------------------------------


@dataclass
class Run:
    seconds: float  # wall clock, seen by the parent
    cpu_seconds: float  # user + system of the command and the processes it waited for
    largest_rss: int  # bytes: GNU time's %M, the peak of the largest single process
    tree_rss: int  # bytes: the peak of the summed RSS of all its processes, sampled
    processes: int  # the most processes seen at once
    timed_out: bool = False

    @property
    def peak_rss(self) -> int:
        """The peak memory of the command: all its processes together."""
        return max(self.largest_rss, self.tree_rss)


def environment() -> dict[str, str]:
    env = dict(os.environ)
    env["PATH"] = str(Path(sys.executable).parent) + os.pathsep + env.get("PATH", "")
    env["DVC_NO_ANALYTICS"] = "1"
    return env


ENV = environment()
DIGITWISE = str(Path(sys.executable).parent / "digitwise")
TIME = "/usr/bin/time"  # GNU time: the child's own peak RSS (see run_child)
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def descendants(root: int) -> list[int]:
    """The processes below ``root`` (not root itself), from the parents in /proc."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as file:
                stat = file.read()
        except OSError:
            continue
        parent = int(stat[stat.rindex(b")") + 2 :].split()[1])  # after "pid (comm) state"
        children.setdefault(parent, []).append(int(name))
    found, pending = [], list(children.get(root, []))
    while pending:
        pid = pending.pop()
        found.append(pid)
        pending += children.get(pid, [])
    return found


def resident_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as file:
            return int(file.read().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0  # gone


class TreeSampler(threading.Thread):
    """The peak of the summed RSS of a process tree, every ``interval`` s.

    ``digitwise evaluate`` draws in a worker process, and GNU time's %M (like
    ``ru_maxrss``) is the peak of the largest single process, not of their sum. The
    tree is listed again every ``rescan`` s (a /proc scan costs ~2 ms); RSS counts the
    shared libraries once per process, so the sum errs on the high side.
    """

    def __init__(self, root: int, interval: float = 0.02, rescan: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.root, self.interval, self.rescan = root, interval, rescan
        self.peak = 0
        self.processes = 0
        self.done = threading.Event()

    def run(self) -> None:
        pids: list[int] = []
        next_scan = 0.0
        while not self.done.is_set():
            now = time.monotonic()
            if now >= next_scan:
                pids = descendants(self.root)
                next_scan = now + self.rescan
            sizes = [resident_bytes(pid) for pid in pids]
            self.peak = max(self.peak, sum(sizes))
            self.processes = max(self.processes, sum(1 for size in sizes if size))
            self.done.wait(self.interval)

    def stop(self) -> None:
        self.done.set()
        self.join()


def run_child(command: list[str], log: Path, timeout: float | None = None) -> Run:
    """Run one process to its end (or kill it after ``timeout`` s); its time and usage.

    The largest process's peak RSS comes from ``/usr/bin/time -f %M``, not from this
    process's ``os.wait4``: Linux carries the spawning process's high-water RSS into a
    child's ``ru_maxrss`` across exec (vfork shares its memory), so a child of a parent
    that once held 1.3 GB reports at least 1.3 GB, whatever it used itself. ``time`` is
    a small process, so its child's ``%M`` is the child's own. The sum over the
    command's processes comes from ``TreeSampler``.
    """
    killed = threading.Event()
    usage_file = log.with_suffix(".time")
    usage_file.unlink(missing_ok=True)
    wrapped = [TIME, "-o", str(usage_file), "-f", "%e %M %U %S", *command]
    with log.open("wb") as output:
        start = time.perf_counter()
        child = subprocess.Popen(
            wrapped, stdout=output, stderr=subprocess.STDOUT, env=ENV, start_new_session=True
        )
        sampler = TreeSampler(child.pid)
        sampler.start()

        def kill() -> None:
            killed.set()
            os.killpg(child.pid, signal.SIGKILL)  # time and the command it runs

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer:
            timer.start()
        try:
            child.wait()
        finally:
            if timer:
                timer.cancel()
            sampler.stop()
        seconds = time.perf_counter() - start
    if killed.is_set():
        return Run(seconds, math.nan, 0, sampler.peak, sampler.processes, timed_out=True)
    if child.returncode != 0:
        tail = "\n".join(log.read_text(errors="replace").splitlines()[-15:])
        raise RuntimeError(f"{command[:2]} exited with {child.returncode}:\n{tail}")
    _, peak_kib, user, system = usage_file.read_text().split()[-4:]
    return Run(
        seconds=seconds,
        cpu_seconds=float(user) + float(system),
        largest_rss=int(peak_kib) * 1024,
        tree_rss=sampler.peak,
        processes=sampler.processes,
    )


def warm(path: Path) -> None:
    """Read a file once so every timed run finds it in the page cache."""
    with path.open("rb") as file:
        while file.read(2**24):
            pass


# --- one case: digitwise and the script, alternated -----------------------------------


@dataclass
class Case:
    n: int
    n_classes: int
    fmt: str
    script: bool = True
    runs: dict[str, list[Run]] = field(default_factory=lambda: {"digitwise": [], "script": []})
    out: dict[str, Path] = field(default_factory=dict)
    file_bytes: int = 0

    @property
    def label(self) -> str:
        return f"n{self.n}-k{self.n_classes}-{self.fmt}"

    def median(self, side: str, what: str = "seconds") -> float | None:
        runs = [run for run in self.runs[side] if not run.timed_out]
        return statistics.median(getattr(run, what) for run in runs) if runs else None

    def peak(self, side: str, what: str = "peak_rss") -> int | None:
        runs = [run for run in self.runs[side] if not run.timed_out]
        return max(getattr(run, what) for run in runs) if runs else None

    def timed_out(self, side: str) -> Run | None:
        return next((run for run in self.runs[side] if run.timed_out), None)


def measure(case: Case, paths: dict[str, Path], work: Path, args: argparse.Namespace) -> None:
    predictions, classes = paths[case.fmt], paths["classes"]
    case.file_bytes = predictions.stat().st_size
    warm(predictions)
    digitwise = [DIGITWISE]
    commands = {
        "digitwise": lambda out: [
            *digitwise,
            "evaluate",
            str(predictions),
            "--classes",
            str(classes),
            "--out",
            str(out),
        ],
        "script": lambda out: [
            sys.executable,
            "-c",
            PLAIN_SCRIPT,
            str(predictions),
            str(classes),
            str(out),
        ],
    }
    sides = ["digitwise", "script"] if case.script else ["digitwise"]
    for side in sides:
        case.out[side] = work / "out" / case.label / side
        case.out[side].mkdir(parents=True, exist_ok=True)
    for repeat in range(args.repeats):
        for side in sides:
            if case.timed_out(side):
                continue  # once killed, not again: each try costs the whole timeout
            out = case.out[side]
            timeout = args.script_timeout if side == "script" else None
            run = run_child(commands[side](out), out.parent / f"{side}.log", timeout)
            case.runs[side].append(run)
            if run.timed_out:
                usage = f"peak RSS {run.tree_rss / 1e6:,.0f} MB until killed"
            else:
                usage = (
                    f"peak RSS {run.peak_rss / 1e6:,.0f} MB (largest process "
                    f"{run.largest_rss / 1e6:,.0f} MB, processes: {run.processes}), "
                    f"CPU {run.cpu_seconds:.2f} s"
                )
            state = (
                f"timed out after {run.seconds:.0f} s" if run.timed_out else f"{run.seconds:.2f} s"
            )
            print(
                f"  {case.label} {side:<9} run {repeat + 1}/{args.repeats}: {state}, {usage}",
                flush=True,
            )


# --- checks ---------------------------------------------------------------------------


def relative_difference(a: float, b: float) -> float:
    if a == b:
        return 0.0
    return abs(a - b) / max(abs(a), abs(b))


def check_agreement(case: Case) -> list[str]:
    """Lines comparing digitwise's metrics.json with the script's scikit-learn values."""
    if not case.runs["script"] or case.timed_out("script"):
        return [f"{case.label}: no script result to compare with"]
    ours = json.loads((case.out["digitwise"] / "metrics.json").read_text())
    theirs = json.loads((case.out["script"] / "metrics.json").read_text())
    lines, worst = [], 0.0
    for our_key, their_key in COMPARED_METRICS.items():
        difference = relative_difference(ours[our_key], theirs[their_key])
        worst = max(worst, difference)
        flag = "" if difference <= AGREEMENT_RTOL else "  MISMATCH"
        if flag or our_key in HEADLINE_CHECKED:
            lines.append(
                f"{case.label}: {our_key:<18} digitwise {ours[our_key]!r:<22} sklearn "
                f"{theirs[their_key]!r:<22} rel. diff {difference:.1e}{flag}"
            )
    rows = json.loads((case.out["digitwise"] / "per_class.json").read_text())
    per_class = [
        relative_difference(row[score], theirs["per_class"][row["class"]][score])
        for row in rows
        for score in ("precision", "recall", "f1", "support")
    ]
    confusion = json.loads((case.out["digitwise"] / "confusion.json").read_text())
    same_counts = confusion["counts"] == theirs["counts"]
    lines.append(
        f"{case.label}: all {len(COMPARED_METRICS)} headline metrics, worst rel. diff "
        f"{worst:.1e}; per-class scores worst {max(per_class):.1e}; confusion counts "
        f"{'equal' if same_counts else 'DIFFER'}"
    )
    return lines


def check_formats(cases: list[Case]) -> list[str]:
    """Digitwise's JSON outputs from CSV and from Parquet of the same rows: the same bytes?"""
    lines = []
    by_size: dict[tuple[int, int], dict[str, Case]] = {}
    for case in cases:
        by_size.setdefault((case.n, case.n_classes), {})[case.fmt] = case
    for (n, n_classes), formats in by_size.items():
        if len(formats) < 2:
            continue
        dirs = [formats[fmt].out["digitwise"] for fmt in ("csv", "parquet")]
        names = sorted(path.name for path in dirs[0].glob("*.json"))
        differ = [
            name for name in names if (dirs[0] / name).read_bytes() != (dirs[1] / name).read_bytes()
        ]
        lines.append(
            f"n={n:,} K={n_classes}: digitwise JSON outputs from CSV and Parquet: "
            + (f"DIFFER in {', '.join(differ)}" if differ else f"identical ({len(names)} files)")
        )
    return lines


# --- the report -----------------------------------------------------------------------


def fmt_seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def fmt_mb(value: float | None) -> str:
    return "-" if value is None else f"{value / 1e6:,.0f} MB"


def script_cell(case: Case, value: str) -> str:
    if not case.script:
        return "not run"
    run = case.timed_out("script")
    return f"timed out after {run.seconds:.0f} s" if run else value


def table(cases: list[Case]) -> list[str]:
    lines = [
        "| rows | classes | format | file | digitwise median [s] | script median [s] "
        "| script / digitwise | digitwise peak RSS | script peak RSS |",
        "|---:|---:|:---|---:|---:|---:|---:|---:|---:|",
    ]
    for case in cases:
        ours, theirs = case.median("digitwise"), case.median("script")
        ratio = f"{theirs / ours:.1f}x" if ours and theirs else "-"
        lines.append(
            f"| {case.n:,} | {case.n_classes:,} | {case.fmt} | {fmt_mb(case.file_bytes)} "
            f"| {fmt_seconds(ours)} | {script_cell(case, fmt_seconds(theirs))} "
            f"| {script_cell(case, ratio)} | {fmt_mb(case.peak('digitwise'))} "
            f"| {script_cell(case, fmt_mb(case.peak('script')))} |"
        )
    return lines


def cpu_table(cases: list[Case]) -> list[str]:
    lines = [
        "| rows | classes | format | digitwise CPU median [s] | script CPU median [s] "
        "| digitwise largest process | script largest process | digitwise processes "
        "| digitwise runs [s] | script runs [s] |",
        "|---:|---:|:---|---:|---:|---:|---:|---:|:---|:---|",
    ]
    for case in cases:
        runs = {
            side: ", ".join(
                f">{run.seconds:.0f}" if run.timed_out else f"{run.seconds:.2f}"
                for run in case.runs[side]
            )
            or "-"
            for side in case.runs
        }
        processes = case.peak("digitwise", "processes")
        lines.append(
            f"| {case.n:,} | {case.n_classes:,} | {case.fmt} "
            f"| {fmt_seconds(case.median('digitwise', 'cpu_seconds'))} "
            f"| {script_cell(case, fmt_seconds(case.median('script', 'cpu_seconds')))} "
            f"| {fmt_mb(case.peak('digitwise', 'largest_rss'))} "
            f"| {script_cell(case, fmt_mb(case.peak('script', 'largest_rss')))} "
            f"| {processes if processes is not None else '-'} "
            f"| {runs['digitwise']} | {runs['script']} |"
        )
    return lines


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def targets(cases: list[Case]) -> list[str]:
    lines = []
    for case in cases:
        ours, theirs = case.median("digitwise"), case.median("script")
        peak = case.peak("digitwise")
        if case.n == 10**6 and case.n_classes == 10 and ours and theirs:
            lines.append(
                f"- n=10^6 {case.fmt}: script / digitwise {theirs / ours:.2f}x, target >= "
                f"{SPEEDUP_TARGET:g}x: {verdict(theirs / ours >= SPEEDUP_TARGET)}"
            )
        if case.n == LARGE_ROWS and peak:
            in_memory = case.n * 8 * (case.n_classes + 3)
            lines.append(
                f"- n=10^7 {case.fmt}: digitwise peak RSS {fmt_mb(peak)} = "
                f"{peak / in_memory:.2f}x the predictions' {fmt_mb(in_memory)} in memory "
                f"(n x {8 * (case.n_classes + 3)} bytes), target <= {LARGE_RSS_TARGET:g}x: "
                f"{verdict(peak <= LARGE_RSS_TARGET * in_memory)}"
            )
        if (case.n, case.n_classes) == MANY_CLASSES and ours and peak:
            ok = ours <= MANY_SECONDS_TARGET and peak <= MANY_RSS_TARGET
            lines.append(
                f"- {case.n_classes:,} classes {case.fmt}: digitwise median {ours:.2f} s "
                f"(target <= {MANY_SECONDS_TARGET:g} s), peak RSS {fmt_mb(peak)} (target <= "
                f"{fmt_mb(MANY_RSS_TARGET)}): {verdict(ok)}"
            )
    return lines


def parse_sizes(text: str) -> list[int]:
    sizes = [int(float(part)) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < 10:
        raise argparse.ArgumentTypeError(f"sizes must be >= 10; got {text!r}")
    return sizes


def source_fingerprint() -> str:
    """A hash of the digitwise package's Python files, as the console script imports them:
    other people edit the library while benchmarks run, and a run across an edit times two
    versions."""
    import hashlib
    import importlib.util

    package = Path(importlib.util.find_spec("digitwise").origin).parent
    digest = hashlib.sha256()
    files = sorted(package.rglob("*.py"))
    for path in files:
        digest.update(str(path.relative_to(package)).encode() + b"\0" + path.read_bytes())
    return f"{digest.hexdigest()[:12]} ({len(files)} files under {package})"


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=None,
        help=f"rows of the 10-class cases, comma-separated (default {DEFAULT_SIZES}; "
        "none with --large or --many-classes)",
    )
    parser.add_argument("--formats", default="csv,parquet", help="of the --sizes cases")
    parser.add_argument("--repeats", type=int, default=5, help="median of this many, each side")
    parser.add_argument("--large", action="store_true", help="10^7 rows, Parquet, digitwise")
    parser.add_argument("--large-script", action="store_true", help="the script at 10^7 too")
    parser.add_argument(
        "--many-classes", action="store_true", help="10^4 rows, 1,000 classes, Parquet and CSV"
    )
    parser.add_argument(
        "--script-timeout", type=float, default=120.0, help="seconds before a script run is killed"
    )
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench"), help="cache and outputs")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.sizes is None:
        args.sizes = [] if args.large or args.many_classes else parse_sizes(DEFAULT_SIZES)
    formats = [fmt.strip() for fmt in args.formats.split(",") if fmt.strip()]

    import pandas
    import sklearn

    load_start = load()
    source_start = source_fingerprint()
    print(
        f"digitwise evaluate vs the plain script; numpy {np.__version__}, pandas "
        f"{pandas.__version__}, scikit-learn {sklearn.__version__}; {os.cpu_count()} cores; "
        f"median of {args.repeats}, alternating; load average (1, 5, 15 min) {load_start}",
        flush=True,
    )
    plan: list[tuple[Case, int, int, list[str]]] = []
    for n in args.sizes:
        plan += [(Case(n, 10, fmt), n, 10, formats) for fmt in formats]
    if args.large:
        plan.append(
            (Case(LARGE_ROWS, 10, "parquet", script=args.large_script), LARGE_ROWS, 10, ["parquet"])
        )
    if args.many_classes:
        n, n_classes = MANY_CLASSES
        plan += [
            (Case(n, n_classes, fmt), n, n_classes, ["parquet", "csv"])
            for fmt in ("parquet", "csv")
        ]

    started = time.perf_counter()
    cases = []
    for case, n, n_classes, wanted in plan:
        paths = prepare(args.work, n, n_classes, args.seed, wanted)
        measure(case, paths, args.work, args)
        cases.append(case)
    elapsed = time.perf_counter() - started

    print(f"\n## Results (median of {args.repeats} runs each side, alternated)\n")
    print("\n".join(table(cases)))
    print(
        "\nCPU time (user + system, /usr/bin/time), the largest single process's peak RSS "
        "(/usr/bin/time %M), the most processes seen at once, and every run's wall time:\n"
    )
    print("\n".join(cpu_table(cases)))
    print(
        "\nDigitwise: all outputs (7 JSON files, 1,000 bootstrap resamples, 3 heatmaps and "
        "the reliability diagram). "
        "Script: pandas + scikit-learn headline metrics and ONE seaborn heatmap, no "
        "bootstrap (as the issue specifies). Peak RSS: the most over the runs of the summed "
        "RSS of all the command's processes (sampled every 20 ms; digitwise draws in a worker "
        "process) or of its largest process (/usr/bin/time %M), whichever is more; MB = 10^6 "
        "bytes. Shared 2-core machine: quote the medians."
    )
    print("\n## Targets\n")
    print("\n".join(targets(cases)) or "(no targeted case in this run)")
    print("\n## Agreement (digitwise metrics.json vs the script's scikit-learn values)\n")
    checks = [line for case in cases if case.script for line in check_agreement(case)]
    checks += check_formats(cases)
    print("\n".join(checks) or "(no case ran both sides, nor both formats)")
    print(f"\nload average (1, 5, 15 min): start {load_start}, end {load()}")
    source_end = source_fingerprint()
    print(
        f"digitwise source: {source_start}"
        + (
            ""
            if source_end == source_start
            else f"\nWARNING: the digitwise source changed during the run, now {source_end}: "
            "the runs timed more than one version"
        )
    )
    print(f"measured in {elapsed / 60:.1f} min; work directory {args.work}")


if __name__ == "__main__":
    main()
