"""Model files audited whole: every object inside a model, its fitted numbers, the shapes
of its parts and its fit to the data. A model that passes skops' type check but is not
one this project trains for this data is one line naming the file and what is wrong, in
predict and in explain: exit code 2, no traceback, nothing written."""

import contextlib
import copy
import io
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from sklearn.calibration import CalibratedClassifierCV
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.tree import ExtraTreeClassifier
from sklearn.tree._tree import Tree

from digitwise.cli import run
from digitwise.errors import UserError
from digitwise.models import audit as model_audit
from digitwise.models import files as model_io
from digitwise.models import training
from stages import explain, predict, prepare, train

ROOT = Path(__file__).resolve().parents[1]
PARAMS = ROOT / "params.yaml"
# Small settings, each model fitted in well under a second
SMALL = {
    "logistic_regression": {"C": 1.0, "max_iter": 200},
    "mlp": {"hidden_layer_sizes": [8], "alpha": 1e-4, "learning_rate_init": 0.01, "max_iter": 30},
    "svc": {"C": 10.0, "kernel": "rbf", "gamma": "scale"},
    "random_forest": {"n_estimators": 3, "max_depth": None, "min_samples_leaf": 1},
    "hist_gradient_boosting": {
        "learning_rate": 0.3,
        "max_iter": 3,
        "max_leaf_nodes": 8,
        "l2_regularization": 0.0,
    },
    "knn": {"n_neighbors": 3, "weights": "uniform"},
}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory):
    """Prepared digits (64 features, 10 classes), the shipped model and its predictions."""
    root = tmp_path_factory.mktemp("pipeline")
    data, model = ["--data", str(root / "prepared")], ["--model", str(root / "model.skops")]
    prepare.main(["--params", str(PARAMS), "--out", str(root / "prepared")])
    train.main(["--params", str(PARAMS), *data, *model])
    predict.main([*data, *model, "--out", str(root / "predictions.csv")])
    return root


@pytest.fixture(scope="module")
def training_data(pipeline):
    images = np.load(pipeline / "prepared" / "train_images.npy")[:400]
    labels = np.load(pipeline / "prepared" / "train_labels.npy")[:400]
    return (images.reshape(len(images), -1) / np.float32(16)).astype(np.float32), labels


def fit(name: str, features: np.ndarray, labels: np.ndarray, n_classes: int):
    return training.train(
        features, labels, model=name, hyperparameters=SMALL[name], seed=0, n_classes=n_classes
    )


@pytest.fixture(scope="module")
def fitted(training_data):
    """Each of the six models, fitted as the train stage fits it (float32 features)."""
    return {name: fit(name, *training_data, n_classes=10) for name in SMALL}


def test_every_model_this_project_trains_passes_the_audit(fitted, training_data):
    features, labels = training_data
    for name, model in fitted.items():
        model_audit.audit(model, "m.skops", n_features=64, n_classes=10)
        binary = fit(name, features, labels % 2, n_classes=2)
        model_audit.audit(binary, "m.skops", n_features=64, n_classes=10)


def stage_refusal(main, argv, out: Path) -> str:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = run(main, argv)
    lines = stderr.getvalue().splitlines()
    assert code == 2, stderr.getvalue()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr.getvalue()
    assert not out.exists(), "a refused run wrote something"
    return lines[0]


def predict_with(model_file: Path, pipeline: Path, tmp_path: Path) -> str:
    out = tmp_path / "out"
    argv = ["--data", str(pipeline / "prepared"), "--model", str(model_file)]
    return stage_refusal(predict.main, [*argv, "--out", str(out / "p.csv")], out)


def explain_with(model_file: Path, pipeline: Path, tmp_path: Path) -> str:
    out = tmp_path / "out"
    argv = ["--params", str(PARAMS), "--data", str(pipeline / "prepared")]
    argv += ["--model", str(model_file), "--predictions", str(pipeline / "predictions.csv")]
    argv += ["--attribution", str(out / "a.json"), "--class-means-plot", str(out / "m.png")]
    return stage_refusal(explain.main, [*argv, "--examples-plot", str(out / "e.png")], out)


def with_tree(tree, **changes):
    """A copy of a fitted scikit-learn Tree with its node records changed."""
    state = tree.__getstate__()
    nodes = state["nodes"].copy()
    for field, (index, value) in changes.items():
        nodes[field][index] = value
    new = Tree(tree.n_features, tree.n_classes, tree.n_outputs)
    new.__setstate__({**state, "nodes": nodes})
    return new


def first_split(nodes_left) -> int:
    return int(np.flatnonzero(np.asarray(nodes_left) != -1)[0])


def damage(name: str, fitted: dict):
    """(what to change, the part of the message that says it), per attack."""
    model = copy.deepcopy(fitted[name.split(":")[0]])
    attack = name.split(":")[1]
    if attack == "coef 63 columns":
        model.coef_ = model.coef_[:, :63].copy()
        return (
            model,
            r"coef_ is a float32 array of shape \(10, 63\); expected a float array of \(10, 64\)",
        )
    if attack == "coef 9 rows":
        model.coef_, model.intercept_ = model.coef_[:9].copy(), model.intercept_[:9].copy()
        return (
            model,
            r"coef_ is a float32 array of shape \(9, 64\); expected a float array of \(10, 64\)",
        )
    if attack == "NaN coefficient":
        model.coef_[3, 5] = np.nan
        return model, r"coef_ holds NaN or infinite values; a model's must be finite"
    if attack == "classes reversed":
        model.classes_ = model.classes_[::-1].copy()
        return (
            model,
            r"predicts classes \[9, 8, .*\], not at least 2 distinct class indices in 0\.\.9",
        )
    if attack == "infinite intercept":
        model.intercepts_[1][0] = np.inf
        return model, r"intercepts_\[1\] holds NaN or infinite values"
    if attack == "layer of 63 inputs":
        model.coefs_[0] = model.coefs_[0][:63].copy()
        return (
            model,
            r"coefs_\[0\] is a float32 array of shape \(63, 8\); expected a float array of "
            r"\(64, 'n'\)",
        )
    if attack == "unknown activation":
        model.activation = "sigmoid"
        return model, r"its setting activation is 'sigmoid'; the train stage sets 'relu'"
    if attack == "child outside the tree":
        tree = model.estimators_[1].tree_
        node = first_split(tree.children_left)
        model.estimators_[1].tree_ = with_tree(tree, left_child=(node, 10**6))
        return model, rf"estimators_\[1\]: node {node} leads outside its tree"
    if attack == "child before its parent":  # a cycle: the walk would never end
        tree = model.estimators_[0].tree_
        node = first_split(tree.children_left)
        model.estimators_[0].tree_ = with_tree(tree, right_child=(node, node))
        return model, rf"estimators_\[0\]: node {node} leads outside its tree"
    if attack == "feature 64":
        tree = model.estimators_[2].tree_
        node = first_split(tree.children_left)
        model.estimators_[2].tree_ = with_tree(tree, feature=(node, 64))
        return model, rf"estimators_\[2\]: node {node} leads outside its tree"
    if attack == "tree of 63 features":
        model.estimators_[0].n_features_in_ = 63
        return model, r"the model \(estimators_\[0\]\) expects 63 features, the data has 64"
    if attack == "extra tree inside":
        model.estimators_[1] = ExtraTreeClassifier().fit(np.zeros((2, 64)), [0, 1])
        return model, (
            r"the RandomForestClassifier holds a sklearn\.tree\._classes\.ExtraTreeClassifier "
            r"at estimators_\[1\]; a model of this kind holds only: "
            r"sklearn\.tree\._classes\.DecisionTreeClassifier, sklearn\.tree\._tree\.Tree$"
        )
    if attack == "predictor child outside":
        nodes = model._predictors[2][4].nodes
        node = int(np.flatnonzero(nodes["is_leaf"] == 0)[0])
        nodes["right"][node] = len(nodes)
        return model, rf"_predictors\[2\]\[4\]: node {node} leads outside its tree"
    if attack == "binomial loss":
        from sklearn._loss.loss import HalfBinomialLoss

        model._loss = HalfBinomialLoss()
        return (
            model,
            r"_loss is a HalfBinomialLoss, not a sklearn\._loss\.loss\.HalfMultinomialLoss",
        )
    if attack == "support counts":
        svm = model.calibrated_classifiers_[0].estimator
        svm._n_support = svm._n_support.copy()
        svm._n_support[0] += 5
        n = len(svm.support_vectors_)
        return model, rf"estimator\._n_support must count the {n} support vectors by class"
    if attack == "dual coefficients":
        svm = model.calibrated_classifiers_[0].estimator
        svm._dual_coef_ = svm._dual_coef_[:, :-1].copy()
        return model, r"estimator\._dual_coef_ is a float64 array of shape \(9, \d+\)"
    if attack == "pipeline inside":
        features = np.random.default_rng(0).random((60, 64)).astype(np.float32)
        inner = Pipeline([("scale", StandardScaler()), ("svc", SVC())])
        model = CalibratedClassifierCV(inner, method="sigmoid", ensemble=False)
        model.fit(features, np.arange(60) % 10)
        return model, (
            r"the CalibratedClassifierCV holds a sklearn\.pipeline\.Pipeline at estimator; a "
            r"model of this kind holds only: "
        )
    if attack == "neighbour labels":
        model._y = model._y.copy()
        model._y[7] = 10
        return model, r"_y must hold class positions in 0\.\.9"
    if attack == "a million jobs":  # would start processes in predict
        model.n_jobs = 10**6
        return model, r"its setting n_jobs is 1000000; the train stage sets None"
    if attack == "verbose":  # would print in predict
        model.verbose = 3
        return model, r"its setting verbose is 3; the train stage sets 0"
    if attack == "a billion neighbours":
        model.n_neighbors = 10**9
        return model, (
            r"not fitted with settings this project takes: train\.knn\.n_neighbors must be an "
            r"integer in 1\.\.10000; got 1000000000 \(int\)"
        )
    if attack == "more neighbours than samples":
        model.n_neighbors = 401
        return model, r"n_neighbors must be in 1\.\.400, the samples it was fitted on"
    raise AssertionError(attack)


ATTACKS = [
    "logistic_regression:coef 63 columns",
    "logistic_regression:coef 9 rows",
    "logistic_regression:NaN coefficient",
    "logistic_regression:classes reversed",
    "mlp:infinite intercept",
    "mlp:layer of 63 inputs",
    "mlp:unknown activation",
    "random_forest:child outside the tree",
    "random_forest:child before its parent",
    "random_forest:feature 64",
    "random_forest:tree of 63 features",
    "random_forest:extra tree inside",
    "hist_gradient_boosting:predictor child outside",
    "hist_gradient_boosting:binomial loss",
    "svc:support counts",
    "svc:dual coefficients",
    "svc:pipeline inside",
    "random_forest:a million jobs",
    "hist_gradient_boosting:verbose",
    "knn:a billion neighbours",
    "knn:neighbour labels",
    "knn:more neighbours than samples",
]


@pytest.mark.parametrize("attack", ATTACKS)
def test_predict_refuses_a_model_that_is_not_whole(pipeline, fitted, tmp_path, attack):
    model, message = damage(attack, fitted)
    path = tmp_path / "model.skops"
    model_io.save_model(model, path)
    line = predict_with(path, pipeline, tmp_path)
    assert line.startswith(f"error: {path}: "), line
    assert re.search(message, line), line


@pytest.mark.parametrize(
    "attack", ["svc:pipeline inside", "mlp:layer of 63 inputs", "random_forest:feature 64"]
)
def test_explain_audits_the_model_as_predict_does(pipeline, fitted, tmp_path, attack):
    model, message = damage(attack, fitted)
    path = tmp_path / "model.skops"
    model_io.save_model(model, path)
    line = explain_with(path, pipeline, tmp_path)
    assert line.startswith(f"error: {path}: "), line
    assert re.search(message, line), line


def overflowing_network(fitted, pixels: tuple[int, int]):
    """An MLP whose numbers are all finite and which predicts rows of equal pixels (the
    audit's probe), but whose output overflows to NaN wherever pixel a > pixel b."""
    model = copy.deepcopy(fitted["mlp"])
    a, b = pixels
    weights, out = model.coefs_
    weights[:, 0] = 0
    weights[a, 0], weights[b, 0] = 1e38, -1e38  # float32: hidden unit 0 = 1e38 (x_a - x_b)
    model.intercepts_[0][0] = 0
    out[0, :] = 0
    out[0, 0] = 1e38  # its output overflows to infinity, and the softmax to NaN
    return model


@pytest.mark.parametrize("stage", ["predict", "explain"])
def test_probabilities_that_are_not_numbers_are_refused_naming_the_sample(
    pipeline, fitted, tmp_path, stage
):
    images = np.load(pipeline / "prepared" / "test_images.npy").reshape(450, -1)
    ids = np.load(pipeline / "prepared" / "test_ids.npy")
    a, b = 27, 28
    first = int(np.flatnonzero(images[:, a] > images[:, b])[0])
    path = tmp_path / "model.skops"
    model_io.save_model(overflowing_network(fitted, (a, b)), path)
    line = (predict_with if stage == "predict" else explain_with)(path, pipeline, tmp_path)
    assert line == (
        f"error: {path}: its probabilities are not finite numbers in 0..1 for sample {ids[first]}"
    )


def test_a_model_file_that_is_not_a_classifier_of_this_project_is_refused(pipeline, tmp_path):
    from sklearn.tree import DecisionTreeClassifier

    path = tmp_path / "model.skops"
    model_io.save_model(DecisionTreeClassifier().fit(np.zeros((2, 64)), [0, 1]), path)
    line = predict_with(path, pipeline, tmp_path)
    assert line == (
        f"error: {path}: holds a sklearn.tree._classes.DecisionTreeClassifier, not one of "
        "the classifiers this project trains"
    )


def test_a_fit_that_diverged_is_refused_at_train(fitted, training_data):
    features, _ = training_data
    model = copy.deepcopy(fitted["mlp"])
    model.coefs_[0][0, 0] = np.nan
    with pytest.raises(
        UserError, match=r"^train\.model=mlp diverged: its fitted coefs_\[0\] holds"
    ):
        training.check_converged(model, features[:10], model="mlp", n_classes=10)
    training.check_converged(fitted["mlp"], features[:10], model="mlp", n_classes=10)


@pytest.mark.parametrize("where", ["train", "steps"])
def test_a_network_whose_weights_overflow_is_one_message_naming_the_step(training_data, where):
    """Out of the params' range (1e308), as a model file or a future bound might allow."""
    from digitwise.models import steps

    features, labels = training_data
    settings = {**SMALL["mlp"], "learning_rate_init": 1e308, "max_iter": 3}
    expected = r"^train\.model=mlp diverged at step 1: its weights became NaN or infinite; try"
    with pytest.raises(UserError, match=expected):  # and no RuntimeWarning (an error here)
        if where == "train":
            training.train(
                features, labels, model="mlp", hyperparameters=settings, seed=0, n_classes=10
            )
        else:
            data = (features, labels)
            steps.track("mlp", settings, 0, data, data, n_classes=10, snapshots=(1,))


def test_the_shipped_model_is_still_read(pipeline, tmp_path):
    shutil.copy(pipeline / "model.skops", tmp_path / "m.skops")
    model = model_io.load_model(tmp_path / "m.skops", n_features=64, n_classes=10)
    assert type(model).__name__ == "LogisticRegression"


def with_attribute(model, where: str, value):
    """A copy of ``model`` with the attribute at dotted ``where`` set (or deleted: None)."""
    model = copy.deepcopy(model)
    *path, name = where.split(".")
    part = model
    for step in path:
        part = part[int(step)] if step.isdigit() else getattr(part, step)
    if value is None:
        delattr(part, name)
    else:
        setattr(part, name, value)
    return model


@pytest.mark.parametrize(
    ("kind", "where", "value"),
    [
        ("logistic_regression", "n_features_in_", np.array([64, 64])),
        ("knn", "n_samples_fit_", np.array([1, 2])),
        ("random_forest", "n_outputs_", np.array([1, 1])),
        ("mlp", "n_layers_", np.array([3, 3])),
        ("svc", "calibrated_classifiers_.0.estimator.class_weight", np.array([1.0, 2.0])),
        ("svc", "calibrated_classifiers_.0.estimator.C", None),
    ],
)
def test_an_array_where_a_number_belongs_or_a_missing_setting_is_one_line(
    pipeline, fitted, tmp_path, kind, where, value
):
    path = tmp_path / "model.skops"
    model_io.save_model(with_attribute(fitted[kind], where, value), path)
    line = predict_with(path, pipeline, tmp_path)
    assert line.startswith(f"error: {path}: "), line
