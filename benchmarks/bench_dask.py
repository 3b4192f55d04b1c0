"""Benchmark ``digitwise evaluate --engine dask`` (a local cluster of two worker processes
on the loopback interface) against the in-memory path on the same Parquet shards.

The predictions are ``bench_evaluate``'s synthetic ones (seeded, about 90% right), 10^7
rows and 10 classes by default, written once as ``--shards`` Parquet files (40: 250,000
rows each, ids in order) under ``--work`` (default /tmp/bench), where later runs find
them. Each measurement is a fresh ``digitwise evaluate`` process, timed and measured by
``bench_evaluate.run_child``: wall time, CPU time, and the peak of the summed RSS of the
process and all its children (the cluster's scheduler, nannies and workers are its
children, so the cluster's memory is counted). The two engines alternate (memory, dask,
memory, dask, ...) ``--repeats`` times and the medians are reported, as rows per second
of the whole command (the local cluster's start and stop included; with ``--scheduler``
a running cluster instead). The load average before and after is printed: the machine is
shared. Both engines' JSON outputs are compared at the end: equal, except the per-pair
AUC entries (binned on Dask), which must lie within their bound of the exact ones.

``--digest`` measures only the content digest at 10^6 rows in this process: the row-hash
definition (``predictions.schema.content_digest``) against the former one (SHA-256 of
the id-ordered columns, kept here as ``former_digest``), alternated, medians of 5.

Run from the project root in its virtualenv (writing the shards takes about a minute the
first time; three repeats of both engines at 10^7 rows about five minutes)::

    python benchmarks/bench_dask.py
    python benchmarks/bench_dask.py --rows 1000000 --repeats 3
    python benchmarks/bench_dask.py --digest
"""

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from bench_evaluate import DIGITWISE, class_names, run_child, synthetic, warm, write_parquet


def prepare(work: Path, n: int, n_classes: int, n_shards: int) -> tuple[Path, Path]:
    """The cached directory of shards and the classes.json, made if missing."""
    work.mkdir(parents=True, exist_ok=True)
    classes = class_names(n_classes)
    classes_path = work / f"classes-k{n_classes}.json"
    if not classes_path.exists():
        classes_path.write_text(json.dumps(list(classes)) + "\n")
    shards = work / f"dask-shards-n{n}-k{n_classes}-s{n_shards}"
    if shards.is_dir():
        return shards, classes_path
    start = time.perf_counter()
    actual, predicted, proba = synthetic(n, n_classes, seed=0)
    partial = shards.with_name(shards.name + ".partial")
    partial.mkdir(exist_ok=True)
    bounds = np.linspace(0, n, n_shards + 1).astype(np.int64)
    for i in range(n_shards):
        rows = slice(bounds[i], bounds[i + 1])
        path = partial / f"part-{i:03d}.parquet"
        write_parquet(path, classes, actual[rows], predicted[rows], proba[rows])
        _renumber(path, int(bounds[i]))
    partial.rename(shards)  # an interrupted run leaves no bad cache
    print(f"wrote {n_shards} shards of {n:,} rows in {time.perf_counter() - start:.0f} s")
    return shards, classes_path


def _renumber(path: Path, first: int) -> None:
    """Ids first.. in one shard (``write_parquet`` numbers every file from 0)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pq.read_table(path)
    ids = pa.array(np.arange(first, first + table.num_rows, dtype=np.int64))
    pq.write_table(table.set_column(0, "sample", ids), path)


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def compare(memory: Path, dask: Path) -> list[str]:
    """Differences between the two engines' JSON outputs beyond the binned AUC."""
    problems = []
    binned = {"auc_ovo_m", "auc_ovo_m_error_bound", "pairwise_auc", "m_measure"}
    binned |= {"pairwise_auc_error_bound", "m_measure_error_bound", "note"}
    for path in sorted(memory.glob("*.json")):
        ours, theirs = json.loads(path.read_text()), json.loads((dask / path.name).read_text())
        for key in sorted(set(ours) | set(theirs)):
            if key not in binned and ours.get(key) != theirs.get(key):
                problems.append(f"{path.name}: {key} differs")
    exact = json.loads((memory / "pairwise.json").read_text())
    sharded = json.loads((dask / "pairwise.json").read_text())
    error = np.abs(
        np.array(exact["pairwise_auc"], float) - np.array(sharded["pairwise_auc"], float)
    )
    bound = np.array(sharded["pairwise_auc_error_bound"], float)
    if np.any(error[~np.isnan(bound)] > bound[~np.isnan(bound)]):
        problems.append("pairwise.json: a binned AUC outside its bound")
    print(
        f"per-pair AUC: largest error {np.nanmax(error):.2e}, largest bound "
        f"{np.nanmax(bound):.2e}; M {exact['m_measure']:.6f} exact, "
        f"{sharded['m_measure']:.6f} binned (bound {sharded['m_measure_error_bound']:.1e})"
    )
    return problems


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=10**7)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--shards", type=int, default=40)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--scheduler", help="a running scheduler instead of a local cluster")
    parser.add_argument("--work", type=Path, default=Path("/tmp/bench"))
    parser.add_argument("--digest", action="store_true", help="only the digest at 10^6 rows")
    args = parser.parse_args(argv)
    if args.digest:
        return bench_digest()
    shards, classes = prepare(args.work, args.rows, args.classes, args.shards)
    for path in shards.iterdir():
        warm(path)
    engines = {"memory": [], "dask": ["--engine", "dask"]}
    if args.scheduler:
        engines["dask"] += ["--scheduler", args.scheduler]
    runs: dict[str, list] = {name: [] for name in engines}
    print(f"load average before: {load()}", flush=True)
    for repeat in range(args.repeats):
        for name, extra in engines.items():
            out = args.work / f"dask-out-{name}"
            command = [DIGITWISE, "evaluate", str(shards), "--classes", str(classes)]
            run = run_child([*command, "--out", str(out), *extra], args.work / f"dask-{name}.log")
            runs[name].append(run)
            print(
                f"  {name:6} run {repeat + 1}: {run.seconds:6.1f} s, cpu {run.cpu_seconds:6.1f} s, "
                f"peak RSS {run.peak_rss / 1e6:,.0f} MB ({run.processes} processes)",
                flush=True,
            )
    print(f"load average after: {load()}")
    print(f"\n{args.rows:,} rows, {args.classes} classes, {args.shards} Parquet shards")
    print("| engine | median s | rows/s | median CPU s | peak RSS (all processes) |")
    print("|---|---|---|---|---|")
    for name, measured in runs.items():
        seconds = statistics.median(run.seconds for run in measured)
        cpu = statistics.median(run.cpu_seconds for run in measured)
        peak = max(run.peak_rss for run in measured)
        print(
            f"| {name} | {seconds:.1f} | {args.rows / seconds:,.0f} | {cpu:.1f} "
            f"| {peak / 1e6:,.0f} MB |"
        )
    problems = compare(args.work / "dask-out-memory", args.work / "dask-out-dask")
    print("outputs: " + ("; ".join(problems) if problems else "equal beyond the binned AUC"))
    return 1 if problems else 0


def former_digest(sample, actual, predicted, proba, classes) -> str:
    """The former definition: the header, then each column in id order, in one hash."""
    digest = hashlib.sha256()
    header = {"classes": list(classes), "rows": len(sample), "probabilities": True}
    digest.update(json.dumps(header, sort_keys=True).encode() + b"\n")
    for column in (sample, actual, predicted):
        digest.update(np.ascontiguousarray(column, "<i8"))
    for start in range(0, len(sample), 2**16):
        digest.update(np.ascontiguousarray(proba[start : start + 2**16], "<f8"))
    return digest.hexdigest()


def bench_digest(n: int = 10**6, n_classes: int = 10, repeats: int = 5) -> int:
    from digitwise.predictions.schema import Predictions, content_digest

    actual, predicted, proba = synthetic(n, n_classes, seed=0)
    classes = class_names(n_classes)
    sample = np.arange(n, dtype=np.int64)
    p = Predictions(sample, actual, predicted, proba, classes)
    digests = {
        "row hashes (now)": lambda: content_digest(p),
        "columns (former)": lambda: former_digest(sample, actual, predicted, proba, classes),
    }
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in digests}
    print(f"load average before: {load()}")
    for _ in range(repeats):
        for name, digest in digests.items():
            start, cpu = time.perf_counter(), time.process_time()
            digest()
            times[name].append((time.perf_counter() - start, time.process_time() - cpu))
    print(f"load average after: {load()}")
    for name, values in times.items():
        wall = statistics.median(v[0] for v in values)
        cpu = statistics.median(v[1] for v in values)
        print(
            f"content digest, {n:,} rows, {n_classes} classes, {name}: {wall:.3f} s (cpu {cpu:.3f})"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
