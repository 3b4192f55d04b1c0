"""The classifiers this project trains: their hyperparameters and how to build them.

Each entry maps a model name (the value of ``train.model`` in ``params.yaml``) to
the schema of its hyperparameter block (every number bounded), a builder, and the types
a fitted model of it is made of (all that loading accepts inside it: ``models.files``).
Scikit-learn is imported inside the builders so that reading the schema costs nothing at
start-up.
"""

from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from digitwise.errors import UserError
from digitwise.params import validators as p


@dataclass(frozen=True)
class ModelSpec:
    schema: Mapping[str, p.Validator]
    build: Callable[[Mapping[str, Any], int], Any]  # (hyperparameters, seed) -> estimator
    kind: str  # the estimator's type, as module.qualname
    # Types inside a saved model that skops does not trust by default, but that
    # this model is made of; loading trusts these and nothing else.
    trusted: tuple[str, ...] = ()
    # Every type a fitted model of this kind holds besides its own (the trusted ones
    # included): loading refuses any other inside it, wherever it is.
    parts: tuple[str, ...] = ()
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


# Bounds of the hyperparameters (README, "When something is wrong"): far beyond any
# real use, and short of what would run for ever or exhaust memory.
MAX_ITERATIONS = 100_000  # solver iterations, epochs
MAX_ENSEMBLE = 10_000  # trees of a forest, boosting iterations
STRENGTH = (1e-10, 1e10)  # C, gamma: C=1e-300 overflows the float32 fit (NaN warnings)
PENALTY = (0.0, 1e6)  # alpha, l2_regularization
RATE = (1e-10, 10.0)  # learning rates

LOGISTIC = "sklearn.linear_model._logistic.LogisticRegression"
MLP = "sklearn.neural_network._multilayer_perceptron.MLPClassifier"
CALIBRATED = "sklearn.calibration.CalibratedClassifierCV"
FOREST = "sklearn.ensemble._forest.RandomForestClassifier"
BOOSTING = (
    "sklearn.ensemble._hist_gradient_boosting.gradient_boosting.HistGradientBoostingClassifier"
)
KNN = "sklearn.neighbors._classification.KNeighborsClassifier"
SVC = "sklearn.svm._classes.SVC"
TREE = "sklearn.tree._classes.DecisionTreeClassifier"
TREE_ARRAYS = "sklearn.tree._tree.Tree"
CALIBRATED_PART = "sklearn.calibration._CalibratedClassifier"
SIGMOID = "sklearn.calibration._SigmoidCalibration"
PREDICTOR = "sklearn.ensemble._hist_gradient_boosting.predictor.TreePredictor"
BINOMIAL_LOSS = "sklearn._loss.loss.HalfBinomialLoss"  # boosting's loss for 2 classes
MULTINOMIAL_LOSS = "sklearn._loss.loss.HalfMultinomialLoss"  # for more
SVC_KERNELS = ("rbf", "linear", "poly", "sigmoid")

MODELS: dict[str, ModelSpec] = {
    "logistic_regression": ModelSpec(
        {
            "C": p.closed_interval(*STRENGTH),
            "max_iter": p.integer(minimum=1, maximum=MAX_ITERATIONS),
        },
        _logistic_regression,
        kind=LOGISTIC,
    ),
    "mlp": ModelSpec(
        {
            # 20,000 units in all: at most 10^8 weights between hidden layers (two of
            # 10,000), 1.6 GB with the optimiser's moments; ten layers of 10,000 would be 14 GB
            "hidden_layer_sizes": p.integer_list(items=10, minimum=1, maximum=10_000, total=20_000),
            "alpha": p.closed_interval(*PENALTY),
            "learning_rate_init": p.closed_interval(*RATE),
            "max_iter": p.integer(minimum=1, maximum=MAX_ITERATIONS),
        },
        _mlp,
        trusted=("sklearn.neural_network._stochastic_optimizers.AdamOptimizer",),
        kind=MLP,
        parts=(
            "sklearn.neural_network._stochastic_optimizers.AdamOptimizer",
            "sklearn.preprocessing._label.LabelBinarizer",
            "numpy.random.mtrand.RandomState",
        ),
    ),
    "svc": ModelSpec(
        {
            "C": p.closed_interval(*STRENGTH),
            "kernel": p.choice(SVC_KERNELS),
            "gamma": p.closed_interval_or(*STRENGTH, ("scale", "auto")),
        },
        _svc,
        trusted=(CALIBRATED_PART, SIGMOID),
        kind=CALIBRATED,
        parts=(SVC, CALIBRATED_PART, SIGMOID),
    ),
    "random_forest": ModelSpec(
        {
            "n_estimators": p.integer(minimum=1, maximum=MAX_ENSEMBLE),
            "max_depth": p.optional(p.integer(minimum=1, maximum=1_000)),
            "min_samples_leaf": p.integer(minimum=1, maximum=p.MAX_COUNT),
        },
        _random_forest,
        trusted=(TREE_ARRAYS,),
        kind=FOREST,
        parts=(TREE, TREE_ARRAYS),
    ),
    "hist_gradient_boosting": ModelSpec(
        {
            "learning_rate": p.closed_interval(*RATE),
            "max_iter": p.integer(minimum=1, maximum=MAX_ENSEMBLE),
            "max_leaf_nodes": p.integer(minimum=2, maximum=100_000),
            "l2_regularization": p.closed_interval(*PENALTY),
        },
        _hist_gradient_boosting,
        trusted=(PREDICTOR,),
        portable=_forget_thread_count,
        kind=BOOSTING,
        parts=(
            PREDICTOR,
            "sklearn.ensemble._hist_gradient_boosting.binning._BinMapper",
            "sklearn.preprocessing._label.LabelEncoder",
            "numpy.random._generator.Generator",
            MULTINOMIAL_LOSS,
            "sklearn._loss._loss.CyHalfMultinomialLoss",
            "sklearn._loss.link.MultinomialLogit",
            BINOMIAL_LOSS,
            "sklearn._loss._loss.CyHalfBinomialLoss",
            "sklearn._loss.link.LogitLink",
            "sklearn._loss.link.Interval",
        ),
    ),
    "knn": ModelSpec(
        {
            # with distance weights every held-out sample's neighbours are held at once:
            # 10,000 samples with 10,000 neighbours is 1.6 GB, with 60,000 (MNIST's) 9.6 GB
            "n_neighbors": p.integer(minimum=1, maximum=MAX_ENSEMBLE),
            "weights": p.choice(("uniform", "distance")),
        },
        _knn,
        kind=KNN,
    ),
}

SCHEMAS = {name: spec.schema for name, spec in MODELS.items()}
TRUSTED_TYPES = tuple(sorted({name for spec in MODELS.values() for name in spec.trusted}))
ESTIMATOR_TYPES = tuple(spec.kind for spec in MODELS.values())
BY_KIND = {spec.kind: spec for spec in MODELS.values()}


def build(model: str, hyperparameters: Mapping[str, Any], seed: int) -> Any:
    """An unfitted estimator for a validated ``train`` section."""
    return MODELS[model].build(hyperparameters, seed)


def make_portable(model: str, fitted: Any) -> Any:
    """The fitted estimator without traces of this machine, ready to save."""
    if MODELS[model].portable is not None:
        MODELS[model].portable(fitted)
    return fitted


class NonFiniteProbabilities(UserError):
    """Probabilities that are not finite numbers >= 0: a model that diverged, or one
    whose numbers are not a model's. ``row``: the first such row."""

    def __init__(self, row: int) -> None:
        super().__init__("its probabilities are not finite numbers in 0..1")
        self.row = row


def class_probabilities(model: Any, features: np.ndarray, n_classes: int) -> np.ndarray:
    """(n_samples, n_classes) float64 probabilities of every class in the class list.

    features: (n_samples, n_features) in the dtype the model was fitted on (float32),
    so that no model copies its fitted data into another dtype to compare (a nearest-
    neighbour model would hold 60,000 MNIST images twice). A class missing from the
    training split has no column of its own: it gets 0. float32 probabilities (a
    logistic regression's or a network's) are widened and each row rescaled to sum to
    1, so the file's rows sum to 1 to float64 rounding. A row of NaN, infinite or
    negative values (or all zero) raises ``NonFiniteProbabilities``.
    """
    proba = np.zeros((len(features), n_classes))
    with np.errstate(all="ignore"):  # judged below, row by row
        proba[:, np.asarray(model.classes_)] = model.predict_proba(features)
        proba /= proba.sum(axis=1, keepdims=True)
    bad = ~(np.isfinite(proba) & (proba >= 0)).all(axis=1)
    if bad.any():
        raise NonFiniteProbabilities(int(np.argmax(bad)))
    return proba


def type_name(value: Any) -> str:
    """``module.qualname`` of the value's type, as skops and ``ModelSpec`` name types."""
    return f"{type(value).__module__}.{type(value).__qualname__}"


def is_estimator(value: Any) -> bool:
    from sklearn.base import BaseEstimator

    return isinstance(value, BaseEstimator)


_PLAIN = (bool, int, float, complex, str, bytes, type(None), np.generic, np.dtype)


def parts(model: Any) -> Iterator[tuple[str, Any]]:
    """Every object inside ``model``, with where it is (``calibrated_classifiers_[0]
    .estimator``; "" for the model itself), depth first, each once.

    Walks attributes, lists, tuples, dicts, sets and object arrays; numbers, strings and
    numeric arrays are leaves (arrays are yielded, scalars are not). Iterative, so that
    no model is too deep to walk.
    """
    seen: set[int] = set()
    stack: list[tuple[str, Any]] = [("", model)]
    while stack:
        where, node = stack.pop()
        if isinstance(node, _PLAIN) or id(node) in seen:
            continue
        seen.add(id(node))
        yield where, node
        if isinstance(node, np.ndarray):
            children = enumerate(node.ravel()) if node.dtype.kind == "O" else ()
            inside = [(f"{where}[{i}]", child) for i, child in children]
        elif isinstance(node, list | tuple):
            inside = [(f"{where}[{i}]", child) for i, child in enumerate(node)]
        elif isinstance(node, set | frozenset):
            inside = [(f"{where}{{}}", child) for child in node]
        elif isinstance(node, dict):
            inside = [(f"{where}[key]", key) for key in node]
            inside += [(f"{where}[{key!r}]", child) for key, child in node.items()]
        elif isinstance(getattr(node, "__dict__", None), dict):
            dot = "." if where else ""
            inside = [(f"{where}{dot}{name}", child) for name, child in vars(node).items()]
        else:
            inside = []
        stack.extend(reversed(inside))


def non_finite_part(model: Any) -> str | None:
    """Where inside ``model`` the first float array holding NaN or infinity is, or None.

    Every fitted number a model predicts with (coefficients, intercepts, support
    vectors, leaf values, thresholds) is in such an array; trees' node records are
    checked where they are read (``models.files``)."""
    for where, node in parts(model):
        if isinstance(node, np.ndarray) and node.dtype.kind in "fc" and not np.isfinite(node).all():
            return where
    return None


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
