"""The learning curve of models without epochs: nested, stratified, seeded subsets
(hypothesis), each step against an independent scikit-learn fit on the same subset,
the stage's files, and its one-line refusals."""

import csv
import itertools
import json
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, log_loss
from sklearn.model_selection import StratifiedShuffleSplit

from digitwise import params
from digitwise.data import datasets
from digitwise.errors import UserError
from digitwise.figures import steps as steps_figures
from digitwise.metrics import ordering
from digitwise.models import estimators as models
from digitwise.models import learning_curve
from digitwise.models import steps as training_steps
from stages import steps

N_CLASSES = 10
SEED = 3
FRACTIONS = (0.2, 0.5, 1.0)
LOGISTIC = {"C": 1.0, "max_iter": 1000}

labels_strategy = st.lists(st.integers(0, 5), min_size=1, max_size=200).map(np.array)


def class_counts(labels: np.ndarray, positions: np.ndarray) -> np.ndarray:
    return np.bincount(labels[positions], minlength=labels.max() + 1)


@settings(max_examples=150, deadline=None)
@given(labels=labels_strategy, seed=st.integers(0, 2**32 - 1))
def test_every_prefix_of_the_order_is_stratified(labels, seed):
    order = learning_curve.stratified_order(labels, seed)
    assert sorted(order.tolist()) == list(range(len(labels)))
    totals = np.bincount(labels)
    present = totals > 0
    for m in range(len(labels) + 1):
        counts = class_counts(labels, order[:m])
        # one share t of every class: each class holds t * its size, to half a sample
        lowest = ((counts - 0.5) / np.where(present, totals, 1))[present].max()
        highest = ((counts + 0.5) / np.where(present, totals, 1))[present].min()
        assert lowest <= highest + 1e-12, m


@settings(max_examples=100, deadline=None)
@given(
    labels=labels_strategy,
    seed=st.integers(0, 2**32 - 1),
    fractions=st.lists(st.floats(0.001, 1.0), min_size=1, max_size=10, unique=True).map(sorted),
    max_samples=st.one_of(st.none(), st.integers(1, 300)),
)
def test_the_subsets_are_nested_sorted_and_as_large_as_their_fraction(
    labels, seed, fractions, max_samples
):
    subsets = learning_curve.nested_subsets(labels, fractions, max_samples=max_samples, seed=seed)
    base = len(labels) if max_samples is None else min(len(labels), max_samples)
    for fraction, subset in zip(fractions, subsets, strict=True):
        assert len(subset) == max(1, int(np.floor(fraction * base + 0.5)))
        assert np.all(np.diff(subset) > 0)  # sorted, distinct: the split's own order
    for smaller, larger in itertools.pairwise(subsets):
        assert set(smaller.tolist()) <= set(larger.tolist())
    again = learning_curve.nested_subsets(labels, fractions, max_samples=max_samples, seed=seed)
    assert all(np.array_equal(a, b) for a, b in zip(subsets, again, strict=True))


def test_the_digits_fractions_have_scikit_learns_stratified_class_counts():
    labels = datasets.load_digits_source().labels
    order = learning_curve.stratified_order(labels, SEED)
    for size in (50, 180, 450, 1000):
        split = StratifiedShuffleSplit(n_splits=1, train_size=size, random_state=0)
        reference = np.bincount(labels[next(split.split(labels, labels))[0]], minlength=10)
        np.testing.assert_allclose(class_counts(labels, order[:size]), reference, atol=1)


def test_a_different_seed_draws_other_subsets():
    labels = datasets.load_digits_source().labels
    first, second = (
        learning_curve.nested_subsets(labels, (0.1,), max_samples=None, seed=seed)[0]
        for seed in (0, 1)
    )
    assert len(first) == len(second) and not np.array_equal(first, second)


@pytest.fixture(scope="module")
def splits():
    digits = datasets.load_digits_source()
    small = datasets.take(digits, np.arange(500))
    train, test = datasets.split(small, test_size=0.3, seed=0)
    return (
        (datasets.features(train.images, train.pixel_max), train.labels),
        (datasets.features(test.images, test.pixel_max), test.labels),
    )


def run_track(model, hyperparameters, splits, *, train_eval_samples=10**9, fractions=FRACTIONS):
    train, validation = splits
    subsets = learning_curve.nested_subsets(train[1], fractions, max_samples=None, seed=SEED)
    history = learning_curve.track(
        *(model, hyperparameters, SEED, train, validation),
        n_classes=N_CLASSES,
        subsets=subsets,
        fractions=fractions,
        train_eval_samples=train_eval_samples,
    )
    return history, subsets


def test_each_step_is_an_independent_scikit_learn_fit_on_its_subset(splits):
    (train_x, train_y), (validation_x, validation_y) = splits
    history, subsets = run_track("logistic_regression", LOGISTIC, splits)
    assert history.kind == "training_fraction" and history.fractions == FRACTIONS
    assert history.steps.tolist() == [1, 2, 3] and history.snapshots == (1, 2, 3)
    assert history.train_samples.tolist() == [len(s) for s in subsets]
    labels = np.arange(N_CLASSES)
    for i, subset in enumerate(subsets):
        reference = LogisticRegression(C=1.0, max_iter=1000, random_state=SEED)
        reference.fit(train_x[subset], train_y[subset])
        for x, y, accuracy, loss in (
            (validation_x, validation_y, history.validation_accuracy, history.validation_loss),
            (train_x[subset], train_y[subset], history.train_accuracy, history.train_loss),
        ):
            assert accuracy[i] == accuracy_score(y, reference.predict(x))
            proba = np.zeros((len(x), N_CLASSES))
            proba[:, reference.classes_] = reference.predict_proba(x)
            proba /= proba.sum(axis=1, keepdims=True)  # float32, widened as predict does
            assert loss[i] == pytest.approx(log_loss(y, proba, labels=labels), rel=1e-9)
        expected = confusion_matrix(validation_y, reference.predict(validation_x), labels=labels)
        np.testing.assert_array_equal(history.confusions[i], expected)
    # more data helps the held-out split here, as it should
    assert history.validation_loss[-1] < history.validation_loss[0]


@pytest.mark.parametrize(
    ("model", "hyperparameters"),
    [
        ("knn", {"n_neighbors": 3, "weights": "uniform"}),
        ("random_forest", {"n_estimators": 5, "max_depth": None, "min_samples_leaf": 1}),
        (
            "hist_gradient_boosting",
            {"learning_rate": 0.1, "max_iter": 5, "max_leaf_nodes": 7, "l2_regularization": 0.0},
        ),
        ("svc", {"C": 10.0, "kernel": "rbf", "gamma": "scale"}),
    ],
)
def test_every_other_model_is_scored_as_its_own_fit_on_each_subset(model, hyperparameters, splits):
    from threadpoolctl import threadpool_limits

    (train_x, train_y), (validation_x, validation_y) = splits
    with threadpool_limits(limits=1):  # boosting's OpenMP threads crawl on a busy machine
        history, subsets = run_track(model, hyperparameters, splits, fractions=(0.5, 1.0))
    for i, subset in enumerate(subsets):
        with threadpool_limits(limits=1):
            fitted = models.build(model, hyperparameters, SEED)
            fitted.fit(train_x[subset], train_y[subset])
        predicted = fitted.classes_[fitted.predict_proba(validation_x).argmax(axis=1)]
        assert history.validation_accuracy[i] == accuracy_score(validation_y, predicted)


def test_the_figure_titles_each_panel_with_its_samples_share_and_accuracy(splits):
    from digitwise.figures.steps import snapshots_figure

    history, subsets = run_track("logistic_regression", LOGISTIC, splits)
    figure = snapshots_figure(history, [str(k) for k in range(N_CLASSES)], "lr", "a note")
    shown = [ax for ax in figure.axes if ax.get_xlabel() == "Prediction"]
    assert [ax.get_title() for ax in shown] == [
        f"{len(subset)} samples ({share}%): accuracy {accuracy:.3f}"
        for subset, share, accuracy in zip(
            subsets, ("20", "50", "100"), history.validation_accuracy, strict=True
        )
    ]
    title = figure.get_suptitle().splitlines()
    assert title[0] == "lr: held-out confusion matrix as the model is fitted on more training data"
    assert title[-1] == "a note"


def test_the_train_curve_scores_a_seeded_subset_of_each_fit(splits):
    history, subsets = run_track("logistic_regression", LOGISTIC, splits, train_eval_samples=30)
    full, _ = run_track("logistic_regression", LOGISTIC, splits)
    np.testing.assert_array_equal(history.validation_accuracy, full.validation_accuracy)
    # accuracies over 30 samples are multiples of 1/30
    assert np.allclose(history.train_accuracy * 30, np.round(history.train_accuracy * 30))
    assert len(subsets[0]) > 30


def run_stage(
    params_file: Path, data: Path, out: Path, *, confusion: Path | None = None
) -> dict[str, Path]:
    paths = {
        "accuracy": out / "accuracy.csv",
        "loss": out / "loss.csv",
        "confusion-plot": out / "steps_confusion.png",
    }
    argv = ["--params", str(params_file), "--data", str(data)]
    for flag, path in paths.items():
        argv += [f"--{flag}", str(path)]
    steps.main(argv + ([] if confusion is None else ["--confusion", str(confusion)]))
    return paths


@pytest.fixture(scope="module")
def prepared(tmp_path_factory) -> Path:
    digits = datasets.load_digits_source()
    train, test = datasets.split(datasets.take(digits, np.arange(400)), test_size=0.3, seed=0)
    directory = tmp_path_factory.mktemp("prepared")
    datasets.save_splits(directory, train, test)
    return directory


def test_the_stage_writes_one_row_per_fraction_and_its_last_is_the_train_stages_model(
    prepared, write_params, tmp_path
):
    from digitwise.models import training

    params_file = write_params({"steps.fractions": [0.25, 1]})
    first = run_stage(params_file, prepared, tmp_path / "first")
    second = run_stage(params_file, prepared, tmp_path / "second")
    for name in first:
        assert first[name].read_bytes() == second[name].read_bytes(), name
    header, *rows = list(csv.reader(first["accuracy"].read_text().splitlines()))
    assert header == ["step", "step_kind", "train_samples", "train", "validation"]
    train, test = datasets.load_split(prepared, "train"), datasets.load_split(prepared, "test")
    n_train = len(train.labels)
    assert [row[:3] for row in rows] == [
        ["1", "training_fraction", str(round(0.25 * n_train))],
        ["2", "training_fraction", str(n_train)],
    ]
    # the train stage's model, as evaluate scores it
    settings = params.train_params(params.load(params_file), models.SCHEMAS)
    fitted = training.train(
        datasets.features(train.images, train.pixel_max),
        train.labels,
        model=settings.model,
        hyperparameters=dict(settings.hyperparameters),
        seed=settings.seed,
        n_classes=N_CLASSES,
    )
    predicted = fitted.predict(datasets.features(test.images, test.pixel_max))
    assert float(rows[-1][4]) == accuracy_score(test.labels, predicted)


def test_steps_max_samples_caps_the_base_and_the_figure_says_so(
    prepared, write_params, tmp_path, monkeypatch
):
    titles = []
    original = steps.snapshots_figure

    def spy(*args, **kwargs):
        figure = original(*args, **kwargs)
        titles.append(figure.get_suptitle())
        return figure

    monkeypatch.setattr(steps, "snapshots_figure", spy)
    changes = {"steps.fractions": [0.5, 1.0], "steps.max_samples": 100}
    paths = run_stage(write_params(changes), prepared, tmp_path)
    rows = list(csv.reader(paths["loss"].read_text().splitlines()))[1:]
    assert [int(row[2]) for row in rows] == [50, 100]
    n_train = len(np.load(prepared / "train_ids.npy"))
    assert (
        f"seeded fractions of a stratified subset of 100 of the {n_train} training samples "
        "(steps.max_samples)" in " ".join(titles[0].split("\n"))
    )


def test_a_fraction_too_small_for_the_model_is_one_line_and_nothing_is_written(
    prepared, write_params, tmp_path
):
    params_file = write_params({"train.model": "knn", "steps.fractions": [0.001, 1.0]})
    with pytest.raises(UserError) as caught:
        run_stage(params_file, prepared, tmp_path / "out")
    message = str(caught.value)
    assert message.startswith("steps.fractions: the fit on 0.001 of the training split (1 ")
    assert "train.knn.n_neighbors=3" in message and "\n" not in message
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ([0.5, 0.25], r"got \[0\.5, 0\.25\]"),
        ([0.5, 0.5], r"got \[0\.5, 0\.5\]"),
        ([0, 1], r"item 0 is 0 \(int\)"),
        ([1.5], r"item 0 is 1\.5 \(float\)"),
        ([float("nan")], r"item 0 is nan"),
        ([True], r"item 0 is True \(bool\)"),
        (["0.5"], r"item 0 is '0\.5' \(str\)"),
        ([], r"got \[\] \(list\)"),
        ([0.05 * k for k in range(1, 12)], r"got \[0\.05"),
        (0.5, r"got 0\.5 \(float\)"),
    ],
)
def test_bad_fractions_are_one_line(write_params, value, problem):
    with pytest.raises(params.ParamsError) as caught:
        params.steps_params(params.load(write_params({"steps.fractions": value})))
    message = str(caught.value)
    assert (
        "steps.fractions must be a list of 1 to 10 strictly increasing numbers, each greater "
        "than 0 and at most 1; "
    ) in message
    assert re.search(problem, message), message
    assert "\n" not in message


def test_fractions_and_max_samples_are_read_as_numbers(write_params):
    raw = params.load(write_params({"steps.fractions": [0.1, 1], "steps.max_samples": None}))
    read = params.steps_params(raw)
    assert read.fractions == (0.1, 1.0) and all(type(f) is float for f in read.fractions)
    assert read.max_samples is None
    with pytest.raises(params.ParamsError, match=r"steps\.max_samples must be an integer in 1\."):
        params.steps_params(params.load(write_params({"steps.max_samples": 0})))


def test_the_shipped_steps_params():
    shipped = params.steps_params(params.load(Path(__file__).parents[1] / "params.yaml"))
    assert shipped.fractions == (0.1, 0.25, 0.5, 1.0)
    assert json.loads(json.dumps(shipped.max_samples)) == 10_000
    assert training_steps.FRACTION == "training_fraction"


def recorded_order(path: Path, positions) -> Path:
    """A confusion.json as the evaluate stage writes it, holding only the class order."""
    names = [str(i) for i in positions]
    path.write_text(json.dumps({"class_order": {"method": "clustered", "order": names}}))
    return path


def test_the_stage_draws_its_panels_in_the_evaluate_stages_class_order(
    prepared, write_params, tmp_path, monkeypatch
):
    drawn = []

    def snapshots_figure(*args, **kwargs):
        drawn.append(kwargs.get("order"))
        return steps_figures.snapshots_figure(*args, **kwargs)

    monkeypatch.setattr(steps, "snapshots_figure", snapshots_figure)
    params_file = write_params({"steps.fractions": [0.5, 1]})
    positions = (3, 5, 8, 0, 1, 2, 4, 6, 7, 9)
    confusion = recorded_order(tmp_path / "confusion.json", positions)
    paths = run_stage(params_file, prepared, tmp_path / "out", confusion=confusion)
    natural = run_stage(params_file, prepared, tmp_path / "natural")
    assert drawn == [ordering.ClassOrder("clustered", positions), None]
    assert paths["accuracy"].read_bytes() == natural["accuracy"].read_bytes()
    assert paths["confusion-plot"].read_bytes() != natural["confusion-plot"].read_bytes()


def test_a_recorded_order_of_other_classes_is_one_line_and_nothing_is_written(
    prepared, write_params, tmp_path
):
    confusion = tmp_path / "confusion.json"
    confusion.write_text(json.dumps({"class_order": {"method": "clustered", "order": ["a"]}}))
    with pytest.raises(UserError, match=r"confusion\.json: 'class_order\.order' must list"):
        run_stage(write_params(), prepared, tmp_path / "out", confusion=confusion)
    assert not (tmp_path / "out").exists()
