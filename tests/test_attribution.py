"""Pixel attribution: the kernel against hand computations and the SHAP formula, the
figures by what is on their axes, and the explain stage end to end on the digits."""

import json
import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression

from digitwise.data import datasets
from digitwise.errors import UserError
from digitwise.figures import attribution as plots
from digitwise.pixels import attribution, explanation
from stages import explain, predict, prepare, train

ROOT = Path(__file__).resolve().parents[1]
OUTPUTS = {
    "--attribution": "attribution.json",
    "--class-means-plot": "figures/attribution_class_means.png",
    "--examples-plot": "figures/attribution_examples.png",
}


# --- the linear formula ------------------------------------------------------------


@pytest.fixture(scope="module")
def digits_lr():
    """A logistic regression on 600 digits (pixels in 0..1), and those features."""
    features, labels = load_digits(return_X_y=True)
    features, labels = features[:600] / 16, labels[:600]
    return LogisticRegression(max_iter=1000).fit(features, labels), features


def test_linear_shap_is_coef_times_distance_from_the_mean_by_hand():
    x = np.array([[0.0, 1.0], [1.0, 0.0], [1.0, 1.0], [0.0, 0.0], [0.5, 0.2], [0.2, 0.9]])
    y = np.array([0, 1, 2, 0, 1, 2])
    model = LogisticRegression().fit(x, y)
    mean = x.mean(axis=0)
    coef, intercept = attribution.linear_coefficients(model)
    base, phi = attribution.linear_shap(coef, intercept, x, mean)
    w, b = model.coef_, model.intercept_
    for n in range(len(x)):
        for c in range(3):
            for p in range(2):
                assert phi[n, c, p] == pytest.approx(w[c][p] * (x[n][p] - mean[p]), abs=1e-15)
    for c in range(3):
        assert base[c] == pytest.approx(b[c] + w[c][0] * mean[0] + w[c][1] * mean[1], abs=1e-15)


def test_values_add_up_to_the_logits_on_digits(digits_lr):
    model, features = digits_lr
    background = features.mean(axis=0)
    base, phi = attribution.linear_shap(
        *attribution.linear_coefficients(model), features, background
    )
    assert phi.shape == (600, 10, 64)
    logits = model.decision_function(features)
    assert attribution.efficiency_error(base, phi, logits) < 1e-12
    np.testing.assert_allclose(base + phi.sum(axis=-1), logits, rtol=0, atol=1e-12)


def test_binary_logits_are_each_class_log_odds():
    rng = np.random.default_rng(0)
    x = rng.random((40, 3))
    model = LogisticRegression().fit(x, (x[:, 0] + x[:, 1] > 1).astype(int))
    coef, intercept = attribution.linear_coefficients(model)
    assert coef.shape == (2, 3)
    logits = attribution.linear_logits(model, x)
    np.testing.assert_allclose(logits[:, 1], model.decision_function(x), rtol=0, atol=0)
    # sigmoid of each class's logit is its probability
    np.testing.assert_allclose(1 / (1 + np.exp(-logits)), model.predict_proba(x), atol=1e-12)
    base, phi = attribution.linear_shap(coef, intercept, x, x.mean(axis=0))
    assert attribution.efficiency_error(base, phi, logits) < 1e-12
    np.testing.assert_array_equal(phi[:, 0], -phi[:, 1])


def test_the_stage_linear_path_in_chunks_equals_every_phi_at_once(digits_lr, monkeypatch):
    """Chunked checking and the class means by formula give what holding all phi gives."""
    from digitwise.params import AttributionParams
    from digitwise.predictions.schema import Predictions

    model, features = digits_lr
    labels = load_digits().target[:600]
    proba = model.predict_proba(features)
    predictions = Predictions(
        sample=np.arange(600),
        actual=labels,
        predicted=proba.argmax(axis=1),
        proba=proba,
        classes=tuple(str(d) for d in range(10)),
    )
    background = features[:300].mean(axis=0)
    settings = AttributionParams(
        examples=4, max_samples=1, seed=0, patch=1, max_evaluations=1
    )  # neither limit applies to the exact path
    monkeypatch.setattr(explanation, "LINEAR_CHUNK", 7)  # 86 chunks, the last one partial
    got = explanation.explain(model, features, predictions, background, settings, (8, 8))

    coef, intercept = attribution.linear_coefficients(model)
    base, phi = attribution.linear_shap(coef, intercept, features, background)  # all at once
    expected_means = attribution.class_means(phi, labels, 10)
    np.testing.assert_allclose(got.means, expected_means, rtol=0, atol=1e-14)
    np.testing.assert_array_equal(got.example_phi, phi[got.examples])
    np.testing.assert_array_equal(got.base, base)
    logits = attribution.linear_logits(model, features)
    assert got.efficiency_error == attribution.efficiency_error(base, phi, logits)
    assert got.evaluations == 600 and len(got.averaged) == 600


# --- occlusion -----------------------------------------------------------------------


def test_occlusion_of_the_logits_equals_linear_shap(digits_lr):
    model, features = digits_lr
    x, background = features[:37], features.mean(axis=0)
    _, expected = attribution.linear_shap(*attribution.linear_coefficients(model), x, background)
    # A batch of 5 samples (5 * 65 * 64 values) at most: several batches, one partial.
    got = attribution.occlusion(model.decision_function, x, background, max_values=5 * 65 * 64)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)


def test_occlusion_of_a_hand_made_function():
    def f(x):
        return np.stack([x[:, 0] * x[:, 1], x[:, 0] + 2 * x[:, 2]], axis=1)

    x = np.array([[2.0, 3.0, 5.0], [1.0, 1.0, 1.0]])
    background = np.array([1.0, 0.5, 0.0])
    # f_0 = x0*x1: occluding x0 -> 1*x1; occluding x1 -> x0*0.5; x2 does nothing.
    # f_1 = x0 + 2*x2: occluding x0 -> 1 + 2*x2; x1 nothing; occluding x2 -> x0.
    expected = np.array(
        [
            [[6 - 3, 6 - 1, 0], [12 - 11, 0, 12 - 2]],
            [[1 - 1, 1 - 0.5, 0], [3 - 3, 0, 3 - 1]],
        ]
    )
    np.testing.assert_allclose(attribution.occlusion(f, x, background), expected, atol=1e-15)


def test_occlusion_costs_p_plus_one_rows_per_sample_in_bounded_batches():
    calls = []

    def f(x):
        calls.append(len(x))
        return x.sum(axis=1, keepdims=True)

    x = np.random.default_rng(1).random((10, 4))
    phi = attribution.occlusion(f, x, np.zeros(4), max_values=3 * 5 * 4)
    assert sum(calls) == attribution.occlusion_evaluations(10, 4) == 50
    assert calls == [15, 15, 15, 5]  # 3 samples of 5 rows per batch
    np.testing.assert_allclose(phi[:, 0, :], x)  # a sum: each term's own value


def brute_force_patch_occlusion(f, x, background, shape, patch):
    """One patch at a time, one sample at a time, straight from the definition."""
    height, width = shape
    n, n_features = x.shape
    phi = None
    for i in range(n):
        full = f(x[i : i + 1])[0]
        if phi is None:
            phi = np.zeros((n, len(full), n_features))
        for top in range(0, height, patch):
            for left in range(0, width, patch):
                pixels = [
                    r * width + c
                    for r in range(top, min(top + patch, height))
                    for c in range(left, min(left + patch, width))
                ]
                copy = x[i].copy()
                copy[pixels] = background[pixels]
                effect = full - f(copy[np.newaxis])[0]
                for p in pixels:
                    phi[i, :, p] = effect / len(pixels)
    return phi


@pytest.mark.parametrize(
    ("shape", "patch"), [((28, 28), 2), ((28, 28), 3), ((5, 7), 4), ((8, 8), 1)]
)
def test_patches_partition_the_image_in_squares_from_the_top_left(shape, patch):
    masks = attribution.patches(shape, patch)
    height, width = shape
    assert masks.shape == (-(-height // patch) * -(-width // patch), height * width)
    np.testing.assert_array_equal(masks.sum(axis=0), 1)  # every pixel in exactly one patch
    first = masks[0].reshape(shape)
    assert first[:patch, :patch].all() and first.sum() == min(patch, height) * min(patch, width)


@pytest.mark.parametrize(("shape", "patch"), [((28, 28), 2), ((28, 28), 4), ((5, 7), 3)])
def test_patch_occlusion_equals_a_brute_force_loop(shape, patch):
    rng = np.random.default_rng(patch)
    n_features = shape[0] * shape[1]
    weights = rng.normal(size=(n_features, 3))

    def f(x):  # non-linear: softmax of a quadratic, so pixels interact
        z = (x @ weights) ** 2 / n_features
        z = np.exp(z - z.max(axis=1, keepdims=True))
        return z / z.sum(axis=1, keepdims=True)

    x = rng.random((4, n_features))
    background = rng.random(n_features)
    masks = attribution.patches(shape, patch)
    got = attribution.occlusion(f, x, background, masks=masks, max_values=2 * n_features * 50)
    expected = brute_force_patch_occlusion(f, x, background, shape, patch)
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-14)


def test_patch_occlusion_of_a_linear_function_adds_up_to_its_shap_values_per_patch(digits_lr):
    model, features = digits_lr
    x, background = features[:9], features.mean(axis=0)
    masks = attribution.patches((8, 8), 2)
    got = attribution.occlusion(model.decision_function, x, background, masks=masks)
    _, exact = attribution.linear_shap(*attribution.linear_coefficients(model), x, background)
    for mask in masks:
        np.testing.assert_allclose(
            got[:, :, mask].sum(axis=-1), exact[:, :, mask].sum(axis=-1), rtol=0, atol=1e-12
        )


def test_patch_occlusion_costs_one_row_per_patch_plus_one():
    calls = []

    def f(x):
        calls.append(len(x))
        return x.sum(axis=1, keepdims=True)

    x = np.random.default_rng(1).random((6, 28 * 28))
    masks = attribution.patches((28, 28), 4)  # 49 patches
    attribution.occlusion(f, x, np.zeros(28 * 28), masks=masks)
    assert sum(calls) == attribution.occlusion_evaluations(6, 49) == 6 * 50


# --- which samples -------------------------------------------------------------------


def test_class_means_average_the_own_class_and_leave_absent_classes_nan():
    phi = np.arange(4 * 3 * 2, dtype=float).reshape(4, 3, 2)
    means = attribution.class_means(phi, np.array([0, 0, 2, 2]), 3)
    np.testing.assert_array_equal(means[0], (phi[0, 0] + phi[1, 0]) / 2)
    np.testing.assert_array_equal(means[2], (phi[2, 2] + phi[3, 2]) / 2)
    assert np.isnan(means[1]).all()


def test_seeded_subset_is_all_or_a_sorted_reproducible_draw():
    np.testing.assert_array_equal(datasets.seeded_subset(5, 5, seed=0), np.arange(5))
    draw = datasets.seeded_subset(100, 10, seed=3)
    assert len(set(draw.tolist())) == 10 and list(draw) == sorted(draw) and draw.max() < 100
    np.testing.assert_array_equal(draw, datasets.seeded_subset(100, 10, seed=3))
    assert not np.array_equal(draw, datasets.seeded_subset(100, 10, seed=4))


def test_examples_are_confident_mistakes_then_near_misses_ties_by_id():
    ids = np.array([10, 11, 12, 13, 14, 15, 16])
    actual = np.array([0, 1, 1, 2, 2, 0, 1])
    predicted = np.array([0, 2, 1, 2, 0, 1, 2])
    confidence = np.array([0.9, 0.6, 0.5, 0.99, 0.8, 0.6, 0.55])
    order = attribution.select_examples(actual, predicted, confidence, ids, 7)
    # mistakes 14 (0.8), 11 and 15 (0.6, by id), 16 (0.55); then correct 12, 10, 13
    assert ids[order].tolist() == [14, 11, 15, 16, 12, 10, 13]
    assert ids[attribution.select_examples(actual, predicted, confidence, ids, 2)].tolist() == [
        14,
        11,
    ]
    assert len(attribution.select_examples(actual, predicted, confidence, ids, 0)) == 0


# --- figures -------------------------------------------------------------------------


def image_axes(figure):
    return [ax for ax in figure.axes if ax.images]


def colorbar_label(figure) -> str:
    (colorbar,) = [ax for ax in figure.axes if not ax.images and ax.get_ylabel()]
    return colorbar.get_ylabel()


@pytest.mark.parametrize("n_classes", [10, 100])
def test_class_means_figure_has_one_symmetric_panel_per_class(n_classes):
    means = np.random.default_rng(0).normal(size=(n_classes, 8, 8))
    means[2] = np.nan
    counts = np.full(n_classes, 4)
    counts[2] = 0
    figure = plots.class_means_figure(
        means,
        [str(c) for c in range(n_classes)],
        counts,
        label="mean SHAP value (logit)",
        title="t",
    )
    panels = image_axes(figure)
    assert len(panels) == n_classes - 1  # class 2 has no samples: a text panel instead
    limit = np.nanmax(np.abs(means))
    assert all(ax.images[0].get_clim() == (-limit, limit) for ax in panels)
    assert all(ax.images[0].get_cmap().name == "RdBu_r" for ax in panels)
    assert colorbar_label(figure) == "mean SHAP value (logit)"
    assert any("no samples" in text.get_text() for ax in figure.axes for text in ax.texts)
    width, _ = figure.get_size_inches()
    assert width < 10  # panels shrink instead of the figure growing


def example(sample: int, actual: str, predicted: str, scale: float) -> plots.Example:
    rng = np.random.default_rng(sample)
    return plots.Example(
        sample=sample,
        actual=actual,
        predicted=predicted,
        confidence=0.62,
        image=rng.integers(0, 17, size=(8, 8)),
        for_actual=scale * rng.normal(size=(8, 8)),
        for_predicted=-scale * rng.normal(size=(8, 8)),
    )


def test_examples_figure_has_a_captioned_row_per_example():
    examples = [example(123, "8", "1", 1.0), example(7, "3", "3", 2.0)]
    figure = plots.examples_figure(
        examples, pixel_max=16, label="occlusion effect on p(class)", title="t"
    )
    panels = image_axes(figure)
    assert len(panels) == 6
    grey = [ax for ax in panels if len(ax.images) == 1]
    signed = [ax for ax in panels if len(ax.images) == 2]  # over a faint copy of the digit
    assert len(grey) == 2 and len(signed) == 4
    assert all(ax.images[0].get_cmap().name == "gray_r" for ax in panels)
    assert all(ax.images[1].get_cmap().name == "RdBu_r_fading" for ax in signed)
    limit = max(np.abs(e.for_actual).max() for e in examples)
    limit = max(limit, *(np.abs(e.for_predicted).max() for e in examples))
    assert all(ax.images[1].get_clim() == (-limit, limit) for ax in signed)
    captions = [text.get_text() for ax in grey for text in ax.texts]
    assert captions == [
        "sample 123: true 8, predicted 1 (p=0.62)",
        "sample 7: true 3, predicted 3 (p=0.62)",
    ]
    assert [ax.get_title() for ax in signed] == [
        "for true 8",
        "for predicted 1",
        "for true 3",
        "for predicted 3 (= true)",
    ]
    assert colorbar_label(figure) == "occlusion effect on p(class)"


def test_28x28_maps_are_drawn_pixel_for_pixel_at_a_fixed_size():
    rng = np.random.default_rng(0)
    means = {side: rng.normal(size=(10, side, side)) for side in (8, 28)}
    figures = {
        side: plots.class_means_figure(
            maps, [str(c) for c in range(10)], np.full(10, 3), label="x", title="t"
        )
        for side, maps in means.items()
    }
    for side, figure in figures.items():
        drawn = [ax.images[0] for ax in image_axes(figure)]
        assert all(image.get_array().shape == (side, side) for image in drawn)
        assert all(image.get_interpolation() == "nearest" for image in drawn)
    assert tuple(figures[8].get_size_inches()) == tuple(figures[28].get_size_inches())

    big = plots.Example(
        sample=1,
        actual="Coat",
        predicted="Ankle boot",
        confidence=0.5,
        image=rng.integers(0, 256, size=(28, 28)),
        for_actual=rng.normal(size=(28, 28)),
        for_predicted=rng.normal(size=(28, 28)),
    )
    figure = plots.examples_figure([big], pixel_max=255, label="x", title="t")
    drawn = [ax.images[0] for ax in image_axes(figure)]
    assert len(drawn) == 3 and all(image.get_array().shape == (28, 28) for image in drawn)
    assert all(image.get_interpolation() == "nearest" for image in drawn)
    small = plots.examples_figure([example(5, "1", "7", 1.0)], pixel_max=16, label="x", title="t")
    assert tuple(figure.get_size_inches()) == tuple(small.get_size_inches())


def test_no_examples_makes_a_figure_saying_so():
    figure = plots.examples_figure([], pixel_max=16, label="x", title="t")
    assert not image_axes(figure)
    assert "no examples" in figure.axes[0].texts[0].get_text()


# --- the stage -----------------------------------------------------------------------


def files_under(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


def run_pipeline(root: Path, params: Path, model: str, predictions: str) -> None:
    """train and predict into root (prepared data already there)."""
    data = str(root / "prepared")
    train.main(["--params", str(params), "--data", data, "--model", str(root / model)])
    predict.main(["--data", data, "--model", str(root / model), "--out", str(root / predictions)])


def explain_args(root: Path, params: Path, model: str, predictions: str, out: Path) -> list[str]:
    args = ["--params", str(params), "--data", str(root / "prepared")]
    args += ["--model", str(root / model), "--predictions", str(root / predictions)]
    for flag, name in OUTPUTS.items():
        args += [flag, str(out / name)]
    return args


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """prepare, train and predict with the shipped params (logistic regression)."""
    root = tmp_path_factory.mktemp("explain")
    params = ROOT / "params.yaml"
    prepare.main(["--params", str(params), "--out", str(root / "prepared")])
    run_pipeline(root, params, "lr.skops", "lr.csv")
    return root


def test_stage_explains_a_logistic_regression_exactly(pipeline, tmp_path):
    params = ROOT / "params.yaml"
    explain.main(explain_args(pipeline, params, "lr.skops", "lr.csv", tmp_path))
    assert files_under(tmp_path) == set(OUTPUTS.values())
    report = json.loads((tmp_path / "attribution.json").read_text())
    test_ids = np.load(pipeline / "prepared" / "test_ids.npy").tolist()
    assert report["method"] == "linear_shap"
    assert report["units"] == "logit"
    assert report["efficiency_max_abs_error"] < 1e-10
    assert list(report["base_values"]) == [str(d) for d in range(10)]
    assert report["explained_sample_ids"] == report["class_means"]["sample_ids"] == test_ids
    assert report["cost"]["model_evaluations"] == len(test_ids)
    examples = report["examples"]
    assert len(examples) == 6
    wrong = [e for e in examples if not e["correct"]]
    assert wrong == examples[: len(wrong)] and len(wrong) >= 1
    assert [e["p_predicted"] for e in wrong] == sorted(
        (e["p_predicted"] for e in wrong), reverse=True
    )
    for name in ("attribution_class_means.png", "attribution_examples.png"):
        assert (tmp_path / "figures" / name).read_bytes().startswith(b"\x89PNG")


def test_stage_explains_knn_by_occlusion_reproducibly(pipeline, tmp_path, write_params):
    params = write_params(
        {"train.model": "knn", "attribution.max_samples": 30, "attribution.examples": 2}
    )
    run_pipeline(pipeline, params, "knn.skops", "knn.csv")
    outputs = {}
    for run in ("a", "b"):
        explain.main(explain_args(pipeline, params, "knn.skops", "knn.csv", tmp_path / run))
        outputs[run] = {name: (tmp_path / run / name).read_bytes() for name in OUTPUTS.values()}
    assert files_under(tmp_path / "a") == set(OUTPUTS.values())
    assert outputs["a"] == outputs["b"]  # byte for byte
    report = json.loads(outputs["a"]["attribution.json"])
    assert report["method"] == "occlusion"
    assert report["units"] == "probability"
    assert "base_values" not in report
    averaged = report["class_means"]["sample_ids"]
    drawn = [e["sample"] for e in report["examples"]]
    assert len(averaged) == 30 and len(drawn) == 2
    assert report["explained_sample_ids"] == sorted(set(averaged) | set(drawn))
    assert report["cost"]["model_evaluations"] == 65 * len(report["explained_sample_ids"])


def test_occlusion_stays_within_its_budget_and_says_what_it_cost(pipeline, tmp_path, write_params):
    budget = 20 * 17  # 20 samples of 17 evaluations: 16 patches of 2x2 on 8x8, plus one
    params = write_params(
        {
            "train.model": "knn",
            "attribution.patch": 2,
            "attribution.max_evaluations": budget,
            "attribution.examples": 3,
        }
    )
    run_pipeline(pipeline, params, "knn.skops", "knn.csv")
    explain.main(explain_args(pipeline, params, "knn.skops", "knn.csv", tmp_path))
    report = json.loads((tmp_path / "attribution.json").read_text())
    cost = report["cost"]
    assert cost["patch"] == 2 and cost["patches_per_image"] == 16
    assert cost["evaluations_per_sample"] == 17 and cost["max_evaluations"] == budget
    assert cost["model_evaluations"] == 17 * cost["explained_samples"] <= budget
    assert len(report["class_means"]["sample_ids"]) == 20 - 3  # the examples paid first
    assert "max_evaluations 340" in report["class_means"]["selection"]
    assert cost["check_evaluations"] == len(np.load(pipeline / "prepared" / "test_ids.npy"))


def test_a_budget_too_small_for_the_examples_is_one_line(pipeline, tmp_path, write_params):
    params = write_params(
        {"train.model": "knn", "attribution.max_evaluations": 130, "attribution.examples": 2}
    )
    run_pipeline(pipeline, params, "knn.skops", "knn.csv")
    with pytest.raises(
        UserError,
        match=rf"^{re.escape(str(params))}: attribution\.max_evaluations=130 cannot pay for the "
        r"2 examples drawn and one sample for the class means, at 65 model evaluations each "
        r"\(64 patches of 1x1 pixels, plus the sample itself\): raise it to at least 195",
    ):
        explain.main(explain_args(pipeline, params, "knn.skops", "knn.csv", tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_predictions_of_samples_outside_the_split_are_refused(pipeline, tmp_path):
    lines = (pipeline / "lr.csv").read_text().splitlines()
    train_id = int(np.load(pipeline / "prepared" / "train_ids.npy")[0])
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join([lines[0], f"{train_id}," + lines[1].split(",", 1)[1]]) + "\n")
    args = explain_args(pipeline, ROOT / "params.yaml", "lr.skops", "lr.csv", tmp_path / "out")
    args[args.index("--predictions") + 1] = str(bad)
    with pytest.raises(UserError, match=rf"sample id {train_id} is not in the held-out split"):
        explain.main(args)
    assert not (tmp_path / "out").exists()


def test_predictions_of_another_model_are_refused(pipeline, tmp_path):
    lines = (pipeline / "lr.csv").read_text().splitlines()
    header, row = lines[0], lines[1].split(",")
    # Same sample and classes, the probabilities of a different model.
    row[3:] = ["1.0" if i == int(row[2]) else "0.0" for i in range(10)]
    other = tmp_path / "other.csv"
    other.write_text("\n".join([header, ",".join(row)]) + "\n")
    args = explain_args(pipeline, ROOT / "params.yaml", "lr.skops", "lr.csv", tmp_path / "out")
    args[args.index("--predictions") + 1] = str(other)
    with pytest.raises(UserError, match=r"differ from the model's by up to .*rerun predict"):
        explain.main(args)
    assert not (tmp_path / "out").exists()


def test_predictions_for_other_classes_are_refused(pipeline, tmp_path):
    text = (pipeline / "lr.csv").read_text().replace("proba_9", "proba_nine", 1)
    other = tmp_path / "other.csv"
    other.write_text(text)
    args = explain_args(pipeline, ROOT / "params.yaml", "lr.skops", "lr.csv", tmp_path / "out")
    args[args.index("--predictions") + 1] = str(other)
    with pytest.raises(UserError, match=r"missing column 'proba_9'"):
        explain.main(args)
    assert not (tmp_path / "out").exists()
