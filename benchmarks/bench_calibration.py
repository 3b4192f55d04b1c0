"""What calibration adds to evaluate: its bins and errors, and the reliability diagram,
against all the payloads ``evaluate`` computes in the same process (the state's scores,
calibration's bins among them, bootstrap intervals, pairwise AUC, the content digest), on
synthetic predictions. CPU time of this process (medians of
repeats), which a machine shared with other work disturbs less than wall time:

    python benchmarks/bench_calibration.py [--rows 1000000] [--classes 10]
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from digitwise import params  # noqa: E402
from digitwise.figures.calibration import reliability_diagram  # noqa: E402
from digitwise.io.outputs import png_bytes  # noqa: E402
from digitwise.metrics.calibration import calibration as calibration_of  # noqa: E402
from digitwise.metrics.evaluation import evaluate  # noqa: E402
from digitwise.predictions.schema import Predictions  # noqa: E402


def cpu_seconds(work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.process_time()
        work()
        times.append(time.process_time() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10**6)
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    n, k = args.rows, args.classes
    rng = np.random.default_rng(0)
    actual = rng.integers(0, k, n)
    logits = rng.normal(size=(n, k))
    logits[np.arange(n), actual] += 2.5
    proba = np.exp(logits)
    proba /= proba.sum(axis=1, keepdims=True)
    classes = tuple(str(c) for c in range(k))
    predictions = Predictions(np.arange(n), actual, proba.argmax(axis=1), proba, classes)
    settings = params.EVALUATE_DEFAULTS
    bins = settings.calibration_bins
    calibration = calibration_of(actual, proba, n_bins=bins)
    rows = [
        ("calibration: bins and errors", lambda: calibration_of(actual, proba, n_bins=bins)),
        ("reliability diagram, PNG", lambda: png_bytes(reliability_diagram(calibration, classes))),
        ("every payload of evaluate", lambda: evaluate(predictions, settings)),
    ]
    print(f"{n:,} rows, {k} classes, {settings.calibration_bins} bins; CPU seconds, median")
    for name, work in rows:
        print(f"{name:34} {cpu_seconds(work, args.repeats):6.3f}")


if __name__ == "__main__":
    main()
