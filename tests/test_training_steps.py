"""Training in epochs: per-epoch scores against scikit-learn on an independent refit, the
snapshot matrices, the CSV files; the small multiples of both kinds of step. (The
learning curve of the other models: test_learning_curve.py.)"""

import csv
import dataclasses
import math
import struct
from pathlib import Path

import numpy as np
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss
from sklearn.neural_network import MLPClassifier

from digitwise.data import datasets
from digitwise.figures import steps as step_figures
from digitwise.models import estimators as models
from digitwise.models import steps as training_steps
from stages import steps

N_CLASSES = 10
SEED = 3
# tiny and fast: a few epochs of a small network on 400 digits
MLP = {"hidden_layer_sizes": (8,), "alpha": 1e-4, "learning_rate_init": 0.01, "max_iter": 6}
NON_STEP_MODELS = ("logistic_regression", "svc", "random_forest", "hist_gradient_boosting", "knn")


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    """A prepared directory holding a stratified split of the first 400 digits."""
    digits = datasets.load_digits_source()
    small = datasets.Dataset(
        images=digits.images[:400],
        labels=digits.labels[:400],
        ids=digits.ids[:400],
        classes=digits.classes,
        pixel_max=digits.pixel_max,
    )
    train, test = datasets.split(small, test_size=0.3, seed=0)
    directory = tmp_path_factory.mktemp("prepared")
    datasets.save_splits(directory, train, test)
    return directory


def xy(directory: Path, name: str) -> tuple[np.ndarray, np.ndarray]:
    split = datasets.load_split(directory, name)
    return datasets.features(split.images, split.pixel_max), split.labels


@pytest.fixture(scope="module")
def splits(prepared):
    return xy(prepared, "train"), xy(prepared, "test")


@pytest.fixture(scope="module")
def history(splits) -> training_steps.StepHistory:
    train, validation = splits
    return training_steps.track(
        "mlp", MLP, SEED, train, validation, n_classes=N_CLASSES, snapshots=(4, 2, 100)
    )


def test_every_step_scores_as_scikit_learn_on_an_independent_refit(splits, history):
    (train_x, train_y), (validation_x, validation_y) = splits
    # built here, not through digitwise.models: the contract is "the params' MLP, one
    # partial_fit epoch per step, one seeded RandomState across the steps"
    refit = MLPClassifier(
        hidden_layer_sizes=(8,),
        alpha=1e-4,
        learning_rate_init=0.01,
        random_state=np.random.RandomState(SEED),
    )
    labels = np.arange(N_CLASSES)
    assert history.steps.tolist() == list(range(1, MLP["max_iter"] + 1))
    for step in history.steps:
        refit.partial_fit(train_x, train_y, classes=labels)
        i = step - 1
        for x, y, accuracy, loss in (
            (train_x, train_y, history.train_accuracy, history.train_loss),
            (validation_x, validation_y, history.validation_accuracy, history.validation_loss),
        ):
            assert accuracy[i] == accuracy_score(y, refit.predict(x))
            # float32 probabilities, widened and rescaled as the predict stage does
            proba = refit.predict_proba(x).astype(np.float64)
            proba /= proba.sum(axis=1, keepdims=True)
            expected = log_loss(y, y_proba=proba, labels=labels)
            assert loss[i] == pytest.approx(expected, rel=1e-12)
        if step in history.snapshots:
            k = history.snapshots.index(step)
            expected = confusion_matrix(validation_y, refit.predict(validation_x), labels=labels)
            np.testing.assert_array_equal(history.confusions[k], expected)
    # learning happened: the curves are not flat noise
    assert history.train_loss[-1] < history.train_loss[0]


def test_snapshots_are_sorted_distinct_and_clipped_to_the_last_step(history):
    assert history.snapshots == (2, 4, 6)  # requested (4, 2, 100), six steps
    assert history.confusions.shape == (3, N_CLASSES, N_CLASSES)
    assert history.confusions.dtype == np.int64
    np.testing.assert_array_equal(
        history.snapshot_accuracy(), history.validation_accuracy[[1, 3, 5]]
    )


@pytest.mark.parametrize(
    ("requested", "n_steps", "expected"),
    [
        ((1, 5, 20, 100), 500, (1, 5, 20, 100)),
        ((1, 5, 20, 100), 8, (1, 5, 8)),
        ((100, 1, 1), 3, (1, 3)),
        ((7,), 1, (1,)),
        ((1, 5), 0, ()),
    ],
)
def test_clip_snapshots(requested, n_steps, expected):
    assert training_steps.clip_snapshots(requested, n_steps) == expected


def test_step_one_is_exactly_the_train_stages_fit_of_one_epoch(splits):
    (train_x, train_y), _ = splits
    one_epoch = {**MLP, "max_iter": 1}
    # fit warns that one epoch did not converge: expected here, and asserted
    with pytest.warns(ConvergenceWarning):
        fitted = models.build("mlp", one_epoch, SEED).fit(train_x, train_y)
    stepwise = training_steps.build_stepwise("mlp", MLP, SEED)
    assert list(
        training_steps.fit_steps(stepwise, train_x, train_y, n_classes=N_CLASSES, n_steps=1)
    ) == [1]
    for ours, theirs in zip(
        stepwise.coefs_ + stepwise.intercepts_, fitted.coefs_ + fitted.intercepts_, strict=True
    ):
        np.testing.assert_array_equal(ours, theirs)


def test_fit_stepwise_is_the_model_of_the_last_step(splits, history):
    (train_x, train_y), (validation_x, validation_y) = splits
    fitted = training_steps.fit_stepwise("mlp", MLP, SEED, train_x, train_y, n_classes=N_CLASSES)
    # the predict stage's probabilities of the saved model: the last step scores them
    proba = models.class_probabilities(fitted, validation_x, N_CLASSES)
    assert training_steps.scores(validation_y, proba) == (
        history.validation_accuracy[-1],
        history.validation_loss[-1],
    )
    assert fitted.get_params()["random_state"] == SEED


def test_the_number_of_steps_is_max_iter_and_zero_without_steps():
    assert training_steps.n_steps("mlp", {**MLP, "max_iter": 17}) == 17
    for model in NON_STEP_MODELS:
        assert not training_steps.trains_in_steps(model)
        assert training_steps.n_steps(model, {"max_iter": 17}) == 0
    with pytest.raises(ValueError, match="knn does not train in steps"):
        training_steps.build_stepwise("knn", {}, 0)


def test_curve_csv_says_what_each_step_is_and_round_trips_every_float(history):
    values = np.array([0.1, 1 / 3, 2.0]), np.array([math.pi, 0.0, 1e-300])
    three = dataclasses.replace(
        history, steps=np.arange(1, 4), train_samples=np.array([5, 10, 20]), kind="x"
    )
    text = training_steps.curve_csv(three, *values)
    assert text.splitlines()[0] == "step,step_kind,train_samples,train,validation"
    rows = list(csv.reader(text.splitlines()[1:]))
    assert [row[:3] for row in rows] == [["1", "x", "5"], ["2", "x", "10"], ["3", "x", "20"]]
    for column, expected in zip((3, 4), values, strict=True):
        assert [float(row[column]) for row in rows] == expected.tolist()
    empty = dataclasses.replace(history, steps=np.arange(0), train_samples=np.arange(0))
    assert training_steps.curve_csv(empty, np.zeros(0), np.zeros(0)) == (
        "step,step_kind,train_samples,train,validation\n"
    )


def run_stage(params: Path, data: Path, out: Path) -> dict[str, Path]:
    paths = {
        "accuracy": out / "steps" / "accuracy.csv",
        "loss": out / "steps" / "loss.csv",
        "confusion-plot": out / "figures" / "steps_confusion.png",
    }
    argv = ["--params", str(params), "--data", str(data)]
    for flag, path in paths.items():
        argv += [f"--{flag}", str(path)]
    steps.main(argv)
    return paths


def read_rows(path: Path) -> tuple[list[str], list[list[str]]]:
    header, *rows = list(csv.reader(path.read_text().splitlines()))
    return header, rows


def test_the_stage_writes_one_row_per_epoch_the_same_bytes_every_time(
    prepared, write_params, history, tmp_path
):
    hidden = list(MLP["hidden_layer_sizes"])
    changes = {"train.model": "mlp", "train.seed": SEED, "train.mlp.hidden_layer_sizes": hidden}
    changes |= {f"train.mlp.{key}": MLP[key] for key in ("alpha", "learning_rate_init")}
    changes |= {"train.mlp.max_iter": MLP["max_iter"], "steps.snapshots": [4, 2, 100]}
    params = write_params(changes)
    first = run_stage(params, prepared, tmp_path / "first")
    second = run_stage(params, prepared, tmp_path / "second")

    for name, train, validation in (
        ("accuracy", history.train_accuracy, history.validation_accuracy),
        ("loss", history.train_loss, history.validation_loss),
    ):
        header, rows = read_rows(first[name])
        assert header == ["step", "step_kind", "train_samples", "train", "validation"]
        assert len(rows) == MLP["max_iter"]
        assert [int(row[0]) for row in rows] == list(range(1, MLP["max_iter"] + 1))
        n_train = len(np.load(prepared / "train_ids.npy"))
        assert {(row[1], int(row[2])) for row in rows} == {("epoch", n_train)}
        assert [float(row[3]) for row in rows] == train.tolist()
        assert [float(row[4]) for row in rows] == validation.tolist()
    for name in first:
        assert first[name].read_bytes() == second[name].read_bytes(), name
    assert first["confusion-plot"].read_bytes().startswith(b"\x89PNG")


def panels(figure) -> list:
    """The matrix axes of a figure (the shared colourbar has no x label)."""
    return [ax for ax in figure.axes if ax.get_xlabel() == "Prediction"]


def colorbars(figure) -> list:
    return [ax for ax in figure.axes if ax.get_ylabel() == "share of the true class"]


def test_one_panel_per_snapshot_titled_with_its_epoch_and_accuracy(history):
    classes = [str(k) for k in range(N_CLASSES)]
    figure = step_figures.snapshots_figure(history, classes, "mlp")
    shown = panels(figure)
    assert len(shown) == len(history.snapshots)
    last = history.n_steps  # the final step says so: a later requested step lands there
    assert [ax.get_title() for ax in shown] == [
        f"epoch {step}{' (last)' if step == last else ''}: accuracy {accuracy:.3f}"
        for step, accuracy in zip(history.snapshots, history.snapshot_accuracy(), strict=True)
    ]
    # each panel shows its own matrix: the largest cell as "share of its row\ncount"
    for ax, counts in zip(shown, history.confusions, strict=True):
        row, column = np.unravel_index(counts.argmax(), counts.shape)
        share = counts[row, column] / counts[row].sum()
        assert f"{share:.2f}\n{counts[row, column]}" in [text.get_text() for text in ax.texts]
        # a zero cell is blank, as in the evaluate stage's heatmap
        assert len(ax.texts) == np.count_nonzero(counts)


def with_snapshots(history, count: int, n_classes: int = N_CLASSES):
    confusions = np.zeros((count, n_classes, n_classes), dtype=np.int64)
    confusions[:, np.arange(n_classes), np.arange(n_classes)] = 9
    confusions[:, 0, -1] = 1
    return dataclasses.replace(history, snapshots=tuple(range(1, count + 1)), confusions=confusions)


def figure_pixels(figure) -> tuple[int, int]:
    """(width, height) of the saved PNG, from its header."""
    from digitwise.io.outputs import png_bytes

    return struct.unpack(">II", png_bytes(figure)[16:24])


def test_small_multiples_share_one_colourbar_two_panels_a_row_within_the_reports_width(history):
    figure = step_figures.snapshots_figure(
        with_snapshots(history, 5), [str(k) for k in range(N_CLASSES)], "mlp"
    )
    shown = panels(figure)
    assert len(shown) == 5 and len(colorbars(figure)) == 1
    assert len(figure.axes) == 6  # the panels and one colourbar, nothing else
    rows: dict[float, list] = {}
    for ax in shown:
        rows.setdefault(round(ax.get_position().y1, 6), []).append(ax)
    assert [len(row) for row in rows.values()] == [2, 2, 1]
    # class names once per row, on its first panel; the others share them
    for row in rows.values():
        first, *others = sorted(row, key=lambda ax: ax.get_position().x0)
        assert [t.get_text() for t in first.get_yticklabels()] == [str(k) for k in range(10)]
        assert all(not ax.yaxis.get_tick_params()["labelleft"] for ax in others)
    width, _ = figure_pixels(figure)
    assert width <= 1_050  # the report's column: shown at full size
    # readable at that width: 10 cells of 0.39 in (39 px) at least, numbers of 7 pt
    inches = figure.get_size_inches()
    for ax in shown:
        box = ax.get_position()
        assert box.width * inches[0] / N_CLASSES >= 0.39
        assert box.height * inches[1] / N_CLASSES >= 0.39
        assert min(text.get_fontsize() for text in ax.texts) >= 7


@pytest.mark.parametrize(("n_classes", "annotated"), [(13, True), (20, False), (300, False)])
def test_many_classes_are_colour_only_and_the_figure_stays_bounded(history, n_classes, annotated):
    classes = [f"class {k}" for k in range(n_classes)]
    figure = step_figures.snapshots_figure(with_snapshots(history, 2, n_classes), classes, "x")
    shown = panels(figure)
    assert len(colorbars(figure)) == 1
    assert all(bool(ax.texts) == annotated for ax in shown)
    width, height = figure_pixels(figure)
    assert width <= 1_600 and height <= 3_500
    cell = shown[0].get_position().width * figure.get_size_inches()[0] / n_classes
    assert cell * 100 >= 1  # a pixel per cell at least, at the saved 100 dpi
    if n_classes == 300:
        assert len({round(ax.get_position().x0, 6) for ax in shown}) == 1  # one per row


def test_train_curves_can_score_a_subset_and_say_so(
    splits, history, prepared, write_params, tmp_path
):
    (train_x, train_y), validation = splits
    scored = np.sort(np.random.default_rng(5).choice(len(train_y), size=50, replace=False))
    subset = training_steps.track(
        "mlp",
        MLP,
        SEED,
        (train_x, train_y),
        validation,
        n_classes=N_CLASSES,
        snapshots=(4, 2, 100),
        scored=scored,
    )
    # the same model at every step: validation curves are the full run's
    np.testing.assert_array_equal(subset.validation_accuracy, history.validation_accuracy)
    refit = MLPClassifier(
        hidden_layer_sizes=(8,),
        alpha=1e-4,
        learning_rate_init=0.01,
        random_state=np.random.RandomState(SEED),
    )
    for i in range(MLP["max_iter"]):
        refit.partial_fit(train_x, train_y, classes=np.arange(N_CLASSES))
        expected = accuracy_score(train_y[scored], refit.predict(train_x[scored]))
        assert subset.train_accuracy[i] == expected

    changes = {"train.model": "mlp", "train.mlp.max_iter": 2, "steps.train_eval_samples": 40}
    paths = run_stage(write_params(changes), prepared, tmp_path)
    assert len(read_rows(paths["accuracy"])[1]) == 2
    figure = step_figures.snapshots_figure(
        subset, [str(k) for k in range(N_CLASSES)], "mlp", "scoring X"
    )
    assert figure.get_suptitle().endswith("\nscoring X")


def test_the_stage_states_the_scored_subset_on_its_figure(
    monkeypatch, prepared, write_params, tmp_path
):
    titles = []
    original = step_figures.snapshots_figure

    def spy(*args, **kwargs):
        figure = original(*args, **kwargs)
        titles.append(figure.get_suptitle())
        return figure

    monkeypatch.setattr(steps, "snapshots_figure", spy)
    changes = {"train.model": "mlp", "train.mlp.max_iter": 1, "steps.train_eval_samples": 40}
    run_stage(write_params(changes), prepared, tmp_path)
    n_train = len(np.load(prepared / "train_ids.npy"))
    assert titles and titles[0].endswith(
        f"train curves score 40 of the {n_train} training samples "
        "(seeded subset, steps.train_eval_samples)"
    )
