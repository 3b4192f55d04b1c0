"""The reliability diagram: how far the probabilities are from the frequencies they claim.

Left, the top label: per equal-width bin of confidence (the largest probability), the
accuracy as a bar against the bin's mean confidence (the diagonal is perfect
calibration), and beneath it a bar of the samples in each bin. Right, up to
``MAX_CLASS_PANELS`` classes, one small panel per class: its one-vs-rest curve, the
share of class k against the mean p(k) in each bin of p(k). Drawing only: nothing here
saves.
"""

import math
from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter, NullFormatter

from digitwise.figures.images import panel_grid_shape, show_empty
from digitwise.metrics.calibration import LABEL_ONLY_NOTE, Calibration, bin_edges

MAX_CLASS_PANELS = 12  # beyond this, small multiples are too small to read
BAR_COLOUR = "#4c72b0"  # seaborn's deep blue, as the heatmaps use seaborn's look
GAP_COLOUR = "#c44e52"
CLASS_PANEL = 1.5  # inches
MAIN_WIDTH = 4.2


def reliability_diagram(calibration: Calibration | None, classes: Sequence[str]) -> Figure:
    """The top-label diagram with its counts, and per-class curves for <= 12 classes.

    ``calibration`` None (predictions without probabilities): a figure that says so.
    """
    if calibration is None:
        return _note_figure(LABEL_ONLY_NOTE)
    per_class = len(classes) <= MAX_CLASS_PANELS
    rows, cols = panel_grid_shape(len(classes)) if per_class else (0, 0)
    width = MAIN_WIDTH + 1.0 + (cols * CLASS_PANEL + 0.6 if per_class else 0)
    height = max(5.2, rows * (CLASS_PANEL + 0.45) + 0.9)
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    main_right = (MAIN_WIDTH + 0.7) / width
    grid = figure.add_gridspec(
        2,
        1,
        height_ratios=(3, 1),
        left=0.7 / width,
        right=main_right,
        bottom=0.6 / height,
        top=1 - 0.6 / height,
        hspace=0.08,
    )
    top, counts = figure.add_subplot(grid[0]), figure.add_subplot(grid[1])
    draw_top_label(top, counts, calibration)
    if per_class:
        class_grid = figure.add_gridspec(
            rows,
            cols,
            left=main_right + 0.55 / width,
            right=1 - 0.15 / width,
            bottom=0.6 / height,
            top=1 - 0.6 / height,
            wspace=0.25,
            hspace=0.55,
        )
        for k, name in enumerate(classes):
            ax = figure.add_subplot(class_grid[k // cols, k % cols])
            bottom = k + cols >= len(classes)
            draw_class_curve(ax, calibration, k, name, bottom=bottom, left=k % cols == 0)
    figure.suptitle(
        f"Calibration: ECE {calibration.ece:.4f}, classwise ECE "
        f"{calibration.classwise_ece:.4f} ({calibration.sums.n_bins} bins)",
        fontsize=11,
    )
    if not per_class:
        figure.text(
            0.5,
            0.01,
            f"per-class curves are drawn up to {MAX_CLASS_PANELS} classes; "
            "calibration.json holds every class's bins",
            ha="center",
            fontsize=8,
        )
    return figure


def draw_top_label(ax: Axes, counts_ax: Axes, calibration: Calibration) -> None:
    """Accuracy per bin as bars, the gap to the mean confidence, the diagonal; counts below."""
    edges = bin_edges(calibration.sums.n_bins)
    left, widths = edges[:-1], np.diff(edges)
    filled = calibration.sums.counts > 0
    accuracy = np.where(filled, calibration.accuracy, 0.0)
    confidence = calibration.mean_confidence
    ax.bar(
        left,
        accuracy,
        width=widths,
        align="edge",
        color=BAR_COLOUR,
        edgecolor="white",
        label="accuracy",
    )
    ax.scatter(
        confidence[filled],
        accuracy[filled],
        s=14,
        color=GAP_COLOUR,
        zorder=3,
        label="mean confidence",
    )
    gaps = confidence[filled]
    ax.vlines(gaps, accuracy[filled], gaps, color=GAP_COLOUR, linewidth=1, zorder=3)  # one artist
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.4", linewidth=1, label="calibrated")
    ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy")
    ax.set_title("Top label: accuracy against confidence", fontsize=10)
    ax.tick_params(labelbottom=False)
    ax.legend(loc="upper left", fontsize=8, framealpha=0.9)
    counts_ax.bar(
        left, calibration.sums.counts, width=widths, align="edge", color="0.55", edgecolor="white"
    )
    counts_ax.set(xlim=(0, 1), xlabel="confidence (largest probability)", ylabel="samples")
    if calibration.sums.counts.max(initial=0) > 0:
        counts_ax.set_yscale("log")
        # "10⁴" as plain text: matplotlib's "$10^{4}$" is parsed as mathematics, a tenth
        # of the figure's time
        counts_ax.yaxis.set_major_formatter(FuncFormatter(_power_of_ten))
        counts_ax.yaxis.set_minor_formatter(NullFormatter())


def draw_class_curve(
    ax: Axes, calibration: Calibration, k: int, name: str, *, bottom: bool, left: bool = True
) -> None:
    """Class k one-vs-rest: share of class k against mean p(k), per non-empty bin; tick
    labels under the ``bottom`` panels, beside the ``left`` ones.

    The frame, ticks and their labels are a patch, one line collection and a few texts,
    not matplotlib's axis machinery: with it, ten small panels took two thirds of the
    figure's time."""
    filled = calibration.sums.class_counts[k] > 0
    ax.plot([0, 1], [0, 1], linestyle="--", color="0.6", linewidth=0.8)
    ax.plot(
        calibration.mean_proba[k][filled],
        calibration.positive_rate[k][filled],
        marker="o",
        markersize=3,
        color=BAR_COLOUR,
        linewidth=1,
    )
    ax.set(xlim=(0, 1), ylim=(0, 1))
    ax.set_axis_off()
    ax.xaxis.set_visible(False)  # no ticks computed at all, for the title's place either
    ax.yaxis.set_visible(False)
    frame = {"transform": ax.transAxes, "clip_on": False}
    ax.add_patch(Rectangle((0, 0), 1, 1, fill=False, linewidth=0.8, **frame))
    ticks = [[(v, 0), (v, -_TICK)] for v in _TICKS] if bottom else []
    ticks += [[(0, v), (-_TICK, v)] for v in _TICKS] if left else []
    ax.add_collection(LineCollection(ticks, colors="black", linewidths=0.8, **frame))
    for v, label in zip(_TICKS, _TICK_LABELS, strict=True):
        if bottom:
            ax.text(v, -2.5 * _TICK, label, ha="center", va="top", fontsize=7, **frame)
        if left:
            ax.text(-2 * _TICK, v, label, ha="right", va="center", fontsize=7, **frame)
    ax.set_title(f"{name}: ECE {calibration.class_ece[k]:.3f}", fontsize=8)
    if bottom:
        ax.text(0.5, -0.22, f"mean p({name})", ha="center", va="top", fontsize=7, **frame)
    if left:
        ax.text(-0.2, 0.5, "share of the class", rotation=90, fontsize=7, **_LABEL, **frame)


_TICKS = (0.0, 0.5, 1.0)
_TICK_LABELS = ("0", "0.5", "1")
_TICK = 0.035  # of a panel's side: about matplotlib's 3.5-point ticks
_LABEL = {"ha": "right", "va": "center"}


_SUPERSCRIPTS = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(value: float, _position: int) -> str:
    """A log axis's tick label: "10³" at a power of ten, nothing between."""
    exponent = round(math.log10(value)) if value > 0 else None
    if exponent is None or not math.isclose(value, 10.0**exponent):
        return ""
    return "10" + str(exponent).translate(_SUPERSCRIPTS)


def _note_figure(text: str) -> Figure:
    figure = Figure(figsize=(6, 1.2))
    FigureCanvasAgg(figure)
    show_empty(figure.subplots(), text)
    return figure
