"""One-pixel separability: the kernel against an exhaustive search, its figures, its stage."""

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from digitwise.cli import run
from digitwise.data import datasets
from digitwise.errors import UserError
from digitwise.figures import separability as separability_plots
from digitwise.metrics.ordering import ClassOrder
from digitwise.pixels import diagnosis
from digitwise.pixels.separability import (
    class_pairs,
    class_pixel_histograms,
    pair_matrix,
    separability,
)
from stages import diagnose_data

# --- the kernel -------------------------------------------------------------------------


def exhaustive(train_x, train_y, test_x, test_y, *, n_classes, pixel_max):
    """Every pair, pixel, threshold and direction tried in turn; the first best one kept.

    Candidates in the documented order: t = 0, 1, ..., V + 1, and at each t a-high
    (predict a if x >= t) before b-high; pixels in index order. Returns per pair
    (a, b) a dict of lists over pixels, or None for a pair with a class absent from
    the training split.
    """
    n_pixels = int(np.prod(train_x.shape[1:]))
    train_x = train_x.reshape(len(train_y), n_pixels)
    test_x = test_x.reshape(len(test_y), n_pixels)
    found = {}
    for a in range(n_classes):
        for b in range(a + 1, n_classes):
            if not ((train_y == a).any() and (train_y == b).any()):
                found[(a, b)] = None
                continue
            train_rows = (train_y == a) | (train_y == b)
            test_rows = (test_y == a) | (test_y == b)
            result = {"threshold": [], "a_high": [], "train": [], "test": []}
            for p in range(n_pixels):
                x, is_a = train_x[train_rows, p], train_y[train_rows] == a
                best = None
                for t in range(pixel_max + 2):
                    for a_high in (True, False):
                        says_a = x >= t if a_high else x < t
                        correct = int(np.sum(says_a == is_a))
                        if best is None or correct > best[0]:
                            best = (correct, t, a_high)
                correct, t, a_high = best
                x, is_a = test_x[test_rows, p], test_y[test_rows] == a
                says_a = x >= t if a_high else x < t
                held_out = np.sum(says_a == is_a) / len(x) if len(x) else np.nan
                result["threshold"].append(t)
                result["a_high"].append(a_high)
                result["train"].append(correct / train_rows.sum())
                result["test"].append(held_out)
            best_pixel = 0
            for p, accuracy in enumerate(result["train"]):
                if accuracy > result["train"][best_pixel]:
                    best_pixel = p
            result["best_pixel"] = best_pixel
            found[(a, b)] = result
    return found


@st.composite
def problems(draw):
    """Small integer images, with classes often missing from one split or both."""
    n_classes = draw(st.integers(2, 5))
    pixel_max = draw(st.integers(1, 20))
    shape = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    dtype = draw(st.sampled_from([np.uint8, np.int64]))
    splits = []
    for _ in ("train", "test"):
        present = sorted(draw(st.sets(st.integers(0, n_classes - 1), min_size=1)))
        n = draw(st.integers(0, 25))
        labels = np.array(
            draw(st.lists(st.sampled_from(present), min_size=n, max_size=n)), dtype=np.int64
        )
        images = draw(arrays(dtype, (n, *shape), elements=st.integers(0, pixel_max)))
        splits += [images, labels]
    return splits, n_classes, pixel_max


@settings(max_examples=300, deadline=None)
@given(problems())
def test_kernel_equals_exhaustive_threshold_search(problem):
    (train_x, train_y, test_x, test_y), n_classes, pixel_max = problem
    result = separability(
        train_x, train_y, test_x, test_y, n_classes=n_classes, pixel_max=pixel_max
    )
    expected = exhaustive(
        train_x, train_y, test_x, test_y, n_classes=n_classes, pixel_max=pixel_max
    )
    assert result.pairs.tolist() == [list(pair) for pair in expected]
    for q, want in enumerate(expected.values()):
        if want is None:
            assert np.isnan(result.train_accuracy[q]).all()
            assert np.isnan(result.test_accuracy[q]).all()
            assert (result.threshold[q] == -1).all() and result.best_pixel[q] == -1
            assert np.isnan(result.best_test_accuracy[q])
            continue
        assert result.threshold[q].tolist() == want["threshold"]
        assert result.a_high[q].tolist() == want["a_high"]
        # Same integer counts divided by the same n: exactly equal, not just close.
        np.testing.assert_array_equal(result.train_accuracy[q], want["train"])
        np.testing.assert_array_equal(result.test_accuracy[q], want["test"])
        best = want["best_pixel"]
        assert result.best_pixel[q] == best
        assert result.best_threshold[q] == want["threshold"][best]
        assert result.best_a_high[q] == want["a_high"][best]
        assert result.best_train_accuracy[q] == want["train"][best]
        np.testing.assert_array_equal(result.best_test_accuracy[q], want["test"][best])


def test_a_hand_made_case():
    # Three pixels, V = 3, classes 0 and 1 in training; class 2 only held out.
    #   pixel 0: class 0 has 3, 2, 1 and class 1 has 0, 1, 0. "0 if x >= t" gets 3, 5, 5,
    #            4, 3 right for t = 0..4: t = 1 and t = 2 tie at 5 of 6, the smaller wins.
    #   pixel 1: class 0 has 0, 1, 1 and class 1 has 1, 0, 2. a-high gets 3, 3, 2, 3, 3,
    #            so b-high (6 minus that) is best at t = 2: "1 if x >= 2 else 0", 4 of 6.
    #   pixel 2: always 0. Every rule says one class for all: 3 of 6; the first candidate,
    #            t = 0 a-high ("always 0"), wins.
    train_x = np.array([[3, 0, 0], [2, 1, 0], [1, 1, 0], [0, 1, 0], [1, 0, 0], [0, 2, 0]])
    train_y = np.array([0, 0, 0, 1, 1, 1])
    # Held out: a 0 as (2, 2, 0), 1s as (2, 0, 0) and (0, 0, 0), and a 2.
    #   pixel 0, "0 if x >= 1": right on the 0 and on the second 1: 2 of 3.
    #   pixel 1, "1 if x >= 2 else 0": says 1 for the 0 and 0 for both 1s: 0 of 3.
    #   pixel 2, "always 0": 1 of 3.
    test_x = np.array([[2, 2, 0], [2, 0, 0], [0, 0, 0], [1, 1, 1]])
    test_y = np.array([0, 1, 1, 2])
    result = separability(
        train_x[:, None, :], train_y, test_x[:, None, :], test_y, n_classes=3, pixel_max=3
    )
    assert result.pairs.tolist() == [[0, 1], [0, 2], [1, 2]]
    assert result.threshold[0].tolist() == [1, 2, 0]
    assert result.a_high[0].tolist() == [True, False, True]
    assert result.train_accuracy[0].tolist() == [5 / 6, 4 / 6, 3 / 6]
    assert result.test_accuracy[0].tolist() == [2 / 3, 0.0, 1 / 3]
    assert result.best_pixel.tolist() == [0, -1, -1]
    assert result.best_test_accuracy[0] == 2 / 3
    # class 2 never occurs in training: its pairs are undefined
    assert np.isnan(result.best_test_accuracy[1:]).all()
    assert result.best_threshold.tolist() == [1, -1, -1]
    assert result.n_train.tolist() == [6, 3, 3] and result.n_test.tolist() == [3, 2, 3]


def test_histograms_count_every_value_of_every_pixel_by_class():
    images = np.array([[[0, 2]], [[2, 2]], [[1, 0]]], dtype=np.uint8)  # (3, 1, 2)
    labels = np.array([1, 1, 0])
    counts = class_pixel_histograms(images, labels, n_classes=2, pixel_max=2)
    assert counts.shape == (2, 2, 3)
    assert counts[1].tolist() == [[1, 0, 1], [0, 0, 2]]
    assert counts[0].tolist() == [[0, 1, 0], [1, 0, 0]]


@pytest.mark.parametrize(
    ("images", "labels", "message"),
    [
        (np.array([[[4]]]), np.array([0]), r"pixel values must be in 0\.\.3"),
        (np.array([[[-1]]]), np.array([0]), r"pixel values must be in 0\.\.3"),
        (np.array([[[1.0]]]), np.array([0]), r"must be integers"),
        (np.array([[[1]]]), np.array([2]), r"labels must be in 0\.\.1"),
        (np.array([[[1]]]), np.array([0, 1]), r"expected images"),
    ],
)
def test_out_of_range_input_is_refused_not_miscounted(images, labels, message):
    with pytest.raises(ValueError, match=message):
        class_pixel_histograms(images, labels, n_classes=2, pixel_max=3)


def test_pair_matrix_is_symmetric_with_a_blank_diagonal():
    assert class_pairs(3).tolist() == [[0, 1], [0, 2], [1, 2]]
    matrix = pair_matrix(np.array([0.1, 0.2, 0.3]), 3)
    np.testing.assert_array_equal(
        matrix, [[np.nan, 0.1, 0.2], [0.1, np.nan, 0.3], [0.2, 0.3, np.nan]]
    )


# --- the figures ------------------------------------------------------------------------


def names(n_classes: int) -> list[str]:
    return [str(i) for i in range(n_classes)]


def accuracy_matrix(n_classes: int, seed: int = 0) -> np.ndarray:
    values = np.random.default_rng(seed).uniform(0.5, 1, size=n_classes * (n_classes - 1) // 2)
    return pair_matrix(values, n_classes)


def overlapping(figure, texts) -> bool:
    renderer = figure.canvas.get_renderer()
    boxes = [text.get_window_extent(renderer) for text in texts if text.get_text()]
    return any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_heatmap_spends_its_red_to_blue_scale_on_its_range_with_a_blank_diagonal():
    """Red (low) to blue (high) as the pairwise accuracy's, from the worst pair to the
    best, so the pairs of a separable data set do not all look alike."""
    matrix = accuracy_matrix(4)
    ax, colorbar = separability_plots.separability_heatmap(matrix, names(4)).axes
    mesh = ax.collections[0]
    assert mesh.get_cmap().name == "RdBu"
    assert mesh.get_clim() == (np.nanmin(matrix), np.nanmax(matrix))
    assert "held-out accuracy" in colorbar.get_ylabel()
    assert "guessing the larger class" in colorbar.get_ylabel()
    assert "colours span" in colorbar.get_ylabel()
    assert (ax.get_xlabel(), ax.get_ylabel()) == ("digit_b", "digit_a")
    # seaborn leaves NaN cells (the diagonal) without text: blank
    assert [t.get_text() for t in ax.texts] == [f"{v:.2f}" for v in matrix.ravel() if v == v]


@pytest.mark.parametrize("n_classes", [10, 28])
def test_heatmap_readable_at_10_and_28_classes(n_classes):
    figure = separability_plots.separability_heatmap(accuracy_matrix(n_classes), names(n_classes))
    ax, _ = figure.axes
    assert [t.get_text() for t in ax.get_xticklabels()] == names(n_classes)
    assert not overlapping(figure, ax.get_xticklabels())
    assert not overlapping(figure, ax.get_yticklabels())
    assert not overlapping(figure, ax.texts)
    assert min(text.get_fontsize() for text in ax.texts) >= 5


def test_heatmap_at_100_classes_is_colour_only():
    figure = separability_plots.separability_heatmap(accuracy_matrix(100), names(100))
    ax, _ = figure.axes
    assert len(ax.texts) == 0
    assert not overlapping(figure, ax.get_yticklabels())


def pair_map(a: str, b: str, best: tuple[int, int] | None) -> diagnosis.PairMap:
    rng = np.random.default_rng(0)
    return diagnosis.PairMap(
        a=a,
        b=b,
        mean_a=rng.uniform(0, 16, (4, 5)),
        mean_b=np.full((4, 5), np.nan),  # an absent class
        accuracy=rng.uniform(0.3, 1, (4, 5)) if best else np.full((4, 5), np.nan),
        best=best,
        best_accuracy=0.875 if best else np.nan,
    )


def test_maps_show_two_means_and_a_labelled_accuracy_map_per_pair():
    figure = separability_plots.separability_maps(
        [pair_map("8", "1", (2, 3)), pair_map("4", "9", None)], pixel_max=16, empty="unused"
    )
    *panels, colorbar = figure.axes
    assert len(panels) == 6  # 2 pairs x (mean a, mean b, accuracy map)
    assert colorbar.get_ylabel() == separability_plots.MAP_COLORBAR_LABEL
    assert colorbar.get_ylim() == (0.5, 1.0)
    mean_a, mean_b, accuracy = panels[:3]
    assert mean_a.get_title() == "mean 8\n(train)" and mean_b.get_title() == "mean 1\n(train)"
    assert mean_a.images[0].get_clim() == (0, 16)
    assert accuracy.images[0].get_clim() == (0.5, 1.0)
    assert accuracy.images[0].get_cmap().name == "Blues"
    assert accuracy.get_title() == "8 vs 1\npixel (2, 3): 0.88"
    for ax in panels[:3]:  # the best pixel ringed at (x = col, y = row) in every panel
        assert ax.lines[0].get_xydata().tolist() == [[3, 2]]
    assert "undefined" in panels[5].texts[0].get_text()  # a class absent in training
    assert title_fits(figure)


def test_maps_of_28x28_images_with_word_class_names_keep_their_titles_apart():
    rng = np.random.default_rng(0)
    pairs = [
        diagnosis.PairMap(
            a=a,
            b=b,
            mean_a=rng.uniform(0, 255, (28, 28)),
            mean_b=rng.uniform(0, 255, (28, 28)),
            accuracy=rng.uniform(0.5, 1, (28, 28)),
            best=(14, 13),
            best_accuracy=0.73,
        )
        for a, b in (("T-shirt/top", "Ankle boot"), ("Pullover", "Sneaker"))
    ]
    figure = separability_plots.separability_maps(pairs, pixel_max=255, empty="unused")
    renderer = figure.canvas.get_renderer()
    panels = figure.axes[:-1]
    for ax in panels:  # every pixel drawn as a block, never smoothed
        assert ax.images[0].get_array().shape == (28, 28)
        assert ax.images[0].get_interpolation() == "nearest"
    for row in (panels[:3], panels[3:]):
        boxes = [ax.title.get_window_extent(renderer) for ax in row]
        for left, right in itertools.pairwise(boxes):
            assert left.x1 < right.x0, "titles overlap"
    suptitle = figure.get_suptitle() and figure._suptitle.get_window_extent(renderer)
    assert all(ax.title.get_window_extent(renderer).y1 < suptitle.y0 for ax in panels[:3])


def test_maps_without_pairs_say_why():
    figure = separability_plots.separability_maps([], pixel_max=16, empty="nothing to map")
    (ax,) = figure.axes
    assert [t.get_text() for t in ax.texts] == ["nothing to map"]
    assert title_fits(figure)


def title_fits(figure) -> bool:
    (title,) = [text for text in figure.texts if text.get_text() == figure.get_suptitle()]
    box = title.get_window_extent()
    return box.x0 >= 0 and box.x1 <= figure.bbox.x1


def test_scatter_names_the_pairs_the_model_separates_worst():
    rng = np.random.default_rng(1)
    pixel = rng.uniform(0.6, 1, size=20)
    model = np.linspace(0.8, 1, 20)[::-1].copy()  # the last pairs are the model's worst
    model[3] = np.nan
    labels = [f"p{i}" for i in range(20)]
    figure = separability_plots.model_vs_data_scatter(pixel, model, labels)
    (ax,) = figure.axes
    assert "single pixel" in ax.get_xlabel() and "model" in ax.get_ylabel()
    named = sorted(t.get_text() for t in ax.texts)
    assert named == sorted(f"p{i}" for i in range(12, 20))  # the 8 lowest model accuracies
    assert "19 pairs" in ax.get_title() and "1 undefined" in ax.get_title()
    diagonal = next(line for line in ax.lines if line.get_label() == "y = x")
    x, y = diagonal.get_data()
    assert list(x) == list(y)
    assert not overlapping(figure, ax.texts)


# --- the stage --------------------------------------------------------------------------

CLASSES = ("x", "y", "z")
OUTPUTS = {
    "--separability": "separability.json",
    "--model-vs-data": "model_vs_data.json",
    "--separability-plot": "figures/separability.png",
    "--separability-maps-plot": "figures/separability_maps.png",
    "--model-vs-data-plot": "figures/model_vs_data.png",
}


def fake_split(rng, n: int) -> datasets.Dataset:
    """Images 4x5 in 0..7; class x lights pixel (1, 3) = index 8, the others do not."""
    labels = np.arange(n, dtype=np.int64) % 3
    images = rng.integers(0, 4, size=(n, 4, 5)).astype(np.uint8)
    images[labels == 0, 1, 3] = 7
    return datasets.Dataset(
        images=images, labels=labels, ids=np.arange(n), classes=CLASSES, pixel_max=7
    )


@pytest.fixture
def inputs(tmp_path, write_params):
    rng = np.random.default_rng(0)
    datasets.save_splits(tmp_path / "prepared", fake_split(rng, 30), fake_split(rng, 12))
    pairwise = {
        "classes": list(CLASSES),
        "pairwise_accuracy": [[1.0, 0.75, 0.5], [0.75, 0.9, None], [0.5, None, 0.8]],
    }
    (tmp_path / "pairwise.json").write_text(json.dumps(pairwise))
    confusions = {
        "top_confusions": [
            {"rank": 1, "actual": "z", "predicted": "y", "count": 3},
            {"rank": 2, "actual": "y", "predicted": "z", "count": 2},  # the same pair
            {"rank": 3, "actual": "x", "predicted": "z", "count": 1},
        ]
    }
    (tmp_path / "top_confusions.json").write_text(json.dumps(confusions))
    return tmp_path, write_params({"separability.maps": 4})


def stage_args(root: Path, params: Path, out: Path) -> list[str]:
    args = ["--params", str(params), "--data", str(root / "prepared")]
    args += ["--pairwise", str(root / "pairwise.json")]
    args += ["--top-confusions", str(root / "top_confusions.json")]
    for flag, name in OUTPUTS.items():
        args += [flag, str(out / name)]
    return args


def files_under(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


def test_stage_writes_exactly_its_outputs(inputs):
    root, params = inputs
    diagnose_data.main(stage_args(root, params, root / "out"))
    assert files_under(root / "out") == set(OUTPUTS.values())

    report = json.loads((root / "out/separability.json").read_text())
    assert report["classes"] == list(CLASSES) and report["image_shape"] == [4, 5]
    for key in ("best_pixel_test_accuracy", "best_pixel_train_accuracy"):
        matrix = report[key]
        assert [matrix[i][i] for i in range(3)] == [None] * 3
        assert all(matrix[i][j] == matrix[j][i] is not None for i in range(3) for j in range(i))
    x_vs_y = report["pairs"][0]
    assert (x_vs_y["a"], x_vs_y["b"]) == ("x", "y")
    # Pixel (1, 3) is 7 in every x and at most 3 elsewhere: a perfect rule in both splits.
    assert (x_vs_y["pixel"], x_vs_y["row"], x_vs_y["col"]) == (8, 1, 3)
    assert (x_vs_y["direction"], x_vs_y["threshold"]) == ("a-high", 4)
    assert x_vs_y["rule"] == "x if pixel (1, 3) >= 4 else y"
    assert x_vs_y["train_accuracy"] == x_vs_y["test_accuracy"] == 1.0
    assert (x_vs_y["n_train"], x_vs_y["n_test"]) == (20, 8)

    versus = json.loads((root / "out/model_vs_data.json").read_text())
    assert [(p["a"], p["b"]) for p in versus["pairs"]] == [("x", "y"), ("x", "z"), ("y", "z")]
    first = versus["pairs"][0]
    assert first["model_pairwise_accuracy"] == 0.75 and first["best_pixel_accuracy"] == 1.0
    assert first["difference"] == -0.25
    assert versus["pairs"][2]["model_pairwise_accuracy"] is None
    assert versus["pairs"][2]["difference"] is None


def test_stage_outputs_are_byte_reproducible(inputs):
    root, params = inputs
    diagnose_data.main(stage_args(root, params, root / "one"))
    diagnose_data.main(stage_args(root, params, root / "two"))
    for name in OUTPUTS.values():
        assert (root / "one" / name).read_bytes() == (root / "two" / name).read_bytes(), name


def test_confused_pairs_are_distinct_unordered_and_in_rank_order():
    payload = {
        "top_confusions": [
            {"actual": "z", "predicted": "y"},
            {"actual": "y", "predicted": "z"},
            {"actual": "x", "predicted": "z"},
        ]
    }
    assert diagnosis.confused_pairs(payload, CLASSES) == [(1, 2), (0, 2)]


@pytest.mark.parametrize(
    ("file", "content", "message"),
    [
        (
            "pairwise.json",
            {"classes": ["x", "y", "w"], "pairwise_accuracy": [[1] * 3] * 3},
            r"classes \['x', 'y', 'w'\] do not match the data's classes",
        ),
        (
            "pairwise.json",
            {"classes": list(CLASSES), "pairwise_accuracy": [[1, 1], [1, 1]]},
            r"must be a 3 x 3 list of lists",
        ),
        (
            "pairwise.json",
            {"classes": list(CLASSES), "pairwise_accuracy": [[1, 2, 1]] * 3},
            r"numbers in 0\.\.1 or null",
        ),
        (
            "top_confusions.json",
            {"top_confusions": [{"actual": "x", "predicted": "q", "count": 1}]},
            r"top_confusions\[1\] must have 'actual' and 'predicted' among the data's classes",
        ),
        ("top_confusions.json", [], r"must be an object with a list 'top_confusions'"),
    ],
)
def test_a_bad_input_writes_nothing(inputs, file, content, message):
    root, params = inputs
    (root / file).write_text(json.dumps(content))
    with pytest.raises(UserError, match=message):
        diagnose_data.main(stage_args(root, params, root / "out"))
    assert not (root / "out").exists()


def test_missing_data_is_one_line_and_exit_code_2(inputs, capsys):
    root, params = inputs
    args = stage_args(root, params, root / "out")
    args[args.index("--data") + 1] = str(root / "nowhere")
    assert run(diagnose_data.main, args) == 2
    assert "file not found" in capsys.readouterr().err
    assert not (root / "out").exists()


def test_the_heatmap_lists_the_classes_in_the_order_evaluate_recorded(inputs, monkeypatch):
    root, params = inputs
    recorded = {"class_order": {"method": "clustered", "order": ["z", "x", "y"]}}
    (root / "confusion.json").write_text(json.dumps(recorded))
    orders = []
    draw = separability_plots.separability_heatmap

    def spy(accuracy, classes, *, order=None):
        orders.append(order)
        return draw(accuracy, classes, order=order)

    monkeypatch.setattr(separability_plots, "separability_heatmap", spy)
    args = stage_args(root, params, root / "out")
    diagnose_data.main([*args, "--confusion", str(root / "confusion.json")])
    assert orders == [ClassOrder("clustered", (2, 0, 1))]
    diagnose_data.main(stage_args(root, params, root / "natural"))  # without: the list's
    assert orders[-1] is None


def test_a_recorded_order_of_other_classes_is_one_line_and_writes_nothing(inputs, capsys):
    root, params = inputs
    recorded = {"class_order": {"method": "clustered", "order": ["z", "x", "q"]}}
    (root / "confusion.json").write_text(json.dumps(recorded))
    args = [*stage_args(root, params, root / "out"), "--confusion", str(root / "confusion.json")]
    assert run(diagnose_data.main, args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {root / 'confusion.json'}: 'class_order.order' must list each")
    assert not (root / "out").exists()


@pytest.fixture
def drawn_maps(monkeypatch):
    """What the stage passes to ``separability_maps``: the pair names and the empty note."""
    calls = []
    draw = separability_plots.separability_maps

    def spy(pair_maps, *, pixel_max, empty):
        calls.append(([(m.a, m.b) for m in pair_maps], empty))
        return draw(pair_maps, pixel_max=pixel_max, empty=empty)

    monkeypatch.setattr(separability_plots, "separability_maps", spy)
    return calls


def test_maps_are_drawn_for_the_most_confused_distinct_pairs(inputs, drawn_maps):
    root, params = inputs
    diagnose_data.main(stage_args(root, params, root / "out"))
    assert drawn_maps[0][0] == [("y", "z"), ("x", "z")]  # 2 distinct pairs, maps = 4


@pytest.mark.parametrize(
    ("maps", "confusions", "drawn", "note"),
    [
        (1, None, [("y", "z")], None),
        (0, None, [], "separability.maps is 0"),
        (4, [], [], "no confusions"),
    ],
)
def test_maps_follow_params_and_confusions(
    inputs, write_params, drawn_maps, maps, confusions, drawn, note
):
    root, _ = inputs
    params = write_params({"separability.maps": maps})
    if confusions is not None:
        (root / "top_confusions.json").write_text(json.dumps({"top_confusions": confusions}))
    diagnose_data.main(stage_args(root, params, root / "out"))
    assert files_under(root / "out") == set(OUTPUTS.values())
    pairs, empty = drawn_maps[0]
    assert pairs == drawn
    if note:
        assert note in empty


def test_pairs_with_a_class_absent_from_training_are_null(inputs, drawn_maps):
    root, params = inputs
    rng = np.random.default_rng(1)
    train = fake_split(rng, 30)
    keep = train.labels != 2  # no z in training
    train = datasets.Dataset(
        images=train.images[keep],
        labels=train.labels[keep],
        ids=train.ids[keep],
        classes=CLASSES,
        pixel_max=7,
    )
    datasets.save_splits(root / "prepared", train, fake_split(rng, 12))
    diagnose_data.main(stage_args(root, params, root / "out"))

    report = json.loads((root / "out/separability.json").read_text())
    x_z, y_z = report["pairs"][1:]
    for record in (x_z, y_z):
        assert record["test_accuracy"] is None and record["train_accuracy"] is None
        assert record["pixel"] is record["threshold"] is record["direction"] is None
    first_row = report["best_pixel_test_accuracy"][0]
    assert first_row[0] is None and first_row[2] is None and 0.5 < first_row[1] <= 1
    versus = json.loads((root / "out/model_vs_data.json").read_text())
    assert [p["difference"] is None for p in versus["pairs"]] == [False, True, True]
    assert drawn_maps[0][0] == [("y", "z"), ("x", "z")]  # drawn, as undefined panels
