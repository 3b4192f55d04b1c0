"""Figures of one-pixel separability. Drawing only: nothing here saves.

Colour scales. The heatmap is red (low) to blue (high) like the pairwise accuracy's, over
the range of its pairs (``scales.observed_scale``): 0.78 against 0.98 on the digits get
the two ends of the scale. A threshold at 0 (all one class) already scores the larger
class's share, about 0.5, so the per-pixel maps use a sequential scale over 0.5..1
(``MAP_CMAP``); values below 0.5, possible on the held-out split only, are clipped (the
colorbar's arrow).
"""

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from digitwise.figures import heatmaps, images
from digitwise.figures.scales import observed_scale
from digitwise.metrics.ordering import ClassOrder
from digitwise.pixels.diagnosis import PairMap

ACCURACY_CMAP = "RdBu"  # red = low, blue = high; as heatmaps.pairwise_accuracy_heatmap
MARKER_COLOUR = "#ff9f1c"  # orange: stands out on gray_r digits and on the red-blue maps
# The maps stretch the upper half of that scale: white = chance (0.5), dark blue = 1, so the
# meaning of white and blue stays, while pixels, most of them between 0.5 and 0.8, get
# twice the contrast. Below chance is clipped to white (the colorbar's arrow).
MAP_CMAP = "Blues"
MAP_LIMITS = (0.5, 1.0)
MAP_COLORBAR_LABEL = "held-out accuracy of the pixel's best threshold"
LABELLED_PAIRS = 8  # pairs named on the scatter: those the model separates worst


def separability_heatmap(
    accuracy: np.ndarray,
    classes: Sequence[str],
    *,
    ax: Axes | None = None,
    order: ClassOrder | None = None,
) -> Figure:
    """Best single-pixel held-out accuracy, (K, K) symmetric; NaN cells (diagonal) blank.
    Red (low) to blue (high) over the values' range; ``order``: of the rows and columns."""
    annotations = np.array(
        [["" if np.isnan(value) else f"{value:.2f}" for value in row] for row in accuracy]
    )
    scale = observed_scale(accuracy)
    return heatmaps.draw_matrix(
        accuracy,
        classes,
        ax,
        annotations=annotations,
        cmap=ACCURACY_CMAP,
        vmin=scale.low,
        vmax=scale.high,
        colorbar_label="held-out accuracy of the best single pixel\n"
        f"(guessing the larger class scores about 0.5)\n{scale.describe()}",
        title="One-pixel separability: best single pixel and threshold",
        xlabel=heatmaps.pair_axis_names(classes)[0],
        ylabel=heatmaps.pair_axis_names(classes)[1],
        order=order,
    )


def separability_maps(pair_maps: Sequence[PairMap], *, pixel_max: int, empty: str) -> Figure:
    """One row per pair: mean image of a, of b, and the per-pixel held-out accuracy map.

    The best pixel (chosen on the training split) is ringed in every panel. Without
    pairs, one panel saying ``empty``.
    """
    title = "One-pixel separability maps of the most confused pairs"
    if not pair_maps:
        figure, axes = images.grid_figure(1, 1, panel=4.0, top=0.6)
        images.show_empty(axes[0, 0], empty)
        figure.suptitle(title, fontsize=10)
        return figure
    figure, axes = images.grid_figure(len(pair_maps), 3, panel=1.7, top=0.95)
    for row, pair in zip(axes, pair_maps, strict=True):
        images.show_image(
            row[0], _blank_nan(pair.mean_a), vmax=pixel_max, title=f"mean {pair.a}\n(train)"
        )
        images.show_image(
            row[1], _blank_nan(pair.mean_b), vmax=pixel_max, title=f"mean {pair.b}\n(train)"
        )
        if pair.best is None:
            images.show_empty(
                row[2], f"{pair.a} vs {pair.b}: undefined\n(class absent in training)"
            )
            continue
        low, high = MAP_LIMITS
        row[2].imshow(pair.accuracy, cmap=MAP_CMAP, vmin=low, vmax=high, interpolation="nearest")
        row[2].set_xticks([])
        row[2].set_yticks([])
        r, c = pair.best
        # two lines: a pair of word class names ("T-shirt/top vs Sandal") fills one
        row[2].set_title(
            f"{pair.a} vs {pair.b}\npixel ({r}, {c}): {pair.best_accuracy:.2f}", fontsize=8
        )
        for ax in row:
            ax.plot(c, r, "o", markersize=9, markerfacecolor="none", color=MARKER_COLOUR, mew=1.8)
    colorbar = figure.colorbar(
        ScalarMappable(norm=Normalize(*MAP_LIMITS), cmap=MAP_CMAP),
        ax=list(np.ravel(axes)),
        shrink=0.8,
        pad=0.03,
        extend="min",
    )
    colorbar.set_label(MAP_COLORBAR_LABEL, fontsize=8)
    figure.suptitle(f"{title}\n(ring: best pixel, chosen on the training split)", fontsize=10)
    return figure


def model_vs_data_scatter(
    pixel_accuracy: np.ndarray, model_accuracy: np.ndarray, names: Sequence[str]
) -> Figure:
    """Per pair (Q,): x = best one-pixel held-out accuracy, y = the model's pairwise accuracy.

    ``names`` (Q,) label the points, e.g. "8-1"; the ``LABELLED_PAIRS`` pairs with the
    lowest model accuracy are named (ties: the earlier pair). Pairs with either value
    NaN are left out and counted in the title.
    """
    figure = Figure(figsize=(6.4, 6.0))
    FigureCanvasAgg(figure)  # placing labels measures text; make the renderer once
    ax = figure.add_subplot()
    shown = np.isfinite(pixel_accuracy) & np.isfinite(model_accuracy)
    x, y = pixel_accuracy[shown], model_accuracy[shown]
    # Each axis spans its own data: a good model's accuracies sit in a thin band near 1,
    # and on equal axes their labels would pile up. The y = x line stays the reference.
    xlim, ylim = _span(x), _span(y)
    diagonal = (min(xlim[0], ylim[0]), max(xlim[1], ylim[1]))
    ax.fill_between(diagonal, diagonal, diagonal[0], color="tab:red", alpha=0.06, lw=0)
    ax.plot(diagonal, diagonal, color="0.4", linewidth=1, linestyle="--", label="y = x")
    ax.scatter(
        x, y, s=DOT_SIZE, color="tab:blue", alpha=0.6, edgecolor="none", label="pair of classes"
    )
    # the LABELLED_PAIRS lowest, and every pair tied with the last of them
    cut = np.sort(y)[min(LABELLED_PAIRS, len(y)) - 1] if len(y) else 0.0
    worst = np.flatnonzero(y <= cut)
    ax.scatter(
        x[worst],
        y[worst],
        s=NAMED_DOT_SIZE,
        color="tab:red",
        edgecolor="none",
        label="lowest model accuracy",
    )
    ax.set_xlim(xlim)
    ax.set_ylim(ylim)
    shown_names = [name for name, keep in zip(names, shown, strict=True) if keep]
    _place_labels(ax, [(x[i], y[i], shown_names[i]) for i in worst], np.column_stack([x, y]))
    ax.set_xlabel("best single pixel: held-out accuracy (how separable the data is)")
    ax.set_ylabel("model: pairwise accuracy (held-out)")
    left_out = int((~shown).sum())
    note = f"; {left_out} undefined left out" if left_out else ""
    ax.set_title(
        f"Model vs one pixel, {int(shown.sum())} pairs of classes{note}\n"
        "low x: hard in the data; low y at high x: the model's fault\n"
        "(shaded: the model does worse than one pixel)",
        fontsize=9,
    )
    # below the axis label, where it covers no dot and no name
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=3, fontsize=8, frameon=False)
    ax.grid(alpha=0.3)
    return figure


def _span(values: np.ndarray) -> tuple[float, float]:
    """Axis limits around values in 0..1 with a margin; (0, 1) when there are none."""
    if values.size == 0:
        return 0.0, 1.0
    low, high = float(values.min()), float(values.max())
    margin = max(0.06 * (high - low), 0.005)
    return low - margin, high + margin


# Where a label may go relative to its point, in points: around it in eight directions,
# nearest ring first; from the third ring on, a thin line joins label and point.
_DIRECTIONS = ((1, 0), (-1, 0), (0, 1), (0, -1), (1, 1), (-1, 1), (1, -1), (-1, -1))
_LABEL_OFFSETS = tuple(
    (radius * dx, radius * dy) for radius in (6, 11, 17, 25, 35, 48) for dx, dy in _DIRECTIONS
)
_LEADER_FROM = 17  # points: offsets this far get a line to their point
DOT_SIZE, NAMED_DOT_SIZE = 18, 24  # scatter sizes, points squared


def _place_labels(ax: Axes, points: Sequence[tuple[float, float, str]], dots: np.ndarray) -> None:
    """Name ``points``, each at the first offset where its label covers no dot (``dots``,
    (n, 2) in data coordinates) and no label placed before, inside the axes. Where none
    is free, the offset that overlaps fewest; a name is never dropped."""
    figure = ax.get_figure()
    renderer = figure.canvas.get_renderer()
    radius = np.sqrt(NAMED_DOT_SIZE) / 2 * figure.dpi / 72 + 1  # a marker's half-width, px
    taken = [
        Bbox.from_extents(px - radius, py - radius, px + radius, py + radius)
        for px, py in ax.transData.transform(np.reshape(dots, (-1, 2)))
    ]
    frame = ax.get_window_extent(renderer)
    for x, y, name in points:
        best = None  # (overlaps, text, box)
        for dx, dy in _LABEL_OFFSETS:
            text = _label(ax, x, y, name, dx, dy)
            text.update_positions(renderer)
            box = Text.get_window_extent(text, renderer)  # the name's, without its line
            inside = frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0
            inside = inside and box.y1 <= frame.y1
            overlaps = sum(box.overlaps(other) for other in taken) + (not inside)
            if best is None or overlaps < best[0]:
                if best is not None:
                    best[1].remove()
                best = (overlaps, text, box)
            else:
                text.remove()
            if overlaps == 0:
                break
        taken.append(best[2])


def _label(ax: Axes, x: float, y: float, name: str, dx: float, dy: float):
    """A red name at (dx, dy) points from (x, y), anchored on the side facing it."""
    leader = {"arrowstyle": "-", "color": "tab:red", "lw": 0.6, "shrinkA": 1, "shrinkB": 3}
    return ax.annotate(
        name,
        (x, y),
        xytext=(dx, dy),
        textcoords="offset points",
        ha="left" if dx > 0 else "right" if dx < 0 else "center",
        va="bottom" if dy > 0 else "top" if dy < 0 else "center",
        fontsize=8,
        color="tab:red",
        zorder=4,  # above the dots
        arrowprops=leader if max(abs(dx), abs(dy)) >= _LEADER_FROM else None,
    )


def _blank_nan(image: np.ndarray) -> np.ndarray:
    """An absent class's mean (all NaN) drawn as a blank panel rather than failing."""
    return np.where(np.isnan(image), 0.0, image)
