"""The classifiers this project trains: their hyperparameters and how to build them.

Each entry maps a model name (the value of ``train.model`` in ``params.yaml``) to
the schema of its hyperparameter block and a builder. Scikit-learn is imported
inside the builders so that reading the schema costs nothing at start-up.
"""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from digitwise.params import validators as p


@dataclass(frozen=True)
class ModelSpec:
    schema: Mapping[str, p.Validator]
    build: Callable[[Mapping[str, Any], int], Any]  # (hyperparameters, seed) -> estimator
    # Types inside a saved model that skops does not trust by default, but that
    # this model is made of; loading trusts these and nothing else.
    trusted: tuple[str, ...] = ()
    # Clears what a fitted model records about the machine it was fitted on.
    portable: Callable[[Any], None] | None = None


def _logistic_regression(h: Mapping[str, Any], seed: int) -> Any:
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(C=h["C"], max_iter=h["max_iter"], random_state=seed)


def _mlp(h: Mapping[str, Any], seed: int) -> Any:
    from sklearn.neural_network import MLPClassifier

    return MLPClassifier(
        hidden_layer_sizes=h["hidden_layer_sizes"],
        alpha=h["alpha"],
        learning_rate_init=h["learning_rate_init"],
        max_iter=h["max_iter"],
        random_state=seed,
    )


def _svc(h: Mapping[str, Any], seed: int) -> Any:
    from sklearn.calibration import CalibratedClassifierCV
    from sklearn.svm import SVC

    del seed  # SVC without probability=True and an unshuffled 5-fold CV are deterministic
    # Evaluation needs one probability per class. scikit-learn 1.9 deprecates
    # SVC(probability=True) in favour of Platt scaling fitted on cross-validated
    # decisions, then one SVC refitted on all the training data (ensemble=False).
    svc = SVC(C=h["C"], kernel=h["kernel"], gamma=h["gamma"])
    return CalibratedClassifierCV(svc, method="sigmoid", ensemble=False)


def _random_forest(h: Mapping[str, Any], seed: int) -> Any:
    from sklearn.ensemble import RandomForestClassifier

    return RandomForestClassifier(
        n_estimators=h["n_estimators"],
        max_depth=h["max_depth"],
        min_samples_leaf=h["min_samples_leaf"],
        random_state=seed,
    )


def _hist_gradient_boosting(h: Mapping[str, Any], seed: int) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    return HistGradientBoostingClassifier(
        learning_rate=h["learning_rate"],
        max_iter=h["max_iter"],
        max_leaf_nodes=h["max_leaf_nodes"],
        l2_regularization=h["l2_regularization"],
        # "auto" would switch early stopping on above 10,000 samples and hold out a
        # validation split the user never asked for.
        early_stopping=False,
        random_state=seed,
    )


def _forget_thread_count(model: Any) -> None:
    # The fitted bin mapper keeps the machine's OpenMP thread count, which would make
    # the saved file differ between a 2-core and a 4-core machine. None means "decide
    # at prediction time", which is what a model moved to another machine should do.
    model._bin_mapper.n_threads = None


def _knn(h: Mapping[str, Any], seed: int) -> Any:
    from sklearn.neighbors import KNeighborsClassifier

    del seed  # nearest neighbours involve no randomness
    return KNeighborsClassifier(n_neighbors=h["n_neighbors"], weights=h["weights"])


MODELS: dict[str, ModelSpec] = {
    "logistic_regression": ModelSpec(
        {"C": p.positive, "max_iter": p.integer(minimum=1)}, _logistic_regression
    ),
    "mlp": ModelSpec(
        {
            "hidden_layer_sizes": p.positive_int_list,
            "alpha": p.non_negative,
            "learning_rate_init": p.positive,
            "max_iter": p.integer(minimum=1),
        },
        _mlp,
        trusted=("sklearn.neural_network._stochastic_optimizers.AdamOptimizer",),
    ),
    "svc": ModelSpec(
        {
            "C": p.positive,
            "kernel": p.choice(("rbf", "linear", "poly", "sigmoid")),
            "gamma": p.positive_or(("scale", "auto")),
        },
        _svc,
        trusted=(
            "sklearn.calibration._CalibratedClassifier",
            "sklearn.calibration._SigmoidCalibration",
        ),
    ),
    "random_forest": ModelSpec(
        {
            "n_estimators": p.integer(minimum=1),
            "max_depth": p.optional(p.integer(minimum=1)),
            "min_samples_leaf": p.integer(minimum=1),
        },
        _random_forest,
        trusted=("sklearn.tree._tree.Tree",),
    ),
    "hist_gradient_boosting": ModelSpec(
        {
            "learning_rate": p.positive,
            "max_iter": p.integer(minimum=1),
            "max_leaf_nodes": p.integer(minimum=2),
            "l2_regularization": p.non_negative,
        },
        _hist_gradient_boosting,
        trusted=("sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor",),
        portable=_forget_thread_count,
    ),
    "knn": ModelSpec(
        {"n_neighbors": p.integer(minimum=1), "weights": p.choice(("uniform", "distance"))},
        _knn,
    ),
}

SCHEMAS = {name: spec.schema for name, spec in MODELS.items()}
TRUSTED_TYPES = tuple(sorted({name for spec in MODELS.values() for name in spec.trusted}))
ESTIMATOR_TYPES = (
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.neural_network._multilayer_perceptron.MLPClassifier",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.ensemble._forest.RandomForestClassifier",
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier",
    "sklearn.neighbors._classification.KNeighborsClassifier",
)


def build(model: str, hyperparameters: Mapping[str, Any], seed: int) -> Any:
    """An unfitted estimator for a validated ``train`` section."""
    return MODELS[model].build(hyperparameters, seed)


def make_portable(model: str, fitted: Any) -> Any:
    """The fitted estimator without traces of this machine, ready to save."""
    if MODELS[model].portable is not None:
        MODELS[model].portable(fitted)
    return fitted


def class_probabilities(model: Any, features: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_samples, n_classes) float64 probabilities of every class in the class list.

    features: (n_samples, n_features) in the dtype the model was fitted on (float32),
    so that no model copies its fitted data into another dtype to compare (a nearest-
    neighbour model would hold 60,000 MNIST images twice). A class missing from the
    training split has no column of its own: it gets 0. float32 probabilities (a
    logistic regression's or a network's) are widened and each row rescaled to sum to
    1, so the file's rows sum to 1 to float64 rounding.
    """
    proba = np.zeros((len(features), n_classes))
    proba[:, np.asarray(model.classes_)] = model.predict_proba(features)
    return proba / proba.sum(axis=1, keepdims=True)


@contextmanager
def one_blas_thread() -> Iterator[None]:
    """Run fits and predictions with one BLAS thread, so their numbers do not depend on
    the machine's cores.

    OpenBLAS splits a product's sums by its thread count: on 60,000 MNIST-sized images a
    logistic regression's coefficients, and its predictions, came out different with 1
    and 2 threads, so a model or predictions file would differ between machines. One
    thread was also faster on this busy 2-core machine (a fit of 20,000 images: 11.5 s
    against 23 s). threadpoolctl (a scikit-learn dependency) limits only the libraries
    already loaded, so scipy's own BLAS, which scikit-learn's solvers use, is loaded first.
    """
    import scipy.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=1, user_api="blas"):
        yield
