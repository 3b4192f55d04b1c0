"""Figures as a new user reads them: accuracy colours that span the values observed,
attributions over a faint copy of the digit, scatter labels that no dot covers."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib import colormaps
from matplotlib.text import Text
from matplotlib.transforms import Bbox

from digitwise.figures import attribution, heatmaps, scales
from digitwise.figures import separability as separability_plots
from digitwise.figures.explanation import class_mean_images
from digitwise.figures.scales import DivergingScale, observed_scale


def test_the_scale_spans_the_values_observed_with_white_at_their_middle():
    values = np.array([[0.88, 1.0, np.nan], [0.97, 0.99, 1.0]])
    scale = observed_scale(values)
    assert (scale.low, scale.high) == (0.88, 1.0)
    assert scale.centre == pytest.approx(0.94)
    assert scale.describe() == "colours span 0.88\N{EN DASH}1.00, white at 0.94"


@pytest.mark.parametrize(
    ("values", "limits"),
    [
        ([1.0, 1.0], (0.98, 1.0)),  # a perfect model: a scale all the same, kept in 0..1
        ([0.0], (0.0, 0.02)),
        ([0.5, 0.505], (0.4925, 0.5125)),  # widened to MIN_SPAN around its middle
        ([np.nan, np.nan], (0.0, 1.0)),  # nothing defined
        ([], (0.0, 1.0)),
    ],
)
def test_a_narrow_or_empty_range_gets_a_scale_of_min_span(values, limits):
    scale = observed_scale(np.array(values))
    assert (scale.low, scale.high) == pytest.approx(limits)


@settings(max_examples=100, deadline=None)
@given(st.lists(st.floats(0, 1) | st.just(float("nan")), min_size=1, max_size=30))
def test_the_scale_holds_every_value_inside_zero_to_one(values):
    values = np.array(values)
    scale = observed_scale(values)
    finite = values[np.isfinite(values)]
    assert 0 <= scale.low < scale.high <= 1
    assert scale.high - scale.low >= scales.MIN_SPAN - 1e-12
    if finite.size:
        assert scale.low <= finite.min() and finite.max() <= scale.high
        if finite.max() - finite.min() >= scales.MIN_SPAN:
            assert (scale.low, scale.high) == (finite.min(), finite.max())


def test_the_label_takes_as_many_decimals_as_the_numbers_need():
    assert DivergingScale(0.991, 0.999).describe() == (
        "colours span 0.991\N{EN DASH}0.999, white at 0.995"
    )


def a_97_percent_model(n=10, seed=0):
    """Pairwise accuracies of a good model: most pairs 1.00, a few 0.96..0.99, one 0.88."""
    rng = np.random.default_rng(seed)
    matrix = np.where(rng.random((n, n)) < 0.7, 1.0, rng.uniform(0.96, 0.99, (n, n)))
    matrix[8, 1] = 0.88
    return matrix


@pytest.mark.parametrize(
    "draw",
    [
        heatmaps.pairwise_accuracy_heatmap,
        heatmaps.pairwise_label_accuracy_heatmap,
        separability_plots.separability_heatmap,
    ],
    ids=["pairwise", "label", "separability"],
)
def test_the_worst_pair_is_deep_red_and_the_best_deep_blue(draw):
    matrix = a_97_percent_model()
    classes = [str(i) for i in range(10)]
    ax, colorbar = draw(matrix, classes).axes
    mesh = ax.collections[0]
    assert mesh.get_cmap().name == "RdBu"
    assert mesh.get_clim() == (0.88, 1.0)
    faces = mesh.get_facecolors().reshape(10, 10, 4)
    red_blue = colormaps["RdBu"]
    np.testing.assert_allclose(faces[8, 1], red_blue(0.0))  # 0.88: the deepest red
    np.testing.assert_allclose(faces[tuple(np.argwhere(matrix == 1.0)[0])], red_blue(1.0))
    assert colorbar.get_ylabel().endswith("colours span 0.88\N{EN DASH}1.00, white at 0.94")


def test_colour_only_heatmaps_span_the_observed_range_too():
    matrix = np.full((60, 60), 0.99)
    matrix[5, 7] = 0.9
    ax, colorbar = heatmaps.pairwise_accuracy_heatmap(matrix, [str(i) for i in range(60)]).axes
    assert ax.images[0].get_clim() == (0.9, 0.99)
    assert "colours span 0.90\N{EN DASH}0.99" in colorbar.get_ylabel()


def example(sample=3, seed=0):
    rng = np.random.default_rng(seed)
    return attribution.Example(
        sample=sample,
        actual="8",
        predicted="1",
        confidence=0.7,
        image=rng.integers(0, 17, size=(8, 8)),
        for_actual=rng.normal(size=(8, 8)),
        for_predicted=rng.normal(size=(8, 8)),
    )


def test_each_attribution_is_drawn_over_a_faint_grey_copy_of_its_digit():
    examples = [example(3, 0), example(4, 1)]
    figure = attribution.examples_figure(examples, pixel_max=16, label="x", title="t")
    rows = [ax for ax in figure.axes if ax.images]
    assert len(rows) == 6
    for index, ex in enumerate(examples):
        image_ax, *maps = rows[3 * index : 3 * index + 3]
        assert len(image_ax.images) == 1 and image_ax.images[0].get_alpha() is None
        for ax, values in zip(maps, (ex.for_actual, ex.for_predicted), strict=True):
            digit, colours = ax.images
            assert digit.get_cmap().name == "gray_r"
            assert digit.get_alpha() == attribution.DIGIT_ALPHA
            assert digit.get_clim() == (0, 16)
            np.testing.assert_array_equal(digit.get_array(), ex.image)
            np.testing.assert_array_equal(colours.get_array(), values)


def test_the_attribution_colours_fade_to_transparent_at_zero():
    fading = attribution.FADING_CMAP
    assert fading(0.5)[3] < 0.01  # zero: the digit shows through
    assert fading(0.0)[3] == 1 and fading(1.0)[3] == 1  # the ends: opaque
    np.testing.assert_allclose(fading(0.0)[:3], colormaps["RdBu_r"](0.0)[:3])  # blue
    np.testing.assert_allclose(fading(1.0)[:3], colormaps["RdBu_r"](1.0)[:3])  # red
    alphas = [fading(x)[3] for x in np.linspace(0.5, 1, 20)]
    assert alphas == sorted(alphas)


def test_class_means_are_drawn_over_each_class_mean_image():
    rng = np.random.default_rng(0)
    means = rng.normal(size=(3, 8, 8))
    digits = rng.uniform(0, 16, size=(3, 8, 8))
    figure = attribution.class_means_figure(
        means, ["a", "b", "c"], [2, 2, 2], label="x", title="t", digits=digits, pixel_max=16
    )
    panels = [ax for ax in figure.axes if ax.images]
    assert len(panels) == 3
    for ax, digit, values in zip(panels, digits, means, strict=True):
        np.testing.assert_array_equal(ax.images[0].get_array(), digit)
        np.testing.assert_array_equal(ax.images[1].get_array(), values)


def test_class_mean_images_average_each_true_class_of_the_rows_given():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 17, size=(30, 4, 4))
    actual = rng.integers(0, 3, 30)  # class 3 of 4 never occurs
    rows = np.sort(rng.choice(30, 20, replace=False))
    means = class_mean_images(images, actual, rows, 4)
    for label in range(4):
        chosen = [images[r] for r in rows if actual[r] == label]
        if chosen:
            np.testing.assert_allclose(means[label], np.mean(chosen, axis=0))
        else:
            assert np.isnan(means[label]).all()


def dot_boxes(ax, renderer):
    """Each scatter marker's extent in pixels (a disc of sqrt(s) points across)."""
    boxes = []
    for collection in ax.collections:
        sizes = collection.get_sizes()
        if not len(sizes) or not len(collection.get_offsets()):
            continue  # the shaded area
        points = ax.transData.transform(collection.get_offsets())
        for (px, py), size in zip(points, np.broadcast_to(sizes, len(points)), strict=True):
            half = np.sqrt(size) / 2 * ax.get_figure().dpi / 72
            boxes.append(Bbox.from_extents(px - half, py - half, px + half, py + half))
    return boxes


def assert_no_dot_covers_a_label(figure):
    ax = figure.axes[0]
    renderer = figure.canvas.get_renderer()
    figure.draw(renderer)  # as saved: the legend placed, every position final
    labels = [Text.get_window_extent(text, renderer) for text in ax.texts]
    assert labels
    dots = dot_boxes(ax, renderer)
    assert len(dots) > len(labels)
    frame = ax.get_window_extent(renderer)
    legend = ax.get_legend().get_window_extent(renderer)
    for i, label in enumerate(labels):
        assert not any(label.overlaps(dot) for dot in dots), ax.texts[i].get_text()
        assert not any(label.overlaps(other) for other in labels[i + 1 :])
        assert not label.overlaps(legend)
        assert frame.x0 <= label.x0 and label.x1 <= frame.x1
        assert frame.y0 <= label.y0 and label.y1 <= frame.y1


def pair_names(n_classes):
    return [f"{a}-{b}" for a in range(n_classes) for b in range(a + 1, n_classes)]


def test_no_dot_covers_a_label_on_a_good_models_pairs():
    # as on the digits: most pairs at 1.00 in a row, a few just below, crowded together
    rng = np.random.default_rng(0)
    pixel = rng.uniform(0.78, 1.0, 45)
    model = np.where(rng.random(45) < 0.6, 1.0, rng.choice([0.989, 0.978, 0.977, 0.955], 45))
    figure = separability_plots.model_vs_data_scatter(pixel, model, pair_names(10))
    assert_no_dot_covers_a_label(figure)


@pytest.mark.parametrize("seed", range(3))
def test_no_dot_covers_a_label_among_many_pairs(seed):
    rng = np.random.default_rng(seed)
    pixel = rng.uniform(0.6, 1.0, 190)
    model = np.clip(pixel + rng.normal(0.05, 0.05, 190), 0, 1)
    figure = separability_plots.model_vs_data_scatter(pixel, model, pair_names(20))
    assert_no_dot_covers_a_label(figure)
