"""Heatmaps checked by what is on the axes: labels, cell texts, colour limits, overlap."""

import numpy as np
import pytest

from digitwise.figures import heatmaps
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


def test_pairwise_heatmap_is_diverging_over_zero_to_one_with_blank_undefined_cells():
    accuracy = np.array([[0.9, 0.75, np.nan], [0.75, 0.5, np.nan], [np.nan, np.nan, np.nan]])
    ax, colorbar = heatmap_axes(heatmaps.pairwise_accuracy_heatmap(accuracy, ["x", "y", "z"]))
    assert ax.get_xlabel() == "class_b" and ax.get_ylabel() == "class_a"  # not digits
    mesh = ax.collections[0]
    assert mesh.get_cmap().name == "RdBu"  # red (low) to blue (high)
    assert mesh.get_clim() == (0, 1)
    assert sorted(cell_texts(ax)) == ["0.50", "0.75", "0.75", "0.90"]
    assert "recall" in colorbar.get_ylabel()


def overlapping_labels(figure, labels) -> bool:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    renderer = FigureCanvasAgg(figure).get_renderer()
    boxes = [label.get_window_extent(renderer) for label in labels if label.get_text()]
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


@pytest.mark.parametrize("n_classes", [10, 28])
@pytest.mark.parametrize(
    "draw",
    [
        heatmaps.confusion_counts_heatmap,
        heatmaps.confusion_normalized_heatmap,
        lambda counts, classes: heatmaps.pairwise_accuracy_heatmap(
            np.full(counts.shape, 0.9), classes
        ),
    ],
    ids=["counts", "normalized", "pairwise"],
)
def test_readable_at_10_and_28_classes(n_classes, draw):
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
