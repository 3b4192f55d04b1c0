"""Benchmark the evaluate stage's metrics against scikit-learn on synthetic predictions.

Ours is exactly what ``stages/evaluate.py`` computes from the predictions, with the
functions of ``digitwise.metrics``: the confusion matrix, the summary and per-class
scores, the three normalized confusion matrices, log loss, top-2 accuracy, pairwise
accuracy, pairwise AUC with Hand & Till's M, and the top confusions.

The reference is the equivalent scikit-learn calls (``confusion_matrix`` and its
three normalizations, ``accuracy_score``, ``balanced_accuracy_score``,
``precision_recall_fscore_support`` macro, weighted and per class,
``matthews_corrcoef``, ``cohen_kappa_score``, ``log_loss``, ``top_k_accuracy_score``,
``roc_auc_score(multi_class="ovo")``). scikit-learn has no per-pair accuracy, so the
reference for ``pairwise_accuracy`` is the obvious numpy loop over the class pairs
with boolean masks. ``top_confusions`` has no reference: it counts in ours only.

For each size n the script draws seeded synthetic predictions over K = 10 classes
(uniform labels, softmax of random logits with the true class's logit raised, so the
true class usually wins; y_pred = argmax), then

- times ours (best of ``--repeats``) and the reference (best of ``--ref-repeats``,
  by default 1 run from 10^7 on, where scikit-learn is slow, and 3 below) with
  ``time.perf_counter`` (and, as a cross-check less sensitive to other work on
  the machine, the CPU time of this process for the whole set);
- checks that every value of ours equals the reference's (``np.allclose``), so the
  timings never compare wrong answers;
- measures the peak memory that our computation allocates (``tracemalloc``, to
  which numpy reports its buffers) relative to the predictions' own arrays
  (y_true + y_pred + proba bytes).

Targets, checked at the largest size: ours >= 10x faster than the reference on the
whole set, and our peak extra memory <= 2x the predictions' own size.

Run from the project root (numbers are for this machine; 10^7 takes a few minutes
and ~5 GB of memory, mostly scikit-learn's)::

    python benchmarks/bench_metrics.py
    python benchmarks/bench_metrics.py --sizes 1e5,1e6
"""

import argparse
import gc
import os
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from sklearn import metrics as skm

from digitwise.metrics import classification as metrics
from digitwise.metrics.reports import TOP_K

N_CLASSES = 10
TRUE_CLASS_BOOST = 2.5  # added to the true class's logit: ~81% of argmaxes are right
SPEEDUP_TARGET = 10.0
MEMORY_TARGET = 2.0

# (component, what ours calls, what the reference calls), in the order they run
COMPONENTS = (
    ("confusion_matrix", "confusion_matrix", "sklearn confusion_matrix"),
    (
        "normalized x3",
        "normalize_confusion x3",
        "sklearn confusion_matrix(normalize=) x3",
    ),
    ("summary scores", "summary_scores", "sklearn acc, bal_acc, prfs x2, mcc, kappa"),
    ("per-class scores", "per_class_scores", "sklearn prfs(average=None)"),
    ("log_loss", "log_loss", "sklearn log_loss"),
    (f"top-{TOP_K} accuracy", "top_k_accuracy", "sklearn top_k_accuracy_score"),
    (
        "pairwise accuracy",
        "pairwise_accuracy",
        "numpy loop over 45 pairs (not sklearn)",
    ),
    (
        "pairwise AUC + M",
        "pairwise_auc, m_measure",
        "sklearn roc_auc_score(ovo, macro)",
    ),
    ("top confusions", "top_confusions", "(none: ours only)"),
)
NOT_SKLEARN = {"pairwise accuracy", "top confusions"}


@dataclass
class Recorder:
    """Per component: wall-clock and CPU seconds and, tracing memory, the peak traced bytes."""

    trace_memory: bool = False
    seconds: dict[str, float] = field(default_factory=dict)
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    peak_bytes: dict[str, int] = field(default_factory=dict)

    @contextmanager
    def __call__(self, name: str) -> Iterator[None]:
        if self.trace_memory:
            tracemalloc.reset_peak()
        start, cpu_start = time.perf_counter(), time.process_time()
        yield
        self.seconds[name] = time.perf_counter() - start
        self.cpu_seconds[name] = time.process_time() - cpu_start
        if self.trace_memory:
            self.peak_bytes[name] = tracemalloc.get_traced_memory()[1]

    @property
    def total(self) -> float:
        return sum(self.seconds.values())

    @property
    def cpu_total(self) -> float:
        return sum(self.cpu_seconds.values())


def synthetic(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """y_true and y_pred (int64), proba (float64, rows sum to 1): as evaluate reads."""
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, N_CLASSES, size=n, dtype=np.int64)
    proba = rng.standard_normal((n, N_CLASSES))
    proba[np.arange(n), y_true] += TRUE_CLASS_BOOST
    proba -= proba.max(axis=1, keepdims=True)  # softmax, in place
    np.exp(proba, out=proba)
    proba /= proba.sum(axis=1, keepdims=True)
    y_pred = proba.argmax(axis=1).astype(np.int64)
    return y_true, y_pred, proba


def ours(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    proba: np.ndarray,
    clock: Recorder,
    *,
    limit: int,
) -> dict[str, Any]:
    """What stages/evaluate.py computes, component by component."""
    out: dict[str, Any] = {}
    with clock("confusion_matrix"):
        counts = metrics.confusion_matrix(y_true, y_pred, n_classes=N_CLASSES)
        out["counts"] = counts
    with clock("normalized x3"):
        out["normalized"] = {
            how: metrics.normalize_confusion(counts, normalize=how)
            for how in metrics.NORMALIZATIONS
        }
    with clock("summary scores"):
        out["summary"] = metrics.summary_scores(counts)
    with clock("per-class scores"):
        out["per_class"] = metrics.per_class_scores(counts)
    with clock("log_loss"):
        out["log_loss"] = metrics.log_loss(y_true, proba)
    with clock(f"top-{TOP_K} accuracy"):
        out["top_k"] = metrics.top_k_accuracy(y_true, proba, k=TOP_K)
    with clock("pairwise accuracy"):
        out["pairwise_accuracy"] = metrics.pairwise_accuracy(y_true, y_pred, proba)
    with clock("pairwise AUC + M"):
        auc = metrics.pairwise_auc(y_true, proba)
        out["m_measure"] = metrics.m_measure(auc)  # evaluate's headline metrics
        metrics.m_measure(auc)  # and again in its pairwise report
    with clock("top confusions"):
        out["top_confusions"] = metrics.top_confusions(counts, limit=limit)
    return out


def pairwise_accuracy_loop(y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray) -> np.ndarray:
    """The obvious alternative: per pair, mask its samples and compare two columns."""
    accuracy = np.full((N_CLASSES, N_CLASSES), np.nan)
    in_class = [y_true == c for c in range(N_CLASSES)]
    for a in range(N_CLASSES):
        if in_class[a].any():
            accuracy[a, a] = np.mean(y_pred[in_class[a]] == a)  # recall
        for b in range(a + 1, N_CLASSES):
            mask = in_class[a] | in_class[b]
            if not mask.any():
                continue
            is_a = y_true[mask] == a
            p_a, p_b = proba[mask, a], proba[mask, b]
            accuracy[a, b] = accuracy[b, a] = np.mean(np.where(is_a, p_a > p_b, p_b > p_a))
    return accuracy


def reference(
    y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, clock: Recorder
) -> dict[str, Any]:
    """The same values from scikit-learn (and the numpy loop for pairwise accuracy)."""
    labels = np.arange(N_CLASSES)
    out: dict[str, Any] = {}
    with clock("confusion_matrix"):
        out["counts"] = skm.confusion_matrix(y_true, y_pred, labels=labels)
    with clock("normalized x3"):
        out["normalized"] = {
            how: skm.confusion_matrix(y_true, y_pred, labels=labels, normalize=how)
            for how in metrics.NORMALIZATIONS
        }
    with clock("summary scores"):
        summary = {
            "accuracy": skm.accuracy_score(y_true, y_pred),
            "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred),
        }
        for average in ("macro", "weighted"):
            scores = skm.precision_recall_fscore_support(
                y_true, y_pred, average=average, zero_division=0
            )
            for name, value in zip(("precision", "recall", "f1"), scores, strict=False):
                summary[f"{name}_{average}"] = value
        summary["matthews_corrcoef"] = skm.matthews_corrcoef(y_true, y_pred)
        summary["cohen_kappa"] = skm.cohen_kappa_score(y_true, y_pred)
        out["summary"] = summary
    with clock("per-class scores"):
        scores = skm.precision_recall_fscore_support(
            y_true, y_pred, labels=labels, average=None, zero_division=0
        )
        out["per_class"] = dict(zip(("precision", "recall", "f1", "support"), scores, strict=True))
    with clock("log_loss"):
        out["log_loss"] = skm.log_loss(y_true, y_proba=proba, labels=labels)
    with clock(f"top-{TOP_K} accuracy"):
        out["top_k"] = skm.top_k_accuracy_score(y_true, proba, k=TOP_K, labels=labels)
    with clock("pairwise accuracy"):
        out["pairwise_accuracy"] = pairwise_accuracy_loop(y_true, y_pred, proba)
    with clock("pairwise AUC + M"):
        out["m_measure"] = skm.roc_auc_score(
            y_true, proba, multi_class="ovo", average="macro", labels=labels
        )
    return out


def check_agreement(mine: dict[str, Any], theirs: dict[str, Any]) -> int:
    """Assert that each value of ours equals the reference's; return how many."""
    pairs: list[tuple[str, Any, Any]] = [
        ("confusion_matrix", mine["counts"], theirs["counts"]),
        ("log_loss", mine["log_loss"], theirs["log_loss"]),
        ("top_k_accuracy", mine["top_k"], theirs["top_k"]),
        ("pairwise_accuracy", mine["pairwise_accuracy"], theirs["pairwise_accuracy"]),
        ("m_measure vs roc_auc_score ovo", mine["m_measure"], theirs["m_measure"]),
    ]
    pairs += [
        (f"normalized_{h}", mine["normalized"][h], theirs["normalized"][h])
        for h in mine["normalized"]
    ]
    assert mine["summary"].keys() == theirs["summary"].keys(), "summary keys differ"
    pairs += [(name, value, theirs["summary"][name]) for name, value in mine["summary"].items()]
    pairs += [(f"per_class {k}", v, theirs["per_class"][k]) for k, v in mine["per_class"].items()]
    # top confusions: no sklearn function; check them against sklearn's confusion matrix
    counts, by_true = theirs["counts"], theirs["normalized"]["true"]
    off_diagonal = counts[~np.eye(N_CLASSES, dtype=bool)]
    ranked = mine["top_confusions"]
    expected_counts = np.sort(off_diagonal[off_diagonal > 0])[::-1][: len(ranked)]
    pairs += [
        (
            "top_confusions counts",
            [c for _, _, c, _ in ranked],
            [counts[t, p] for t, p, _, _ in ranked],
        ),
        ("top_confusions ranking", [c for _, _, c, _ in ranked], expected_counts),
        (
            "top_confusions shares",
            [s for _, _, _, s in ranked],
            [by_true[t, p] for t, p, _, _ in ranked],
        ),
    ]
    for name, value, expected in pairs:
        assert np.shape(value) == np.shape(expected), f"{name}: shapes differ"
        assert np.allclose(value, expected, rtol=1e-9, atol=1e-12, equal_nan=True), (
            f"{name}: ours {value} != reference {expected}"
        )
    return len(pairs)


@dataclass
class Timing:
    seconds: dict[str, float]  # per component, the best over the repeats
    total: float  # the best full pass, wall clock
    cpu_total: float  # the best full pass, CPU time of this process
    result: dict[str, Any]


def best_of(repeats: int, run: Callable[[Recorder], dict[str, Any]]) -> Timing:
    passes = []
    result: dict[str, Any] = {}
    for _ in range(repeats):
        gc.collect()
        clock = Recorder()
        result = run(clock)
        passes.append(clock)
    return Timing(
        seconds={name: min(clock.seconds[name] for clock in passes) for name in passes[0].seconds},
        total=min(clock.total for clock in passes),
        cpu_total=min(clock.cpu_total for clock in passes),
        result=result,
    )


def fmt_bytes(n: float) -> str:
    return f"{n / 1e6:,.1f} MB"


def bench(n: int, args: argparse.Namespace) -> tuple[float, float, str, str]:
    """Print one size's table; return (speed-up, memory ratio, slowest, hungriest)."""
    y_true, y_pred, proba = synthetic(n, args.seed)
    own_bytes = y_true.nbytes + y_pred.nbytes + proba.nbytes
    ref_repeats = args.ref_repeats or (1 if n >= 10**7 else 3)

    def run_ours(clock: Recorder) -> dict[str, Any]:
        return ours(y_true, y_pred, proba, clock, limit=args.top_confusions)

    mine = best_of(args.repeats, run_ours)
    gc.collect()
    memory = Recorder(trace_memory=True)
    tracemalloc.start()
    try:
        run_ours(memory)
    finally:
        tracemalloc.stop()
    # reset_peak() at each component's start: the overall peak is the largest one
    peak = max(memory.peak_bytes.values())
    ref = best_of(ref_repeats, lambda clock: reference(y_true, y_pred, proba, clock))
    compared = check_agreement(mine.result, ref.result)

    print(
        f"\n== n = {n:,} predictions, K = {N_CLASSES} classes "
        f"(accuracy of the synthetic predictions {np.mean(y_true == y_pred):.3f})"
    )
    print(
        f"   predictions' own arrays: {fmt_bytes(own_bytes)} "
        f"(y_true int64 + y_pred int64 + proba float64 {n:,}x{N_CLASSES})"
    )
    print(f"   ours: best of {args.repeats}; reference: best of {ref_repeats}")
    header = (
        f"{'component':<20} {'ours [s]':>9} {'ref [s]':>9} {'ref/ours':>9} "
        f"{'ours peak':>11}  reference"
    )
    print(header)
    print("-" * len(header) + "-" * 30)
    for name, _, ref_name in COMPONENTS:
        mine_s = mine.seconds[name]
        ref_s = ref.seconds.get(name)
        ratio = f"{ref_s / mine_s:8.1f}x" if ref_s is not None and mine_s > 0 else f"{'-':>9}"
        ref_text = f"{ref_s:9.4f}" if ref_s is not None else f"{'-':>9}"
        print(
            f"{name:<20} {mine_s:9.4f} {ref_text} {ratio} "
            f"{fmt_bytes(memory.peak_bytes[name]):>11}  {ref_name}"
        )
    sk_names = [name for name, _, _ in COMPONENTS if name not in NOT_SKLEARN]
    mine_sk = sum(mine.seconds[name] for name in sk_names)
    ref_sk = sum(ref.seconds[name] for name in sk_names)
    speedup = ref.total / mine.total
    print("-" * len(header) + "-" * 30)
    print(
        f"{'total':<20} {mine.total:9.4f} {ref.total:9.4f} {speedup:8.1f}x "
        f"{fmt_bytes(peak):>11}  whole set (best full pass each)"
    )
    print(
        f"{'total, sklearn only':<20} {mine_sk:9.4f} {ref_sk:9.4f} "
        f"{ref_sk / mine_sk:8.1f}x {'':>11}  "
        "without pairwise accuracy and top confusions (sum of bests)"
    )
    print(
        f"{'total, CPU time':<20} {mine.cpu_total:9.4f} {ref.cpu_total:9.4f} "
        f"{ref.cpu_total / mine.cpu_total:8.1f}x {'':>11}  "
        "whole set, time.process_time: less sensitive to other load"
    )
    ratio = peak / own_bytes
    print(
        f"   ours, peak extra memory: {fmt_bytes(peak)} = {ratio:.2f}x the "
        f"predictions' {fmt_bytes(own_bytes)} (tracemalloc, a separate untimed pass)"
    )
    print(f"   agreement: {compared} values of ours np.allclose to the reference's: OK")
    slowest = max(mine.seconds, key=mine.seconds.get)
    hungriest = max(memory.peak_bytes, key=memory.peak_bytes.get)
    share = mine.seconds[slowest] / sum(mine.seconds.values())
    print(f"   ours, slowest component: {slowest} ({share:.0%} of our time)")
    return speedup, ratio, slowest, hungriest


def parse_sizes(text: str) -> list[int]:
    sizes = [int(float(part)) for part in text.split(",") if part.strip()]
    if not sizes or min(sizes) < N_CLASSES:
        raise argparse.ArgumentTypeError(f"sizes must be >= {N_CLASSES}; got {text!r}")
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--sizes", type=parse_sizes, default="1e6,1e7", help="comma-separated n")
    parser.add_argument("--repeats", type=int, default=3, help="best of this many, ours")
    parser.add_argument(
        "--ref-repeats",
        type=int,
        default=0,
        help="best of this many, reference (default: 1 for n >= 10^7, else 3)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--top-confusions", type=int, default=10, help="evaluate.top_confusions")
    args = parser.parse_args()

    import sklearn

    print(
        f"numpy {np.__version__}, scikit-learn {sklearn.__version__}; "
        f"time.perf_counter; seed {args.seed}; {os.cpu_count()} cores, "
        f"load average {os.getloadavg()[0]:.2f} (other work skews the timings)"
    )
    results = {n: bench(n, args) for n in args.sizes}

    n = max(results)
    speedup, ratio, slowest, hungriest = results[n]
    print(f"\n== targets at n = {n:,}")
    verdict = "PASS" if speedup >= SPEEDUP_TARGET else "MISS"
    print(
        f"   speed: ours {speedup:.1f}x faster than the reference, "
        f"target >= {SPEEDUP_TARGET:g}x: {verdict}"
    )
    if verdict == "MISS":
        print(f"          dominated by: {slowest}")
    verdict = "PASS" if ratio <= MEMORY_TARGET else "MISS"
    print(
        f"   memory: ours peaks at {ratio:.2f}x the predictions' size, "
        f"target <= {MEMORY_TARGET:g}x: {verdict}"
    )
    if verdict == "MISS":
        print(f"          dominated by: {hungriest}")
    print(f"   load average at the end: {os.getloadavg()[0]:.2f}")
    if n < 10**7:
        print("   (the targets are stated for n = 10^7; this run's largest n is smaller)")


if __name__ == "__main__":
    main()
