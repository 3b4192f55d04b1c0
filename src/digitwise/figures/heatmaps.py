"""Heatmaps of the evaluation matrices in seaborn's style (cells with their numbers up
to 40 classes, colour only above), drawn with matplotlib. Drawing only: nothing here
saves.

Each function takes the matrix, the ordered class names and an optional ``ax``,
and returns the figure. Without an ``ax`` it makes a ``matplotlib.figure.Figure``
(no pyplot, so no global state and no GUI backend) sized for the number of
classes: cells keep a readable size up to a grid of ``MAX_GRID`` inches, and the
figure never grows past about 20 inches (2,000 px at the saved dpi), whatever the
number of classes. Numbers shrink with the cells and are left out when cells get
too small to hold them; class names are thinned to every k-th class (k = 1, 2, 5,
10, 20, ...) where one per cell would overlap. An ``order``
(``digitwise.metrics.ordering.ClassOrder``) lists the rows and columns in that order,
and the title says which.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from digitwise.figures.class_labels import label_classes
from digitwise.figures.scales import observed_scale
from digitwise.metrics.classification import normalize_confusion
from digitwise.metrics.ordering import ClassOrder

# Above this many classes the per-cell numbers would be unreadable: colour only.
MAX_ANNOTATED_CLASSES = 40
# Inches: the largest grid. With its margins and colorbar the figure is then about
# 19 x 16 in, which keeps 1,000 classes well inside Pillow's decompression-bomb limit.
MAX_GRID = 14.0


@dataclass(frozen=True)
class Layout:
    cell: float  # inches per cell
    font: float  # points, for the numbers in the cells
    tick_font: float  # points, for the class names
    annotate: bool


def layout(n_classes: int) -> Layout:
    # a grid of at least 3 in (a 2x2 matrix must still hold its title), 0.6 in cells up
    # to 12 classes, then a grid of about 12 in (0.43 in at 28 classes), then 0.16 in
    # cells up to a grid of MAX_GRID (88 classes), which stays: the cells shrink instead
    if n_classes <= 12:
        cell = max(0.6, 3 / n_classes)
    else:
        cell = float(np.clip(0.16 * n_classes, 12, MAX_GRID)) / n_classes
    return Layout(
        cell=cell,
        font=float(np.clip(cell * 16, 5, 10)),
        tick_font=float(np.clip(cell * 18, 6, 10)),
        annotate=n_classes <= MAX_ANNOTATED_CLASSES,
    )


def _figure_and_axes(n_classes: int, ax: Axes | None) -> tuple[Figure, Axes]:
    if ax is not None:
        return ax.get_figure(), ax
    grid = layout(n_classes).cell * n_classes
    # inches around the grid: tick and axis labels, the title, and on the right the
    # colorbar, which seaborn carves out of the axes (15% of their width, plus a gap)
    left, right, bottom, top = 1.0, 0.2, 0.9, 0.6
    axes_width = grid / 0.78
    figure = Figure(figsize=(left + axes_width + right, bottom + grid + top))
    # An Agg canvas up front, so texts are measured with one renderer: a figure without
    # a canvas makes a new one for every label measured.
    FigureCanvasAgg(figure)
    width, height = figure.get_size_inches()
    figure.subplots_adjust(
        left=left / width, right=1 - right / width, bottom=bottom / height, top=1 - top / height
    )
    return figure, figure.add_subplot()


def draw_matrix(
    matrix: np.ndarray,
    classes: Sequence[str],
    ax: Axes | None,
    *,
    annotations: np.ndarray | Callable[[], np.ndarray],
    cmap: str,
    vmin: float,
    vmax: float,
    colorbar_label: str,
    title: str,
    xlabel: str,
    ylabel: str,
    order: ClassOrder | None = None,
) -> Figure:
    """A (K, K) matrix as a heatmap with a colorbar, rows top to bottom in class order
    (or in ``order``, which the title then names).

    ``annotations`` are the cell texts, (K, K) strings, or a function returning them:
    it is called only when the cells are annotated, since making a million strings
    for 1,000 classes would take longer than drawing them would.
    """
    figure, ax = _figure_and_axes(len(classes), ax)
    style = layout(len(classes))
    if order is not None:
        matrix, classes = order.apply(matrix), order.names(classes)
        title = f"{title}\n({order.note})" if order.note else title
    if style.annotate:
        if callable(annotations):
            annotations = annotations()
        if order is not None:
            annotations = order.apply(annotations)
        _draw_cells(matrix, ax, annotations, style, cmap, vmin, vmax, colorbar_label)
    else:
        _draw_image(matrix, ax, cmap, vmin, vmax, colorbar_label)
    ax.set_title(title)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    label_classes(ax, classes, style.tick_font)
    return figure


def _draw_cells(matrix, ax, annotations, style, cmap, vmin, vmax, colorbar_label) -> None:
    """Cells with their numbers and white lines between them, drawn as seaborn's
    ``heatmap(annot=..., square=True, linewidths=0.5)`` draws them, with matplotlib
    alone: importing seaborn (and the scipy.stats it loads) would cost the evaluate
    command 1.3 s, a quarter of its time on 10^6 predictions."""
    n_rows, n_columns = np.shape(matrix)
    data = np.ma.masked_invalid(np.asarray(matrix, dtype=np.float64))
    mesh = ax.pcolormesh(data, cmap=cmap, vmin=vmin, vmax=vmax, linewidths=0.5, edgecolor="white")
    ax.set(xlim=(0, n_columns), ylim=(0, n_rows))
    ax.invert_yaxis()
    ax.set_aspect("equal")
    _colorbar(ax, mesh, colorbar_label)
    mesh.update_scalarmappable()
    faces = mesh.get_facecolors()
    texts = np.asarray(annotations)
    for index, (value, face) in enumerate(zip(data.ravel(), faces, strict=True)):
        if value is np.ma.masked:
            continue
        row, column = divmod(index, n_columns)
        ax.text(
            column + 0.5,
            row + 0.5,
            str(texts[row, column]),
            color=".15" if _luminance(face) > 0.408 else "w",  # seaborn's rule
            ha="center",
            va="center",
            fontsize=style.font,
            in_layout=False,  # inside its cell: the cropped box is the same without it
        )


def _luminance(rgba) -> float:
    """Relative luminance of a colour (W3C), as seaborn picks dark or light cell text."""
    rgb = np.asarray(rgba[:3])
    rgb = np.where(rgb <= 0.03928, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(rgb @ [0.2126, 0.7152, 0.0722])


def _colorbar(ax, mappable, label: str) -> None:
    """Seaborn's colorbar: 80% of the grid's height, carved out of the axes, no outline;
    and no spines around the cells."""
    colorbar = ax.get_figure().colorbar(mappable, ax=ax, shrink=0.8, label=label)
    colorbar.outline.set_linewidth(0)
    for spine in ax.spines.values():
        spine.set_visible(False)


def _draw_image(matrix, ax, cmap, vmin, vmax, colorbar_label) -> None:
    """Colour only, above ``MAX_ANNOTATED_CLASSES``: the cells as one image, laid out as
    above (rows from the top, NaN blank). A million cells take ~0.4 s per draw as a
    mesh and ~0.05 s as an image; nearest-neighbour, so with at least a pixel per cell (the grid
    is 1,400 px) every cell shows."""
    n = len(matrix)
    image = ax.imshow(
        np.ma.masked_invalid(np.asarray(matrix, dtype=np.float64)),
        cmap=cmap,
        vmin=vmin,
        vmax=vmax,
        extent=(0, n, n, 0),
        interpolation="nearest",
        aspect="equal",
    )
    ax.set_xlim(0, n)
    ax.set_ylim(n, 0)
    _colorbar(ax, image, colorbar_label)


def confusion_counts_heatmap(
    counts: np.ndarray,
    classes: Sequence[str],
    *,
    ax: Axes | None = None,
    order: ClassOrder | None = None,
) -> Figure:
    """Counts of shape (n_classes, n_classes): rows are true labels, columns predictions."""
    return draw_matrix(
        counts,
        classes,
        ax,
        annotations=lambda: counts.astype(str),
        cmap="Blues",
        vmin=0,
        vmax=max(int(counts.max()), 1),
        colorbar_label="samples",
        title=f"Confusion matrix ({int(counts.sum())} samples)",
        xlabel="Prediction",
        ylabel="Label",
        order=order,
    )


def confusion_normalized_heatmap(
    counts: np.ndarray,
    classes: Sequence[str],
    *,
    ax: Axes | None = None,
    order: ClassOrder | None = None,
) -> Figure:
    """Colour = share of the true class; each cell shows the share and, below it, the count."""
    totals = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, totals, out=np.zeros(counts.shape), where=totals != 0)

    def annotations() -> np.ndarray:
        return np.array(
            [
                [
                    f"{share:.2f}\n{count}" if count else ""
                    for share, count in zip(row_s, row_c, strict=True)
                ]
                for row_s, row_c in zip(shares, counts, strict=True)
            ]
        )

    return draw_matrix(
        shares,
        classes,
        ax,
        annotations=annotations,
        cmap="Blues",
        vmin=0,
        vmax=1,
        colorbar_label="share of the true class",
        title="Confusion matrix, normalized by true class (share / count)",
        xlabel="Prediction",
        ylabel="Label",
        order=order,
    )


def pairwise_accuracy_heatmap(
    accuracy: np.ndarray,
    classes: Sequence[str],
    *,
    ax: Axes | None = None,
    order: ClassOrder | None = None,
) -> Figure:
    """Pairwise accuracy, red = low to blue = high over the range observed
    (``scales.observed_scale``); NaN cells stay blank.

    The axes are digit_a and digit_b for digit classes, class_a and class_b otherwise.
    """
    return _pairwise_heatmap(
        accuracy,
        classes,
        ax,
        colorbar_label="pairwise accuracy (diagonal: recall)",
        title="Pairwise accuracy: true class ranked above the other",
        order=order,
    )


def pairwise_label_accuracy_heatmap(
    accuracy: np.ndarray,
    classes: Sequence[str],
    *,
    ax: Axes | None = None,
    order: ClassOrder | None = None,
) -> Figure:
    """Pairwise accuracy from predicted labels alone, for predictions without probabilities.

    ``accuracy`` of shape (n_classes, n_classes): entry (a, b), a != b, is the share
    predicted right among the samples whose true class is a or b and whose predicted
    class is a or b; entry (a, a) is the recall of a; NaN where there is no such
    sample. Drawn as ``pairwise_accuracy_heatmap``: red = low to blue = high over the
    range observed, NaN cells blank.
    """
    return _pairwise_heatmap(
        accuracy,
        classes,
        ax,
        colorbar_label="pairwise label accuracy (diagonal: recall)",
        title="Pairwise accuracy from labels: a or b predicted as the right one",
        order=order,
    )


def _pairwise_heatmap(
    accuracy: np.ndarray,
    classes: Sequence[str],
    ax: Axes | None,
    *,
    colorbar_label: str,
    title: str,
    order: ClassOrder | None,
) -> Figure:
    xlabel, ylabel = pair_axis_names(classes)
    scale = observed_scale(accuracy)
    return draw_matrix(
        accuracy,
        classes,
        ax,
        annotations=lambda: np.array(
            [["" if np.isnan(value) else f"{value:.2f}" for value in row] for row in accuracy]
        ),
        cmap="RdBu",
        vmin=scale.low,
        vmax=scale.high,
        colorbar_label=f"{colorbar_label}\n{scale.describe()}",
        title=title,
        xlabel=xlabel,
        ylabel=ylabel,
        order=order,
    )


def pair_axis_names(classes: Sequence[str]) -> tuple[str, str]:
    """(x, y) axis names of a class-pair matrix: digit_b/digit_a for digits, else class_*."""
    noun = "digit" if all(name.isdecimal() for name in classes) else "class"
    return f"{noun}_b", f"{noun}_a"


def confusion_delta_heatmap(
    counts_new: np.ndarray,
    counts_base: np.ndarray,
    classes: Sequence[str],
    *,
    ref: str,
    order: ClassOrder | None = None,
) -> Figure:
    """New minus baseline confusion matrix normalized by true class, both (K, K) counts.

    RdBu_r centred at zero with symmetric limits: red = the new model puts more of the
    true class in that cell, blue = less. On the diagonal red is therefore better; off
    it, red is a mistake made more often. Changed cells show the share and count
    changes ("+0.04" over "+2"); unchanged cells are blank.
    """
    delta = normalize_confusion(counts_new, normalize="true") - normalize_confusion(
        counts_base, normalize="true"
    )
    change = counts_new.astype(np.int64) - counts_base

    def annotations() -> np.ndarray:
        return np.array(
            [
                [f"{d:+.2f}\n{c:+d}" if c else "" for d, c in zip(row_d, row_c, strict=True)]
                for row_d, row_c in zip(delta, change, strict=True)
            ]
        )

    # at least +-0.01, so identical predictions still get a valid, centred colour scale
    limit = max(float(np.abs(delta).max()), 0.01)
    return draw_matrix(
        delta,
        classes,
        None,
        annotations=annotations,
        cmap="RdBu_r",
        vmin=-limit,
        vmax=limit,
        colorbar_label="new \N{MINUS SIGN} baseline share of the true class",
        title=f"Confusion change vs {ref}\n(share of the true class / count; red = more)",
        xlabel="Prediction",
        ylabel="Label",
        order=order,
    )
