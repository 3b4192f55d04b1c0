"""Heatmaps checked by what is on the axes: labels, cell texts, colour limits, overlap."""

import io

import matplotlib
import numpy as np
import pytest
from PIL import Image

from digitwise.figures import class_labels, heatmaps
from digitwise.io import outputs
from digitwise.io.outputs import png_bytes


def counts_for(n_classes: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    counts = rng.integers(0, 4, size=(n_classes, n_classes))
    np.fill_diagonal(counts, rng.integers(80, 120, size=n_classes))
    return counts


def names(n_classes: int) -> list[str]:
    return [str(i) for i in range(n_classes)]


def heatmap_axes(figure):
    """The heatmap's axes (the other one is the colorbar's)."""
    main, colorbar = figure.axes
    return main, colorbar


def cell_texts(ax) -> list[str]:
    return [text.get_text() for text in ax.texts]


def tick_texts(ax) -> tuple[list[str], list[str]]:
    return (
        [t.get_text() for t in ax.get_xticklabels()],
        [t.get_text() for t in ax.get_yticklabels()],
    )


def test_counts_heatmap_shows_every_count_in_order():
    counts = counts_for(10)
    ax, colorbar = heatmap_axes(heatmaps.confusion_counts_heatmap(counts, names(10)))
    assert tick_texts(ax) == (names(10), names(10))
    assert ax.get_xlabel() == "Prediction" and ax.get_ylabel() == "Label"
    # seaborn writes cell texts row by row, top row first
    assert cell_texts(ax) == [str(c) for c in counts.ravel()]
    mesh = ax.collections[0]
    assert mesh.get_clim() == (0, counts.max())
    assert mesh.get_cmap().name == "Blues"
    assert colorbar.get_ylabel() == "samples"


def test_normalized_heatmap_shows_share_and_count():
    counts = np.array([[8, 2, 0], [0, 5, 0], [0, 0, 0]])
    ax, _ = heatmap_axes(heatmaps.confusion_normalized_heatmap(counts, ["a", "b", "c"]))
    # 8 of 10 and 2 of 10 in row a, 5 of 5 in row b; empty cells stay blank
    assert cell_texts(ax) == ["0.80\n8", "0.20\n2", "", "", "1.00\n5", "", "", "", ""]
    assert ax.collections[0].get_clim() == (0, 1)


# Every heatmap of this module, as a function of (counts, classes).
KINDS = {
    "counts": heatmaps.confusion_counts_heatmap,
    "normalized": heatmaps.confusion_normalized_heatmap,
    "pairwise": lambda counts, classes: heatmaps.pairwise_accuracy_heatmap(
        np.full(counts.shape, 0.9), classes
    ),
    "label": lambda counts, classes: heatmaps.pairwise_label_accuracy_heatmap(
        np.full(counts.shape, 0.8), classes
    ),
    "delta": lambda counts, classes: heatmaps.confusion_delta_heatmap(
        counts, counts_for(len(classes), seed=1), classes, ref="main"
    ),
}


def test_pairwise_heatmap_is_diverging_over_the_observed_range_with_blank_undefined_cells():
    accuracy = np.array([[0.9, 0.75, np.nan], [0.75, 0.5, np.nan], [np.nan, np.nan, np.nan]])
    ax, colorbar = heatmap_axes(heatmaps.pairwise_accuracy_heatmap(accuracy, ["x", "y", "z"]))
    assert ax.get_xlabel() == "class_b" and ax.get_ylabel() == "class_a"  # not digits
    mesh = ax.collections[0]
    assert mesh.get_cmap().name == "RdBu"  # red (low) to blue (high)
    assert mesh.get_clim() == (0.5, 0.9)  # the lowest and highest cells, NaN left out
    assert sorted(cell_texts(ax)) == ["0.50", "0.75", "0.75", "0.90"]
    assert "recall" in colorbar.get_ylabel()


def overlapping_labels(figure, labels) -> bool:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(figure).get_renderer()
    boxes = [label.get_window_extent(renderer) for label in labels if label.get_text()]
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


@pytest.mark.parametrize(
    ("kind", "n_classes"),
    # the label and delta heatmaps share the drawing: at 10 classes only, to save time
    [(kind, n) for n in (10, 28) for kind in KINDS if n == 10 or kind not in ("label", "delta")],
)
def test_readable_at_10_and_28_classes(kind, n_classes):
    draw = KINDS[kind]
    figure = draw(counts_for(n_classes), names(n_classes))
    ax, _ = heatmap_axes(figure)
    xticks, yticks = tick_texts(ax)
    assert xticks == names(n_classes)  # natural order: "2" before "10"
    assert yticks == names(n_classes)
    assert len(ax.texts) == n_classes * n_classes or draw is heatmaps.confusion_normalized_heatmap
    assert not overlapping_labels(figure, ax.get_xticklabels())
    assert not overlapping_labels(figure, ax.get_yticklabels())
    assert not overlapping_labels(figure, [t for t in ax.texts if t.get_text()])
    assert min(text.get_fontsize() for text in ax.texts) >= 5


def test_a_hundred_classes_render_as_colour_only():
    figure = heatmaps.confusion_counts_heatmap(counts_for(100), names(100))
    ax, _ = heatmap_axes(figure)
    assert len(ax.texts) == 0
    assert not overlapping_labels(figure, ax.get_yticklabels())
    assert png_bytes(figure).startswith(b"\x89PNG")


def test_png_bytes_are_reproducible_and_carry_no_software_version():
    first = png_bytes(heatmaps.confusion_counts_heatmap(counts_for(10), names(10)))
    second = png_bytes(heatmaps.confusion_counts_heatmap(counts_for(10), names(10)))
    assert first == second
    assert b"Software" not in first and b"matplotlib" not in first.lower()


def test_an_axes_can_be_given():
    from matplotlib.figure import Figure

    figure = Figure()
    ax = figure.add_subplot()
    assert heatmaps.confusion_counts_heatmap(counts_for(3), names(3), ax=ax) is figure
    assert len(ax.texts) == 9


def test_pairwise_axes_say_digit_for_digit_classes():
    ax, _ = heatmap_axes(heatmaps.pairwise_accuracy_heatmap(np.full((3, 3), 0.5), ["0", "1", "10"]))
    assert ax.get_xlabel() == "digit_b" and ax.get_ylabel() == "digit_a"


@pytest.mark.parametrize("classes", [["a", "b"], ["a long class name number one", "another"]])
def test_small_matrices_and_long_names_stay_inside_the_image(classes):
    """Titles of 2x2 matrices and long tick labels are drawn beyond the figure's own
    edges; the saved PNG is cropped to what is drawn, so all of it must be inside."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.transforms import Bbox

    figure = heatmaps.confusion_counts_heatmap(np.array([[5, 1], [0, 7]]), classes)
    renderer = FigureCanvasAgg(figure).get_renderer()
    saved = figure.get_tightbbox(renderer).padded(0.15)  # what png_bytes keeps, in inches
    ax, colorbar = heatmap_axes(figure)
    texts = [ax.title, ax.xaxis.label, ax.yaxis.label, colorbar.yaxis.label]
    texts += list(ax.get_xticklabels()) + list(ax.get_yticklabels())
    for text in texts:
        box = text.get_window_extent(renderer).transformed(figure.dpi_scale_trans.inverted())
        assert Bbox.union([saved, box]).bounds == pytest.approx(saved.bounds), text.get_text()


def test_label_heatmap_draws_like_the_pairwise_one_with_its_own_title_and_blank_nan():
    accuracy = np.array([[0.9, np.nan, 0.25], [np.nan, np.nan, 0.5], [0.25, 0.5, 1.0]])
    figure = heatmaps.pairwise_label_accuracy_heatmap(accuracy, ["x", "y", "z"])
    ax, colorbar = heatmap_axes(figure)
    assert ax.get_title() == "Pairwise accuracy from labels: a or b predicted as the right one"
    assert colorbar.get_ylabel() == (
        "pairwise label accuracy (diagonal: recall)\n"
        "colours span 0.25\N{EN DASH}1.00, white at 0.62"
    )
    assert ax.get_xlabel() == "class_b" and ax.get_ylabel() == "class_a"
    mesh = ax.collections[0]
    assert mesh.get_cmap().name == "RdBu" and mesh.get_clim() == (0.25, 1)
    # NaN cells are masked (no colour: the white background shows) and carry no text
    cells = mesh.get_array().reshape(3, 3)
    assert np.array_equal(np.ma.getmaskarray(cells), np.isnan(accuracy))
    texts = {
        (int(text.get_position()[1]), int(text.get_position()[0])): text.get_text()
        for text in ax.texts
    }  # seaborn puts each text at its cell's centre: (column + 0.5, row + 0.5)
    assert texts == {
        (0, 0): "0.90", (0, 2): "0.25", (1, 2): "0.50",
        (2, 0): "0.25", (2, 1): "0.50", (2, 2): "1.00",
    }  # fmt: skip


@pytest.mark.parametrize("n_classes", [2, 10, 28, 40, 41, 100, 300, 1000])
def test_layout_keeps_the_grid_bounded_and_the_fonts_readable(n_classes):
    style = heatmaps.layout(n_classes)
    grid = style.cell * n_classes
    assert 3 <= grid <= heatmaps.MAX_GRID + 1e-9
    assert style.font >= 5 and style.tick_font >= 6
    assert style.annotate == (n_classes <= heatmaps.MAX_ANNOTATED_CLASSES)


def test_layout_is_unchanged_up_to_40_classes():
    assert heatmaps.layout(2).cell == 1.5
    assert heatmaps.layout(12).cell == 0.6
    assert heatmaps.layout(28).cell == pytest.approx(12 / 28)
    assert heatmaps.layout(40).cell == pytest.approx(0.3)


def assert_bounded_with_a_readable_colorbar(figure):
    """At most 20 in a side, saved at most at 200 dpi: at most 4,000 px a side."""
    assert max(figure.get_size_inches()) <= 20
    assert outputs.FIGURE_DPI <= 200
    ax, colorbar = heatmap_axes(figure)
    height = figure.get_size_inches()[1]
    grid = ax.get_position().height * height
    assert 0.6 <= colorbar.get_position().height * height / grid <= 1
    assert min(label.get_fontsize() for label in colorbar.get_yticklabels()) >= 8
    assert colorbar.yaxis.label.get_fontsize() >= 8


@pytest.mark.parametrize("kind", ["normalized", "pairwise", "label", "delta"])
def test_every_kind_stays_bounded_at_1000_classes(kind):
    """Built, not rendered: the counts heatmap is rendered below, and they share layout."""
    figure = KINDS[kind](counts_for(1000), [f"class_{i:04d}" for i in range(1000)])
    assert_bounded_with_a_readable_colorbar(figure)
    ax, _ = heatmap_axes(figure)
    assert len(ax.texts) == 0
    assert not ax.collections and len(ax.images) == 1  # one image: no mesh, no cell lines
    assert len(ax.get_xticklabels()) < 100


def test_colour_only_cells_show_each_value_in_its_place_and_nan_blank():
    """Above 40 classes the cells are an image: each cell's pixels, read back from the
    drawn canvas, are the colormap's colour of its value, in row and column order."""
    n = 50
    rng = np.random.default_rng(3)
    matrix = rng.random((n, n))
    matrix[7, 11] = np.nan
    figure = heatmaps.pairwise_accuracy_heatmap(matrix, names(n))
    ax, _ = heatmap_axes(figure)
    figure.canvas.draw()
    pixels = np.asarray(figure.canvas.buffer_rgba())
    height = pixels.shape[0]
    colormap = matplotlib.colormaps["RdBu"]
    for row, column in [(0, 0), (0, n - 1), (n - 1, 0), (20, 33), (7, 12), (7, 11)]:
        x, y = ax.transData.transform((column + 0.5, row + 0.5))
        drawn = pixels[int(height - y), int(x)] / 255
        if np.isnan(matrix[row, column]):
            np.testing.assert_allclose(drawn, [1, 1, 1, 1])  # the white figure behind
        else:
            np.testing.assert_allclose(drawn, colormap(matrix[row, column]), atol=1.5 / 255)


@pytest.mark.parametrize("n_classes", [2, 41, 300])
def test_the_colorbar_reads_at_any_size(n_classes):
    figure = heatmaps.confusion_counts_heatmap(counts_for(n_classes), names(n_classes))
    assert_bounded_with_a_readable_colorbar(figure)


def assert_thinned_from_the_first_without_overlap(figure, classes):
    ax, _ = heatmap_axes(figure)
    xticks, yticks = tick_texts(ax)
    step = round(len(classes) / len(xticks))
    assert step in {1, 2, 5, 10, 20, 50}
    assert xticks == yticks == classes[::step]  # the first class always named
    assert list(ax.get_xticks()) == [i + 0.5 for i in range(0, len(classes), step)]
    assert not overlapping_labels(figure, ax.get_xticklabels())
    assert not overlapping_labels(figure, ax.get_yticklabels())
    assert min(t.get_fontsize() for t in ax.get_xticklabels() + ax.get_yticklabels()) >= 5


@pytest.mark.parametrize("n_classes", [41, 100, 300])
def test_class_names_are_thinned_from_the_first_so_they_never_overlap(n_classes):
    classes = [f"class_{i:04d}" for i in range(n_classes)]
    figure = heatmaps.confusion_counts_heatmap(counts_for(n_classes), classes)
    assert_thinned_from_the_first_without_overlap(figure, classes)
    assert len(tick_texts(heatmap_axes(figure)[0])[0]) == (n_classes if n_classes <= 100 else 60)


def test_1000_classes_render_to_a_png_of_at_most_4000_px_with_names_apart():
    classes = [f"class_{i:04d}" for i in range(1000)]
    figure = heatmaps.confusion_counts_heatmap(counts_for(1000), classes)
    assert_bounded_with_a_readable_colorbar(figure)
    assert_thinned_from_the_first_without_overlap(figure, classes)
    width, height = Image.open(io.BytesIO(png_bytes(figure))).size
    assert 1000 <= width <= 4000 and 1000 <= height <= 4000


def test_cell_texts_are_made_only_when_shown():
    """A million strings at 1,000 classes would cost more than drawing the cells."""

    def no_texts():
        raise AssertionError("cell texts made for a heatmap without them")

    classes = names(41)
    figure = heatmaps.draw_matrix(
        np.zeros((41, 41)), classes, None, annotations=no_texts, cmap="Blues", vmin=0,
        vmax=1, colorbar_label="", title="", xlabel="", ylabel="",
    )  # fmt: skip
    assert len(heatmap_axes(figure)[0].texts) == 0


def test_label_step_is_a_round_number_that_leaves_a_line_between_names():
    assert class_labels.label_step(cell=0.6, font=10) == 1
    assert [class_labels.label_step(cell=1.5 / 72 / n, font=1) for n in (2, 3, 7, 11, 30)] == [
        2, 5, 10, 20, 50,
    ]  # fmt: skip


def test_long_class_names_are_shortened_so_the_figure_stays_bounded():
    classes = [f"{i}-" + "x" * 300 for i in range(10)]
    figure = heatmaps.confusion_counts_heatmap(counts_for(10), classes)
    ax, _ = heatmap_axes(figure)
    labels = [label.get_text() for label in ax.get_yticklabels()]
    assert labels[3] == classes[3][: class_labels.MAX_NAME - 1] + "\N{HORIZONTAL ELLIPSIS}"
    width, height = Image.open(io.BytesIO(png_bytes(figure))).size
    assert width <= 4000 and height <= 4000


@pytest.mark.parametrize("kind", ["counts", "normalized", "pairwise"])
def test_the_cells_are_seaborns_heatmap_byte_for_byte(kind):
    """Up to 40 classes the cells are drawn as seaborn's ``heatmap`` draws them, without
    importing seaborn: the same figure made with seaborn gives the same PNG."""
    import seaborn as sns

    n = 10
    counts = counts_for(n)
    classes = names(n)
    ours = KINDS[kind](counts, classes)
    ax = heatmap_axes(ours)[0]
    matrix = np.ma.filled(ax.collections[0].get_array().astype(float), np.nan).reshape(n, n)
    texts = np.array([text.get_text() for text in ax.texts]).reshape(n, n)

    figure, reference = heatmaps._figure_and_axes(n, None)
    style = heatmaps.layout(n)
    sns.heatmap(
        matrix,
        ax=reference,
        cmap=ax.collections[0].get_cmap(),
        vmin=ax.collections[0].norm.vmin,
        vmax=ax.collections[0].norm.vmax,
        annot=texts,
        fmt="",
        annot_kws={"fontsize": style.font},
        square=True,
        linewidths=0.5,
        linecolor="white",
        xticklabels=False,
        yticklabels=False,
        cbar_kws={"label": heatmap_axes(ours)[1].get_ylabel(), "shrink": 0.8},
    )
    reference.set_title(ax.get_title())
    reference.set_xlabel(ax.get_xlabel())
    reference.set_ylabel(ax.get_ylabel())
    class_labels.label_classes(reference, classes, style.tick_font)
    assert png_bytes(ours) == png_bytes(figure)
