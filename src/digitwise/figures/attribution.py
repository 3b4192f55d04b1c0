"""Figures of pixel attributions. Drawing only: nothing here saves.

Both figures follow ``digitwise.figures.images``: digits dark on light, attributions red for
positive (the pixel pushes the class's score up), blue for negative, on one scale
symmetric around zero shared by every panel of the figure, so panels can be compared by
colour. As in SHAP's image plots, each map is drawn over a faint grey copy of its digit
(the sample, or the class's mean image) in colours that fade to transparent at zero, so
the strokes show under the colours.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from digitwise.figures.images import (
    IMAGE_CMAP,
    SIGNED_CMAP,
    grid_figure,
    panel_grid_shape,
    show_empty,
    show_image,
    show_signed,
    signed_colorbar,
    symmetric_limit,
)

DIGIT_ALPHA = 0.3  # the grey copy under a map: its darkest stroke is 30% grey
# SIGNED_CMAP with its opacity growing with |value|: transparent at zero, opaque at the
# scale's ends, so a weak attribution lets the digit show through.
_colours = colormaps[SIGNED_CMAP](np.linspace(0, 1, 256))
_colours[:, 3] = np.minimum(np.abs(np.linspace(-1, 1, 256)) * 1.5, 1)
FADING_CMAP = ListedColormap(_colours, name=f"{SIGNED_CMAP}_fading")

# What the colour measures, per method: (for per-class means, for single samples).
VALUE_LABELS = {
    "linear_shap": ("mean SHAP value (logit)", "SHAP value (logit)"),
    "occlusion": ("mean occlusion effect on p(class)", "occlusion effect on p(class)"),
}


@dataclass(frozen=True)
class Example:
    """One held-out sample drawn beside its attributions."""

    sample: int  # the sample id
    actual: str  # class names
    predicted: str
    confidence: float  # the probability of the predicted class
    image: np.ndarray  # (height, width), values 0..pixel_max
    for_actual: np.ndarray  # (height, width) attribution for the true class
    for_predicted: np.ndarray  # (height, width) attribution for the predicted class

    @property
    def caption(self) -> str:
        return (
            f"sample {self.sample}: true {self.actual}, predicted {self.predicted} "
            f"(p={self.confidence:.2f})"
        )


def _room_for_colorbar(figure: Figure, inches: float = 0.9) -> None:
    """Widen the figure on the right for the colorbar's ticks and label, panels unchanged.

    ``grid_figure`` leaves a 0.3 in margin; the colorbar is carved out of the panels'
    area, and its tick labels and label would hang past the figure's edge.
    """
    width, height = figure.get_size_inches()
    left = figure.subplotpars.left * width
    right = (1 - figure.subplotpars.right) * width + inches
    figure.set_size_inches(width + inches, height)
    figure.subplots_adjust(left=left / (width + inches), right=1 - right / (width + inches))


def show_over_digit(
    ax: Axes,
    values: np.ndarray,
    digit: np.ndarray,
    *,
    limit: float,
    pixel_max: float,
    title: str | None = None,
) -> None:
    """A signed map (height, width) on [-limit, +limit] over a faint grey ``digit`` of the
    same shape (values 0..pixel_max): the digit first, the fading colours above it."""
    ax.imshow(
        digit, cmap=IMAGE_CMAP, vmin=0, vmax=pixel_max, alpha=DIGIT_ALPHA, interpolation="nearest"
    )
    show_signed(ax, values, limit=limit, title=title)
    ax.images[-1].set_cmap(FADING_CMAP)


def _panel_inches(n_cols: int) -> float:
    # 1.3 in panels up to 6 columns, then a grid about 8 in wide (0.8 in at 100 classes).
    return max(0.6, min(1.3, 8.0 / n_cols))


def class_means_figure(
    means: np.ndarray,
    classes: Sequence[str],
    counts: Sequence[int],
    *,
    label: str,
    title: str,
    digits: np.ndarray | None = None,
    pixel_max: float = 1.0,
) -> Figure:
    """One signed panel per class: the mean attribution for that class over its samples.

    means: (n_classes, height, width), NaN for a class with nothing to average;
    counts: (n_classes,) samples averaged per class; label: what the colour measures;
    digits: (n_classes, height, width), the mean image of each class's samples
    (0..pixel_max), drawn faint under its map (None: maps alone).
    A class with no samples, or whose map is all NaN (the model does not know the
    class), gets a panel saying so.
    """
    n_classes = len(classes)
    n_rows, n_cols = panel_grid_shape(n_classes)
    panel = _panel_inches(n_cols)
    figure, axes = grid_figure(n_rows, n_cols, panel=panel, top=0.75)
    _room_for_colorbar(figure)
    limit = symmetric_limit(means)
    # Counts in the titles only while panels are wide enough to hold them.
    font = 8 if n_cols <= 6 else 7
    for index, ax in enumerate(axes.flat):
        if index >= n_classes:
            ax.set_axis_off()
            continue
        name, count = classes[index], int(counts[index])
        if count == 0:
            show_empty(ax, f"{name}\nno samples")
        elif not np.isfinite(means[index]).any():
            show_empty(ax, f"{name}\nnot in model")
        else:
            text = f"{name} (n={count})" if n_cols <= 5 else name
            if digits is None:
                show_signed(ax, means[index], limit=limit, title=text)
            else:
                digit = np.nan_to_num(digits[index])
                show_over_digit(
                    ax, means[index], digit, limit=limit, pixel_max=pixel_max, title=text
                )
            ax.title.set_fontsize(font)
    signed_colorbar(figure, axes, limit=limit, label=label)
    figure.suptitle(title, fontsize=10)
    return figure


def examples_figure(
    examples: Sequence[Example], *, pixel_max: float, label: str, title: str
) -> Figure:
    """One row per example: the image | attribution for the true class | for the predicted.

    The caption above each row names the sample, its true and predicted class and the
    predicted class's probability. Without examples, a small figure saying so.
    """
    if not examples:
        return _nothing_to_show("no examples to show (attribution.examples is 0)")
    figure, axes = grid_figure(len(examples), 3, panel=1.5, top=0.9)
    _room_for_colorbar(figure)
    # Room above each row for its caption over the panel titles.
    figure.subplots_adjust(hspace=0.6)
    limit = symmetric_limit(np.stack([np.stack([e.for_actual, e.for_predicted]) for e in examples]))
    for (image_ax, actual_ax, predicted_ax), example in zip(axes, examples, strict=True):
        show_image(image_ax, example.image, vmax=pixel_max, title="image")
        same = " (= true)" if example.actual == example.predicted else ""
        for ax, values, text in (
            (actual_ax, example.for_actual, f"for true {example.actual}"),
            (predicted_ax, example.for_predicted, f"for predicted {example.predicted}{same}"),
        ):
            show_over_digit(ax, values, example.image, limit=limit, pixel_max=pixel_max, title=text)
        image_ax.annotate(
            example.caption,
            xy=(0, 1),
            xycoords="axes fraction",
            xytext=(0, 20),
            textcoords="offset points",
            ha="left",
            va="bottom",
            fontsize=9,
            fontweight="bold",
        )
    signed_colorbar(figure, axes, limit=limit, label=label)
    figure.suptitle(title, fontsize=10)
    return figure


def _nothing_to_show(text: str) -> Figure:
    figure = Figure(figsize=(4, 1.2))
    FigureCanvasAgg(figure)
    show_empty(figure.add_subplot(), text)
    return figure
