"""Benchmark the clustered class order (``evaluate.class_order: clustered``).

Three measurements, each alternated between the two sides and reported as medians:

1. In this process, on seeded confusion matrices of K = 10 .. 1,000 classes (80..120
   right per class, a few blocks of classes confused with each other, stray single
   confusions elsewhere): ``clustered_positions`` as shipped (average linkage, optimal
   leaf ordering up to ``MAX_OPTIMAL_ORDERING`` classes) against scipy's average linkage
   alone and against linkage with optimal leaf ordering at every K.
2. The cost of importing ``scipy.cluster.hierarchy`` (only a clustered order pays it):
   a fresh interpreter importing numpy and it, against one importing numpy alone.
3. With ``--command``: the whole ``digitwise evaluate`` on 10^4 rows of 1,000 classes
   (bench_evaluate.py's synthetic Parquet file under ``--work``), natural against
   clustered order.

Run from the project root in its virtualenv: ``python benchmarks/bench_class_order.py
[--command] [--repeats 5]`` (about 30 s; ``--command`` adds about a minute).
"""

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import yaml
from scipy.cluster.hierarchy import leaves_list, linkage
from scipy.spatial.distance import squareform

from digitwise.metrics.ordering import MAX_OPTIMAL_ORDERING, clustered_positions

ROOT = Path(__file__).resolve().parents[1]


def confusion(n_classes: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = (rng.random((n_classes, n_classes)) < 2 / n_classes).astype(np.int64)
    members = rng.permutation(n_classes)
    start = 0
    while start < n_classes // 2:
        size = int(rng.integers(2, 8))
        block = members[start : start + size]
        counts[np.ix_(block, block)] = rng.integers(5, 16, (len(block), len(block)))
        start += size
    np.fill_diagonal(counts, rng.integers(80, 121, n_classes))
    return counts


def scipy_alone(counts: np.ndarray, optimal: bool) -> np.ndarray:
    shares = counts / counts.sum(axis=1, keepdims=True)
    distance = 1 - (shares + shares.T) / 2
    np.fill_diagonal(distance, 0)
    tree = linkage(squareform(distance, checks=False), method="average", optimal_ordering=optimal)
    return leaves_list(tree)


def timed(call) -> float:
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def ordering_table(repeats: int) -> list[str]:
    lines = [
        f"| classes | shipped (optimal leaf order up to {MAX_OPTIMAL_ORDERING}) "
        "| linkage alone | linkage + optimal leaf order |",
        "|---:|---:|---:|---:|",
    ]
    for n_classes in (10, 100, 300, 500, 1000):
        counts = confusion(n_classes)
        runs: dict[str, list[float]] = {"shipped": [], "alone": [], "optimal": []}
        for _ in range(repeats):  # alternated
            runs["shipped"].append(timed(lambda c=counts: clustered_positions(c)))
            runs["alone"].append(timed(lambda c=counts: scipy_alone(c, False)))
            runs["optimal"].append(timed(lambda c=counts: scipy_alone(c, True)))
        cells = " | ".join(f"{statistics.median(runs[k]):.3f} s" for k in runs)
        lines.append(f"| {n_classes:,} | {cells} |")
    return lines


def import_cost(repeats: int) -> str:
    with_scipy, without = [], []
    for _ in range(repeats):
        for code, runs in (("import numpy, scipy.cluster.hierarchy", with_scipy),
                           ("import numpy", without)):  # fmt: skip
            runs.append(timed(lambda c=code: subprocess.run([sys.executable, "-c", c], check=True)))
    extra = statistics.median(with_scipy) - statistics.median(without)
    return (
        f"importing scipy.cluster.hierarchy: {extra:.2f} s more than numpy alone "
        f"({statistics.median(with_scipy):.2f} s against {statistics.median(without):.2f} s)"
    )


def command_times(work: Path, repeats: int) -> str:
    sys.path.insert(0, str(ROOT / "benchmarks"))
    import bench_evaluate

    paths = bench_evaluate.prepare(work, 10_000, 1000, 0, ["parquet"])
    shipped = yaml.safe_load((ROOT / "params.yaml").read_text())
    runs: dict[str, list[float]] = {"natural": [], "clustered": []}
    for method in runs:
        shipped["evaluate"]["class_order"] = method
        (work / f"params_{method}.yaml").write_text(yaml.safe_dump(shipped))
    digitwise = Path(sys.executable).with_name("digitwise")
    for _ in range(repeats):
        for method, times in runs.items():
            command = [digitwise, "evaluate", paths["parquet"], "--classes", paths["classes"]]
            command += ["--params", work / f"params_{method}.yaml", "--out", work / method]
            times.append(
                timed(lambda c=command: subprocess.run(c, check=True, capture_output=True))
            )
    natural, clustered = (statistics.median(runs[m]) for m in runs)
    return (
        f"digitwise evaluate, 10^4 rows x 1,000 classes (Parquet): natural {natural:.2f} s, "
        f"clustered {clustered:.2f} s (+{clustered - natural:.2f} s)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--command", action="store_true", help="time digitwise evaluate too")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench"))
    args = parser.parse_args()
    print("\n".join(ordering_table(args.repeats)))
    print(import_cost(args.repeats))
    if args.command:
        args.work.mkdir(parents=True, exist_ok=True)
        print(command_times(args.work, max(args.repeats // 2, 2)))


if __name__ == "__main__":
    main()
