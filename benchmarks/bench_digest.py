"""Benchmark the content digest's ordering of the row hashes by sample id
(``predictions.digest.digest_of_rows``, what the in-memory reader and the shards'
combination both call) against the obvious way, ``np.argsort(sample, kind="stable")``
then ``hashes[order]``, kept here as ``argsort_digest``.

The rows are ``--rows`` ids (10^6 and 10^7 by default), shuffled by a seeded permutation
of a range (ids as the project writes them, in another order), with seeded random row
hashes: the ordering does not depend on what the hashes hold. Files in id order skip the
sort in both (an O(n) check), which the ``in id order`` lines show. The two ways
alternate ``--repeats`` times; the medians of their CPU and wall times are printed, then
the peak of numpy's allocations during one more run of each (``tracemalloc``), and the
digests are checked to be equal. The load average before and after is printed: the
machine is shared.

Run from the project root in its virtualenv (about a minute)::

    python benchmarks/bench_digest.py
    python benchmarks/bench_digest.py --rows 1000000 --repeats 7
"""

import argparse
import hashlib
import json
import os
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable

import numpy as np

from digitwise.predictions.digest import digest_of_rows

CLASSES = tuple(str(i) for i in range(10))


def argsort_digest(classes, with_proba: bool, sample: np.ndarray, hashes: np.ndarray) -> str:
    """``digest_of_rows`` as it was: a stable argsort, then a fancy index of the hashes."""
    digest = hashlib.sha256()
    header = {"classes": list(classes), "rows": len(sample), "probabilities": with_proba}
    digest.update(json.dumps(header, sort_keys=True).encode() + b"\n")
    in_order = bool(np.all(sample[1:] > sample[:-1]))
    ordered = hashes if in_order else hashes[np.argsort(sample, kind="stable")]
    digest.update(np.ascontiguousarray(ordered, "<u8"))
    return digest.hexdigest()


WAYS: dict[str, Callable[..., str]] = {
    "argsort + hashes[order] (before)": argsort_digest,
    "packed sort + np.take (now)": digest_of_rows,
}


def load() -> str:
    return " ".join(f"{value:.2f}" for value in os.getloadavg())


def peak_bytes(function: Callable[[], object]) -> int:
    tracemalloc.start()
    function()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def bench(n: int, repeats: int, shuffled: bool) -> None:
    rng = np.random.default_rng(0)
    sample = np.arange(n, dtype=np.int64)
    if shuffled:
        sample = rng.permutation(sample)
    hashes = rng.integers(0, 2**63, size=(n, 2), dtype=np.int64).view(np.uint64)
    times: dict[str, list[tuple[float, float]]] = {name: [] for name in WAYS}
    digests = {}
    for _ in range(repeats):
        for name, way in WAYS.items():
            start, cpu = time.perf_counter(), time.process_time()
            digests[name] = way(CLASSES, True, sample, hashes)
            times[name].append((time.perf_counter() - start, time.process_time() - cpu))
    assert len(set(digests.values())) == 1, digests
    order = "shuffled" if shuffled else "in id order"
    for name, way in WAYS.items():
        cpu = statistics.median(t[1] for t in times[name])
        wall = statistics.median(t[0] for t in times[name])
        peak = peak_bytes(lambda way=way: way(CLASSES, True, sample, hashes)) / 2**20
        print(
            f"{n:>12,} rows, {order:<11}  {name:<32} cpu {cpu:7.3f} s  wall {wall:7.3f} s"
            f"  peak {peak:6.0f} MiB"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10**6, 10**7])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    print(f"load average before: {load()}")
    for n in args.rows:
        for shuffled in (True, False):
            bench(n, args.repeats, shuffled)
    print(f"load average after: {load()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
