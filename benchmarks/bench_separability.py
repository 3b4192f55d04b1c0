"""Benchmark the one-pixel separability kernel against one logistic regression per pixel.

The kernel (``digitwise/pixels/separability.py``) finds, for every pair of classes and every
pixel, the threshold rule with the most correct training predictions, exactly, from
one ``np.bincount`` of per-class pixel histograms. The slow alternative it replaces
is the obvious one: fit a scikit-learn ``LogisticRegression`` on the one pixel for
every pair and every pixel, and read its decision threshold.

Two parts:

1. MNIST size, synthetic (seeded): 60,000 training and 10,000 held-out images of
   28x28 uint8 (V = 255), K = 10. Each class has its own smooth "ink probability"
   map inside a 20x20 centre (the border is blank, as in MNIST; 84% of pixels are 0),
   half shared by all classes, so the per-pair data looks like digit data to a
   logistic regression. The kernel is timed once cold
   (a fresh process: the first touch of its ~400 MB index array) and as the best of
   ``--repeats`` warm runs. 45 pairs x 784 pixels = 35,280 logistic regressions are
   too many to run, so ``--lr-sample`` of them (seeded random pairs and pixels, on
   that pair's real training samples) are timed and the per-fit mean extrapolated.
2. Digits (scikit-learn's 1,797 8x8 images, V = 16, the default params' stratified
   split): the whole kernel against all 45 x 64 = 2,880 logistic regressions. For
   every (pair, pixel) the regression's rule (it is a threshold rule too) is scored
   on the same training samples and compared with the exact best: how often it is
   lower, and by how much; it can never be higher (checked).

Logistic regression uses the defaults (lbfgs, C = 1) on the pixel scaled to 0..1, as
the project's features are; convergence warnings are silenced (a constant pixel or a
perfectly separating one makes lbfgs stop early; the fit is still usable).

Run from the project root::

    python benchmarks/bench_separability.py
    python benchmarks/bench_separability.py --lr-sample 500 --repeats 5
"""

import argparse
import os
import sys
import time
import warnings
from collections.abc import Callable

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression

from digitwise.data import datasets
from digitwise.pixels.separability import Separability, class_pairs, separability


def synthetic_mnist(
    seed: int, *, n_train: int = 60_000, n_test: int = 10_000, n_classes: int = 10
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Seeded digit-like images (n, 28, 28) uint8 in 0..255 and labels, train then test."""
    rng = np.random.default_rng(seed)
    # Per class a smooth ink-probability map: half a map all classes share, half its own,
    # so pairs overlap as digits do (the best single pixel scores about 0.85 held out).
    own, common = _blur(rng.random((n_classes, 20, 20))), _blur(rng.random((1, 20, 20)))
    maps = 0.5 * common + 0.5 * own
    maps = np.clip((maps - maps.mean()) * 6 + 0.3, 0, 0.95)
    n = n_train + n_test
    labels = rng.integers(0, n_classes, size=n)
    images = np.zeros((n, 28, 28), dtype=np.uint8)
    ink = rng.random((n, 20, 20), dtype=np.float32) < maps[labels]
    strength = rng.integers(64, 256, size=(n, 20, 20), dtype=np.uint8)
    images[:, 4:24, 4:24] = np.where(ink, strength, 0)
    return images[:n_train], labels[:n_train], images[n_train:], labels[n_train:]


def _blur(maps: np.ndarray) -> np.ndarray:
    """Maps (m, h, w) smoothed by three 3x3 means (edges repeated)."""
    h, w = maps.shape[1:]
    for _ in range(3):
        padded = np.pad(maps, ((0, 0), (1, 1), (1, 1)), mode="edge")
        maps = sum(padded[:, i : i + h, j : j + w] for i in range(3) for j in range(3)) / 9
    return maps


def timed(function: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


def fit_pixel(x: np.ndarray, is_a: np.ndarray, pixel_max: int) -> LogisticRegression:
    """One logistic regression on one pixel (n,) of one pair's samples; is_a (n,) bool."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return LogisticRegression().fit(x[:, None] / pixel_max, is_a)


def mnist_part(args: argparse.Namespace) -> None:
    print("== 1. MNIST size, synthetic: 60,000 + 10,000 images 28x28, V = 255, K = 10")
    train_x, train_y, test_x, test_y = synthetic_mnist(args.seed)

    def kernel() -> Separability:
        return separability(train_x, train_y, test_x, test_y, n_classes=10, pixel_max=255)

    cold, result = timed(kernel)
    warm = min(timed(kernel)[0] for _ in range(args.repeats))
    print(f"kernel, cold (first call in this process): {cold:.3f} s")
    print(f"kernel, warm (best of {args.repeats}):             {warm:.3f} s")

    pairs = class_pairs(10)
    n_pixels = 28 * 28
    total_fits = len(pairs) * n_pixels
    rng = np.random.default_rng(args.seed)
    chosen_pairs = rng.integers(0, len(pairs), size=args.lr_sample)
    chosen_pixels = rng.integers(0, n_pixels, size=args.lr_sample)
    flat = train_x.reshape(len(train_x), -1)
    fit_seconds = 0.0
    for q, p in zip(chosen_pairs, chosen_pixels, strict=True):
        a, b = pairs[q]
        rows = (train_y == a) | (train_y == b)
        x, is_a = flat[rows, p], train_y[rows] == a  # selecting the data is not timed
        start = time.perf_counter()
        fit_pixel(x, is_a, 255)
        fit_seconds += time.perf_counter() - start
    per_fit = fit_seconds / args.lr_sample
    extrapolated = per_fit * total_fits
    print(
        f"logistic regression: {args.lr_sample} sampled fits (of {total_fits:,}) took "
        f"{fit_seconds:.2f} s, {per_fit * 1e3:.2f} ms per fit"
    )
    print(f"logistic regression, all {total_fits:,} fits, extrapolated: {extrapolated:,.0f} s")
    print(f"ratio, extrapolated LR / kernel warm: {extrapolated / warm:,.0f}x")
    print(f"ratio, extrapolated LR / kernel cold: {extrapolated / cold:,.0f}x")
    defined = np.isfinite(result.best_test_accuracy)
    print(
        f"(best one-pixel held-out accuracy on this synthetic data: mean "
        f"{result.best_test_accuracy[defined].mean():.3f})"
    )


def digits_part(args: argparse.Namespace) -> None:
    print()
    print("== 2. digits: 1,797 images 8x8, V = 16, K = 10 (test_size 0.25, seed 0)")
    dataset = datasets.load_digits_source()
    train, test = datasets.split(dataset, test_size=0.25, seed=0)
    k, v = len(dataset.classes), dataset.pixel_max

    def kernel() -> Separability:
        return separability(
            train.images, train.labels, test.images, test.labels, n_classes=k, pixel_max=v
        )

    kernel_seconds = min(timed(kernel)[0] for _ in range(args.repeats))
    result: Separability = kernel()

    flat = train.images.reshape(len(train.labels), -1)
    n_pixels = flat.shape[1]
    lr_accuracy = np.zeros(result.train_accuracy.shape)
    start = time.perf_counter()
    for q, (a, b) in enumerate(result.pairs):
        rows = (train.labels == a) | (train.labels == b)
        is_a = train.labels[rows] == a
        for p in range(n_pixels):
            x = flat[rows, p]
            model = fit_pixel(x, is_a, v)
            lr_accuracy[q, p] = np.mean(model.predict(x[:, None] / v) == is_a)
    lr_seconds = time.perf_counter() - start
    n_fits = lr_accuracy.size
    print(f"kernel (best of {args.repeats}): {kernel_seconds * 1e3:.1f} ms")
    print(
        f"logistic regression, all {n_fits:,} fits: {lr_seconds:.1f} s "
        f"({lr_seconds / n_fits * 1e3:.2f} ms per fit)"
    )
    print(f"ratio LR / kernel: {lr_seconds / kernel_seconds:,.0f}x")

    exact = result.train_accuracy
    # Both are fractions of the same n, so compare the counts of correct predictions.
    n = result.n_train[:, None]
    lr_correct, exact_correct = np.rint(lr_accuracy * n), np.rint(exact * n)
    lower = lr_correct < exact_correct
    if (lr_correct > exact_correct).any():
        raise SystemExit("BUG: a logistic regression beat the exact best threshold rule")
    gap = (exact - lr_accuracy)[lower]
    print(
        f"(pair, pixel) where the LR threshold's in-sample accuracy is lower than the exact "
        f"best: {lower.sum():,} of {n_fits:,} ({lower.mean():.1%}); "
        f"gap mean {gap.mean():.3f}, max {gap.max():.3f}"
    )
    best_lr = lr_accuracy.max(axis=1)
    pairs_lower = np.rint(best_lr * result.n_train) < np.rint(
        result.best_train_accuracy * result.n_train
    )
    print(
        f"pairs whose best LR pixel is lower in-sample than the exact best pixel: "
        f"{pairs_lower.sum()} of {len(result.pairs)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lr-sample", type=int, default=200, help="LR fits timed at MNIST size")
    parser.add_argument("--repeats", type=int, default=3, help="warm kernel runs (best of)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"$ python {' '.join(sys.argv)}")
    print(
        f"numpy {np.__version__}, scikit-learn {sklearn.__version__}, "
        f"{os.cpu_count()} CPUs, python {sys.version.split()[0]}"
    )
    mnist_part(args)
    digits_part(args)


if __name__ == "__main__":
    main()
