"""The classifiers this project trains: their hyperparameters and how to build them.

Each entry maps a model name (the value of ``train.model`` in ``params.yaml``) to
the schema of its hyperparameter block and a builder. Scikit-learn is imported
inside the builders so that reading the schema costs nothing at start-up.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from stages import params as p


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
