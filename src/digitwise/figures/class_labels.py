"""Class names on the axes of a heatmap: one per cell, or every k-th (k = 1, 2, 5, 10,
20, ...) where one per cell would overlap; long names shortened, upright while they fit."""

import itertools
from collections.abc import Iterator, Sequence

import numpy as np
from matplotlib.axes import Axes

# Tick labels one line apart at least: a line of text is about 1.2 em high, plus a gap.
LINE_SPACING = 1.5  # em
# Points: class names once they are thinned. Every k-th name has k cells of room, so it
# need not shrink with the cells.
THINNED_TICK_FONT = 8.0


def label_step(cell: float, font: float) -> int:
    """Label every k-th class, so names in ``font`` points sit a line apart on cells of
    ``cell`` inches: the smallest k in 1, 2, 5, 10, 20, 50, ... that does."""
    needed = font * LINE_SPACING / 72 / cell
    return next(step for step in _round_steps() if step >= needed)


def _round_steps() -> Iterator[int]:
    for power in itertools.count():
        yield from (base * 10**power for base in (1, 2, 5))


def label_classes(ax: Axes, classes: Sequence[str], font: float) -> None:
    """Class names on both axes: every class's, or every k-th from the first where
    one per cell would overlap. The cells are measured on the axes as drawn (after
    the colorbar was carved out), so a given ``ax`` of any size is thinned right."""
    width, height = ax.get_figure().get_size_inches()
    box = ax.get_position()
    cell = min(box.width * width, box.height * height) / len(classes)  # square cells
    step = label_step(cell, font)
    if step > 1:
        font = max(font, THINNED_TICK_FONT)
        step = label_step(cell, font)
    positions = np.arange(0, len(classes), step) + 0.5
    shown = [shortened(name) for name in list(classes)[::step]]
    # Upright names while they fit between two labels with an em to spare (about 0.6 em
    # per character).
    widest = (max(len(name) for name in shown) * 0.6 + 1) * font / 72
    ax.set_xticks(positions, shown, rotation=90 if widest > step * cell else 0)
    ax.set_yticks(positions, shown, rotation=0, va="center")
    ax.tick_params(axis="both", labelsize=font, length=0)


MAX_NAME = 24  # characters of a class name shown on an axis: the figure stays bounded


def shortened(name: str) -> str:
    return name if len(name) <= MAX_NAME else name[: MAX_NAME - 1] + "\N{HORIZONTAL ELLIPSIS}"
