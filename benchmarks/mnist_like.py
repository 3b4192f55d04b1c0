"""Write a synthetic MNIST-format file set: 28x28 digits with real, learnable structure.

Each image is one of scikit-learn's 8x8 digits, upsampled to 20x20 (bilinear), drawn
with a thinner, the same or a thicker stroke, shifted by up to 2 pixels in each
direction inside a 28x28 canvas (as MNIST centres 20x20 digits in 28x28), dimmed a
little and overlaid with noise. The train images are made from three quarters of the
8x8 digits and the test images from the rest, so a model must generalise to writers
it has not seen, as on MNIST. Seeded: the same arguments give the same bytes.

    python benchmarks/mnist_like.py DIRECTORY [--train 60000] [--test 10000] [--gzip]

This is test and benchmark data, not MNIST: its accuracy says nothing about MNIST's.
"""

import argparse
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from digitwise.data import idx  # noqa: E402

SIZE, DIGIT, MAX_SHIFT = 28, 20, 2
# Class names that are words (Fashion-MNIST's), for trying names on the digit images
WORD_CLASSES = [
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
]


def templates() -> tuple[np.ndarray, np.ndarray]:
    """(strokes (n, 3, 20, 20) float32 in 0..1: thin, normal, thick; labels (n,))."""
    from scipy import ndimage
    from sklearn.datasets import load_digits

    digits = load_digits()
    small = digits.images.astype(np.float32) / 16.0
    normal = ndimage.zoom(small, (1, DIGIT / 8, DIGIT / 8), order=1).clip(0, 1)
    thick = ndimage.grey_dilation(normal, size=(1, 3, 3))
    thin = ndimage.grey_erosion(normal, size=(1, 2, 2))
    return np.stack([thin, normal, thick], axis=1), digits.target.astype(np.uint8)


def generate(
    n: int, strokes: np.ndarray, labels: np.ndarray, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """n images (n, 28, 28) uint8 and their labels, drawn from the given templates."""
    chosen = rng.integers(len(strokes), size=n)
    variant = rng.integers(3, size=n)
    shift = rng.integers(-MAX_SHIFT, MAX_SHIFT + 1, size=(n, 2))
    canvas = np.zeros((n, SIZE, SIZE), dtype=np.float32)
    offset = (SIZE - DIGIT) // 2
    for dy in range(-MAX_SHIFT, MAX_SHIFT + 1):
        for dx in range(-MAX_SHIFT, MAX_SHIFT + 1):
            rows = np.flatnonzero((shift[:, 0] == dy) & (shift[:, 1] == dx))
            top, left = offset + dy, offset + dx
            canvas[rows, top : top + DIGIT, left : left + DIGIT] = strokes[
                chosen[rows], variant[rows]
            ]
    canvas *= rng.uniform(0.7, 1.0, size=(n, 1, 1)).astype(np.float32)
    canvas += rng.normal(0.0, 0.05, size=canvas.shape).astype(np.float32)
    images = np.rint(canvas.clip(0, 1) * 255).astype(np.uint8)
    return images, labels[chosen]


def write_set(
    directory: str | Path, *, n_train: int, n_test: int, seed: int = 0, compress: bool = False
) -> Path:
    """Write the four standard files into ``directory``; returns it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    strokes, labels = templates()
    writers = rng.permutation(len(labels))
    cut = len(labels) * 3 // 4
    parts = {"train": (n_train, writers[:cut]), "test": (n_test, writers[cut:])}
    for part, (count, rows) in parts.items():
        images, part_labels = generate(count, strokes[rows], labels[rows], rng)
        images_name, labels_name = idx.PARTS[part]
        suffix = ".gz" if compress else ""
        idx.write(directory / f"{images_name}{suffix}", images, compress=compress)
        idx.write(directory / f"{labels_name}{suffix}", part_labels, compress=compress)
    return directory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("directory")
    parser.add_argument("--train", type=int, default=60_000)
    parser.add_argument("--test", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--gzip", action="store_true", help="write .gz files")
    args = parser.parse_args()
    write_set(
        args.directory, n_train=args.train, n_test=args.test, seed=args.seed, compress=args.gzip
    )


if __name__ == "__main__":
    main()
