"""Each stage's main() on the real default data, checked against scikit-learn directly."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, log_loss
from sklearn.model_selection import train_test_split
from threadpoolctl import threadpool_limits

from digitwise.errors import UserError
from digitwise.predictions.reading import read_predictions
from stages import evaluate, predict, prepare, train

DATA = Path(__file__).parent / "data"
EVALUATE_OUTPUTS = {
    "--metrics": "metrics.json",
    "--intervals": "intervals.json",
    "--confusion": "confusion.json",
    "--top-confusions": "top_confusions.json",
    "--pairwise": "pairwise.json",
    "--calibration": "calibration.json",
    "--per-class": "per_class.json",
    "--confusion-plot": "figures/confusion_counts.png",
    "--confusion-normalized-plot": "figures/confusion_normalized.png",
    "--pairwise-plot": "figures/pairwise_accuracy.png",
    "--calibration-plot": "figures/reliability_diagram.png",
}


def evaluate_args(params, predictions, classes, out: Path) -> list[str]:
    args = ["--params", str(params), "--predictions", str(predictions), "--classes", str(classes)]
    for flag, name in EVALUATE_OUTPUTS.items():
        args += [flag, str(out / name)]
    return args


def files_under(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """prepare, train, predict and evaluate with the shipped params.yaml."""
    root = tmp_path_factory.mktemp("pipeline")
    params = Path(__file__).parents[1] / "params.yaml"
    prepare.main(["--params", str(params), "--out", str(root / "prepared")])
    train.main(
        [
            "--params",
            str(params),
            "--data",
            str(root / "prepared"),
            "--model",
            str(root / "model.skops"),
        ]
    )
    predict.main(
        [
            "--data",
            str(root / "prepared"),
            "--model",
            str(root / "model.skops"),
            "--out",
            str(root / "predictions.csv"),
        ]
    )
    evaluate.main(
        evaluate_args(
            params, root / "predictions.csv", root / "prepared" / "classes.json", root / "reports"
        )
    )
    return root


def test_prepare_writes_a_stratified_split_of_all_digits(pipeline):
    prepared = pipeline / "prepared"
    assert files_under(prepared) == {
        f"{part}_{field}.npy" for part in ("train", "test") for field in ("images", "labels", "ids")
    } | {"classes.json", "meta.json"}
    digits = load_digits()
    ids = {part: np.load(prepared / f"{part}_ids.npy") for part in ("train", "test")}
    assert sorted(np.concatenate(list(ids.values()))) == list(range(len(digits.target)))
    for part in ("train", "test"):
        images = np.load(prepared / f"{part}_images.npy")
        np.testing.assert_array_equal(images, digits.images[ids[part]])
        np.testing.assert_array_equal(
            np.load(prepared / f"{part}_labels.npy"), digits.target[ids[part]]
        )
    test_share = np.bincount(np.load(prepared / "test_labels.npy")) / np.bincount(digits.target)
    assert np.all(np.abs(test_share - 0.25) < 0.02)
    assert json.loads((prepared / "classes.json").read_text()) == [str(d) for d in range(10)]


def test_predictions_equal_a_direct_scikit_learn_fit(pipeline):
    """The chain prepare -> train -> predict against the same fit done by hand."""
    features, labels = load_digits(return_X_y=True)
    rows = np.arange(len(labels))
    train_rows, test_rows = train_test_split(rows, test_size=0.25, stratify=labels, random_state=0)
    test_rows = np.sort(test_rows)
    model = LogisticRegression(C=1.0, max_iter=1000, random_state=0)
    pixels = features.astype(np.float32) / np.float32(16)  # the stages' float32 features
    # with one BLAS thread, as the stages fit and predict (its sums depend on the count)
    with threadpool_limits(limits=1, user_api="blas"):
        model.fit(pixels[np.sort(train_rows)], labels[np.sort(train_rows)])
        # predicted from the same float32 pixels, widened and each row rescaled to sum to 1
        expected = model.predict_proba(pixels[test_rows]).astype(np.float64)
    expected /= expected.sum(axis=1, keepdims=True)

    got = read_predictions(pipeline / "predictions.csv", tuple(str(d) for d in range(10)))
    np.testing.assert_array_equal(got.sample, test_rows)
    np.testing.assert_array_equal(got.actual, labels[test_rows])
    np.testing.assert_allclose(got.proba, expected, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(got.predicted, expected.argmax(axis=1))


def test_train_max_samples_fits_a_seeded_subset(pipeline, write_params, tmp_path):
    import skops.io

    params = write_params({"train.max_samples": 300, "train.seed": 4})
    model = tmp_path / "model.skops"
    train.main(
        ["--params", str(params), "--data", str(pipeline / "prepared"), "--model", str(model)]
    )
    images = np.load(pipeline / "prepared" / "train_images.npy")
    labels = np.load(pipeline / "prepared" / "train_labels.npy")
    # the documented draw: 300 of the training rows, without replacement, seeded by train.seed
    rows = np.sort(np.random.default_rng(4).choice(len(labels), size=300, replace=False))
    pixels = images.reshape(len(images), -1).astype(np.float32) / np.float32(16)
    expected = LogisticRegression(C=1.0, max_iter=1000, random_state=4)
    with threadpool_limits(limits=1, user_api="blas"):
        expected.fit(pixels[rows], labels[rows])
    fitted = skops.io.load(model, trusted=[])
    np.testing.assert_allclose(fitted.coef_, expected.coef_, rtol=0, atol=1e-6)


def test_evaluate_writes_exactly_its_outputs_with_scikit_learns_numbers(pipeline):
    reports = pipeline / "reports"
    assert files_under(reports) == set(EVALUATE_OUTPUTS.values())
    got = read_predictions(pipeline / "predictions.csv", tuple(str(d) for d in range(10)))
    headline = json.loads((reports / "metrics.json").read_text())
    assert headline["accuracy"] == pytest.approx(
        accuracy_score(got.actual, got.predicted), abs=1e-12
    )
    assert headline["f1_macro"] == pytest.approx(
        f1_score(got.actual, got.predicted, average="macro"), abs=1e-12
    )
    assert headline["log_loss"] == pytest.approx(log_loss(got.actual, y_proba=got.proba), abs=1e-12)
    assert all(isinstance(v, int | float) for v in headline.values())
    per_class = json.loads((reports / "per_class.json").read_text())
    assert [row["class"] for row in per_class] == [str(d) for d in range(10)]
    # A logistic regression on pixels/16 is known to score about 0.969 here.
    assert 0.95 < headline["accuracy"] < 0.99


def test_evaluate_keeps_an_absent_class_as_zero_row_and_column(tmp_path):
    params = Path(__file__).parents[1] / "params.yaml"
    evaluate.main(
        evaluate_args(params, DATA / "predictions_28.csv", DATA / "classes_28.json", tmp_path)
    )
    confusion = json.loads((tmp_path / "confusion.json").read_text())
    counts = np.array(confusion["counts"])
    assert counts.shape == (28, 28)
    assert counts[27].sum() == 0 and counts[:, 27].sum() == 0
    assert confusion["normalized_by_true"][27] == [0.0] * 28
    pairwise = json.loads((tmp_path / "pairwise.json").read_text())
    assert pairwise["pairwise_accuracy"][27][27] is None  # JSON null: undefined, not 0
    assert pairwise["pairwise_auc"][0][27] is None
    top = json.loads((tmp_path / "top_confusions.json").read_text())["top_confusions"]
    assert len(top) == 10 and [row["rank"] for row in top] == list(range(1, 11))
    assert all(row["actual"] != row["predicted"] for row in top)


def run_stage(module: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", f"stages.{module}", *args],
        capture_output=True,
        text=True,
        check=False,
    )


@pytest.mark.parametrize(
    ("row", "message"),
    [
        (
            "99999,3,11,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1",
            r"predicted '11' is not in the class list",
        ),
        (
            "99999,3,3,nan,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.2",
            r"proba_0 must be a probability in \[0, 1\]; got nan",
        ),
        ("99999,3,3,0.5,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1,0.1", r"probabilities sum to 1\.4"),
    ],
)
def test_evaluate_rejects_bad_predictions_in_one_line_and_writes_nothing(
    pipeline, tmp_path, row, message
):
    text = (pipeline / "predictions.csv").read_text().splitlines()
    bad = tmp_path / "predictions.csv"
    bad.write_text("\n".join([*text[:5], row, *text[5:]]) + "\n")
    params = Path(__file__).parents[1] / "params.yaml"
    out = tmp_path / "reports"
    result = run_stage(
        "evaluate", *evaluate_args(params, bad, pipeline / "prepared" / "classes.json", out)
    )
    assert result.returncode == 2
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: {bad}, line 6: ")
    assert re.search(message, lines[0])
    assert not out.exists()


def test_a_bad_param_stops_train_before_anything_is_written(pipeline, tmp_path, write_params):
    params = write_params({"train.logistic_regression.C": -1})
    result = run_stage(
        "train",
        "--params",
        str(params),
        "--data",
        str(pipeline / "prepared"),
        "--model",
        str(tmp_path / "m.skops"),
    )
    assert result.returncode == 2
    assert result.stderr == (
        f"error: {params}: train.logistic_regression.C must be a number between 1e-10 and "
        "1e+10; got -1 (int)\n"
    )
    assert not (tmp_path / "m.skops").exists()


def test_a_missing_input_is_named(tmp_path):
    with pytest.raises(
        UserError, match=r"test_images\.npy: file not found \(run the prepare stage\)"
    ):
        predict.main(
            [
                "--data",
                str(tmp_path / "prepared"),
                "--model",
                str(tmp_path / "m.skops"),
                "--out",
                str(tmp_path / "p.csv"),
            ]
        )
    assert not (tmp_path / "p.csv").exists()


def test_a_corrupt_split_file_is_named(pipeline, tmp_path):
    import shutil

    prepared = tmp_path / "prepared"
    shutil.copytree(pipeline / "prepared", prepared)
    (prepared / "test_images.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(UserError, match=r"test_images\.npy: not a readable \.npy array"):
        predict.main(
            [
                "--data",
                str(prepared),
                "--model",
                str(pipeline / "model.skops"),
                "--out",
                str(tmp_path / "p.csv"),
            ]
        )
    assert not (tmp_path / "p.csv").exists()


def test_knn_with_more_neighbours_than_samples_is_refused_at_train(
    pipeline, tmp_path, write_params
):
    params = write_params({"train.model": "knn", "train.knn.n_neighbors": 5000})
    model = tmp_path / "m.skops"
    with pytest.raises(UserError, match=r"train\.knn\.n_neighbors=5000 is more than the 1347"):
        train.main(
            ["--params", str(params), "--data", str(pipeline / "prepared"), "--model", str(model)]
        )
    assert not model.exists()


def test_a_model_that_cannot_be_fitted_on_the_split_is_one_line(tmp_path, write_params):
    # 2% of 1,797 samples leaves 3 or 4 per class: too few for SVC's 5-fold calibration
    params = write_params({"split.stratified.test_size": 0.98, "train.model": "svc"})
    prepare.main(["--params", str(params), "--out", str(tmp_path / "prepared")])
    model = tmp_path / "m.skops"
    with pytest.raises(UserError, match=r"train\.model=svc cannot be fitted on this split: "):
        train.main(
            ["--params", str(params), "--data", str(tmp_path / "prepared"), "--model", str(model)]
        )
    assert not model.exists()


def test_an_impossible_split_names_the_params_file(tmp_path, write_params):
    params = write_params({"split.stratified.test_size": 0.999})
    with pytest.raises(
        UserError, match=rf"^{re.escape(str(params))}: split\.stratified\.test_size=0\.999 cannot"
    ):
        prepare.main(["--params", str(params), "--out", str(tmp_path / "prepared")])
    assert not (tmp_path / "prepared").exists()


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (
            lambda d: (d / "meta.json").write_text("{}"),
            r"meta\.json: must be a JSON object with an integer pixel_max",
        ),
        (lambda d: (d / "meta.json").write_text('{"pixel_max": "x"}'), r"integer pixel_max >= 1"),
        (
            lambda d: (d / "classes.json").write_text('["0", "1", "1"]'),
            r"'1' appears more than once",
        ),
        (
            lambda d: (d / "classes.json").write_text('["0", "$1$"]'),
            r"element 1 '\$1\$' is refused; .*without '\$'",
        ),
        (
            lambda d: (d / "test_ids.npy").write_bytes((d / "train_ids.npy").read_bytes()),
            r"expected as many ids as labels \(at least one\); got 1347 and 450",
        ),
        (
            lambda d: np.save(d / "test_labels.npy", np.load(d / "test_labels.npy").astype(float)),
            r"labels must be a 1-D integer array; got float64",
        ),
    ],
)
def test_damaged_prepared_data_is_one_line(pipeline, tmp_path, damage, message):
    import shutil

    prepared = tmp_path / "prepared"
    shutil.copytree(pipeline / "prepared", prepared)
    damage(prepared)
    out = tmp_path / "p.csv"
    with pytest.raises(UserError, match=message):
        predict.main(
            ["--data", str(prepared), "--model", str(pipeline / "model.skops"), "--out", str(out)]
        )
    assert not out.exists()


def test_unwritable_outputs_are_refused_before_any_is_written(pipeline, tmp_path):
    params = Path(__file__).parents[1] / "params.yaml"
    out = tmp_path / "reports"
    (out / "figures" / "pairwise_accuracy.png").mkdir(parents=True)
    args = evaluate_args(
        params, pipeline / "predictions.csv", pipeline / "prepared" / "classes.json", out
    )
    with pytest.raises(UserError, match=r"pairwise_accuracy\.png: is a directory"):
        evaluate.main(args)
    assert files_under(out) == set()

    twice = [*args]
    twice[twice.index("--pairwise") + 1] = str(out / "metrics.json")
    with pytest.raises(UserError, match=r"metrics\.json: given as more than one output"):
        evaluate.main(twice)

    blocked = tmp_path / "afile"
    blocked.write_text("")
    with pytest.raises(UserError, match=r"cannot be created, .*afile is a file"):
        predict.main(
            [
                "--data",
                str(pipeline / "prepared"),
                "--model",
                str(pipeline / "model.skops"),
                "--out",
                str(blocked / "p.csv"),
            ]
        )
