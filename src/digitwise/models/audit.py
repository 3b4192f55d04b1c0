"""The audit of a loaded model, whole: is it one this project trains, for this data?

skops' own check is of types alone, and trusts much of scikit-learn: a Pipeline inside
a CalibratedClassifierCV, a logistic regression whose coefficients have 63 columns for
64 features or are NaN, a tree whose nodes point outside it (scikit-learn's compiled
code follows them without bounds checks) all pass it. ``audit`` refuses each, naming the
file and what is wrong, before predict or explain use the model.
"""

import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from digitwise.errors import UserError
from digitwise.models import estimators as models
from digitwise.params.validators import ParamsError

Array = np.ndarray


def audit(model: Any, path: str | Path, *, n_features: int, n_classes: int) -> None:
    """Refuse, naming ``path``, a model that is not one this project trains for this data.

    - it is one of the six kinds, and everything inside it (attributes, list items,
      arrays of objects, at any depth) is of a type its kind is made of;
    - its settings are those the train stage gives its kind, hyperparameters in range;
    - every fitted float array is finite;
    - it fits the data (``check_fits_data``), and its parts fit each other: shapes of
      coefficients and support vectors, trees whose nodes lead to their own leaves;
    - it predicts probabilities for a few rows of ``n_features`` features.
    """
    kind = models.type_name(model)
    spec = models.BY_KIND.get(kind)
    if spec is None:
        raise UserError(f"{path}: holds a {kind}, not one of the classifiers this project trains")
    allowed = {kind, *spec.parts}
    for where, part in models.parts(model):
        if isinstance(part, np.ndarray | list | tuple | dict | set | frozenset):
            continue
        name = models.type_name(part)
        if name not in allowed:
            raise UserError(
                f"{path}: the {type(model).__name__} holds a {name} at {where}; a model of "
                f"this kind holds only: {', '.join(sorted(allowed - {kind})) or 'no other type'}"
            )
    _check_settings(model, path, spec)
    where = models.non_finite_part(model)
    if where is not None:
        raise UserError(f"{path}: {where} holds NaN or infinite values; a model's must be finite")
    check_fits_data(model, path, n_features=n_features, n_classes=n_classes)
    try:
        _STRUCTURE[kind](model, n_features)
    except _Mismatch as error:
        raise UserError(f"{path}: {error} (rerun the train stage)") from None
    _probe(model, path, n_features)


def _check_settings(model: Any, path: str | Path, spec: models.ModelSpec) -> None:
    """Refuse a model whose settings are not those the train stage gives its kind: each
    hyperparameter in its params range, every other setting as the builder makes it (a
    verbose or n_jobs setting would print or start processes in predict)."""
    name = next(name for name, candidate in models.MODELS.items() if candidate is spec)
    try:
        given = model.get_params(deep=True)
    except AttributeError as error:  # a setting missing inside it
        raise UserError(f"{path}: an estimator inside the model lacks {error.name}") from None
    hyperparameters = {}
    try:
        for key, check in spec.schema.items():
            value = given.get(key, given.get(f"estimator__{key}"))
            value = list(value) if isinstance(value, tuple) else value
            hyperparameters[key] = check(f"train.{name}.{key}", value)
    except ParamsError as error:
        raise UserError(f"{path}: not fitted with settings this project takes: {error}") from None
    seed = given.get("random_state")
    if not isinstance(seed, int) or isinstance(seed, bool) or not 0 <= seed < 2**32:
        seed = 0  # a seed of another kind differs from every seed below
    expected = models.build(name, hyperparameters, seed).get_params(deep=True)
    for key, want in expected.items():
        if not models.is_estimator(want) and not _same_setting(given.get(key), want):
            raise UserError(
                f"{path}: its setting {key} is {_quote(given.get(key))}; the train stage "
                f"sets {_quote(want)} (rerun the train stage)"
            )
    for i, part in enumerate(getattr(model, "calibrated_classifiers_", None) or []):
        inner = getattr(part, "estimator", None)  # a clone of the model's estimator
        if models.is_estimator(inner) and inner.get_params() != given["estimator"].get_params():
            raise UserError(
                f"{path}: calibrated_classifiers_[{i}].estimator has other settings than "
                "the model's estimator (rerun the train stage)"
            )


def _same_setting(have: Any, want: Any) -> bool:
    if isinstance(have, list | tuple) and isinstance(want, list | tuple):
        return list(have) == list(want)
    return type(have) is type(want) and have == want


def _quote(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def check_fits_data(model: Any, path: str | Path, *, n_features: int, n_classes: int) -> None:
    """Refuse a model that was fitted on other features or other labels than these.

    Its classes are distinct class indices in increasing order, at least 2 (a class
    missing from the training split has none); it and every estimator inside it take
    ``n_features`` features."""
    for where, part in models.parts(model):
        expected = (
            getattr(part, "n_features_in_", n_features) if models.is_estimator(part) else None
        )
        if expected is not None and expected != n_features:
            inside = f" ({where})" if where else ""
            raise UserError(
                f"{path}: the model{inside} expects {expected} features, the data has "
                f"{n_features} (rerun the train stage)"
            )
    if not hasattr(model, "n_features_in_"):
        raise UserError(f"{path}: the model is not fitted (rerun the train stage)")
    fitted = np.asarray(getattr(model, "classes_", []))
    in_range = (
        fitted.dtype.kind in "iu"
        and fitted.ndim == 1
        and fitted.size >= 2
        and 0 <= fitted.min() <= fitted.max() < n_classes
        and (np.diff(fitted) > 0).all()
    )
    if not in_range:
        shown = fitted.tolist()[:12] if fitted.ndim == 1 else f"of shape {fitted.shape}"
        raise UserError(
            f"{path}: the model predicts classes {shown}, not at least 2 distinct class "
            f"indices in 0..{n_classes - 1} in increasing order (rerun the train stage)"
        )


# Features of the rows the model must predict: every pixel 0, 0.5 or 1 (the data's range)
PROBE_ROWS = (0.0, 0.5, 1.0)


def _probe(model: Any, path: str | Path, n_features: int) -> None:
    """Refuse a model whose ``predict_proba`` fails, warns, or gives no probabilities."""
    rows = np.repeat(np.array(PROBE_ROWS, dtype=np.float32)[:, None], n_features, axis=1)
    try:
        with warnings.catch_warnings(record=True) as caught, np.errstate(all="ignore"):
            warnings.simplefilter("always")
            proba = model.predict_proba(rows)
    except Exception as error:  # any failure of a model that passed the checks above
        raise UserError(
            f"{path}: the model cannot predict ({type(error).__name__}: {error})"
        ) from None
    about_it = [w for w in caught if not issubclass(w.category, DeprecationWarning | FutureWarning)]
    if about_it:  # not about the library's future
        raise UserError(f"{path}: the model warns when it predicts: {about_it[0].message}")
    expected = (len(PROBE_ROWS), len(model.classes_))
    if not isinstance(proba, np.ndarray) or proba.dtype.kind != "f" or proba.shape != expected:
        raise UserError(
            f"{path}: the model predicts {_describe(proba)} for {expected[0]} rows, not "
            f"probabilities of its {expected[1]} classes"
        )
    finite = np.isfinite(proba).all() and ((proba >= 0) & (proba <= 1)).all()
    if not finite or not (np.abs(proba.sum(axis=1) - 1) <= 1e-3).all():
        raise UserError(
            f"{path}: the model's probabilities are not finite numbers in 0..1 summing to 1"
        )


class _Mismatch(Exception):
    """A part of a model that does not fit the others or the data."""


def _outputs(model: Any) -> int:
    """Columns of a linear model's or a network's output: 1 for 2 classes, else one each."""
    return 1 if len(model.classes_) == 2 else len(model.classes_)


def _describe(value: Any) -> str:
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    return f"a {type(value).__name__}"


def _array(value: Any, where: str, shape: tuple[int | None, ...], *, kind: str = "f") -> np.ndarray:
    """``value`` if it is an array of that kind (f: float, iu: integer) and ``shape``
    (None: any length), else ``_Mismatch``."""
    fits = (
        isinstance(value, np.ndarray)
        and value.dtype.kind in kind
        and value.dtype.fields is None
        and value.ndim == len(shape)
        and all(want is None or want == have for want, have in zip(shape, value.shape, strict=True))
    )
    if not fits:
        numbers = "float" if kind == "f" else "integer"
        wanted = tuple("n" if size is None else size for size in shape)
        raise _Mismatch(f"{where} is {_describe(value)}; expected a {numbers} array of {wanted}")
    return value


def _same_classes(part: Any, name: str, where: str, model: Any) -> None:
    if not np.array_equal(np.asarray(getattr(part, name, None)), model.classes_):
        raise _Mismatch(f"{where}{name} differs from the model's classes_")


def _is_a(part: Any, kind: str, where: str) -> None:
    if models.type_name(part) != kind:
        raise _Mismatch(f"{where} is {_describe(part)}, not a {kind}")


def _logistic_regression(model: Any, n_features: int) -> None:
    rows = _outputs(model)
    _array(getattr(model, "coef_", None), "coef_", (rows, n_features))
    _array(getattr(model, "intercept_", None), "intercept_", (rows,))


def _mlp(model: Any, n_features: int) -> None:
    coefs, intercepts = getattr(model, "coefs_", None), getattr(model, "intercepts_", None)
    if not isinstance(coefs, list) or not isinstance(intercepts, list) or not coefs:
        raise _Mismatch("coefs_ and intercepts_ must be lists of one array per layer")
    if len(intercepts) != len(coefs) or getattr(model, "n_layers_", None) != len(coefs) + 1:
        raise _Mismatch(f"n_layers_, coefs_ and intercepts_ disagree on the {len(coefs)} layers")
    width = n_features
    for layer, (weights, biases) in enumerate(zip(coefs, intercepts, strict=True)):
        out = _outputs(model) if layer == len(coefs) - 1 else None
        weights = _array(weights, f"coefs_[{layer}]", (width, out))
        width = weights.shape[1]
        _array(biases, f"intercepts_[{layer}]", (width,))
    activation = "logistic" if len(model.classes_) == 2 else "softmax"
    out = (getattr(model, "out_activation_", None), getattr(model, "n_outputs_", None))
    if out != (activation, width):
        raise _Mismatch(f"out_activation_ and n_outputs_ must be {activation} and {width}")


def _calibrated_svc(model: Any, n_features: int) -> None:
    calibrated = getattr(model, "calibrated_classifiers_", None)
    if not isinstance(calibrated, list) or not calibrated:
        raise _Mismatch("calibrated_classifiers_ must be a list of at least one")
    for i, part in enumerate(calibrated):
        where = f"calibrated_classifiers_[{i}]"
        _is_a(part, models.CALIBRATED_PART, where)
        if getattr(part, "method", None) != "sigmoid":
            raise _Mismatch(f"{where}.method must be sigmoid")
        _same_classes(part, "classes", f"{where}.", model)
        calibrators = getattr(part, "calibrators", None)
        if not isinstance(calibrators, list) or len(calibrators) != _outputs(model):
            raise _Mismatch(f"{where}.calibrators must be a list of {_outputs(model)}")
        for j, calibrator in enumerate(calibrators):
            _is_a(calibrator, models.SIGMOID, f"{where}.calibrators[{j}]")
            for name in ("a_", "b_"):
                if not np.isfinite(_float(calibrator, name)):
                    raise _Mismatch(f"{where}.calibrators[{j}].{name} must be a finite number")
        _svm(getattr(part, "estimator", None), f"{where}.estimator", model, n_features)


def _float(part: Any, name: str) -> float:
    value = getattr(part, name, None)
    return float(value) if isinstance(value, float | np.floating) else float("nan")


def _svm(svm: Any, where: str, model: Any, n_features: int) -> None:
    """The arrays libsvm reads, with the lengths it assumes (it does not check them)."""
    _is_a(svm, models.SVC, where)
    dense = (
        getattr(svm, "_impl", None) == "c_svc"
        and getattr(svm, "_sparse", None) is False
        and getattr(svm, "kernel", None) in models.SVC_KERNELS
        and getattr(svm, "_effective_probability", None) is False
    )
    if not dense:
        raise _Mismatch(f"{where} is not a dense C-SVC with one of {', '.join(models.SVC_KERNELS)}")
    _same_classes(svm, "classes_", f"{where}.", model)
    k = len(model.classes_)
    vectors = _array(
        getattr(svm, "support_vectors_", None), f"{where}.support_vectors_", (None, n_features)
    )
    n = len(vectors)
    _array(getattr(svm, "support_", None), f"{where}.support_", (n,), kind="i")
    counts = _array(getattr(svm, "_n_support", None), f"{where}._n_support", (k,), kind="i")
    if n == 0 or counts.min() < 0 or counts.sum() != n:
        raise _Mismatch(f"{where}._n_support must count the {n} support vectors by class")
    for name in ("dual_coef_", "_dual_coef_"):
        _array(getattr(svm, name, None), f"{where}.{name}", (k - 1, n))
    for name in ("intercept_", "_intercept_"):
        _array(getattr(svm, name, None), f"{where}.{name}", (k * (k - 1) // 2,))
    for name in ("_probA", "_probB"):
        _array(getattr(svm, name, None), f"{where}.{name}", (0,))
    if not (np.isfinite(_float(svm, "_gamma")) and _float(svm, "_gamma") > 0):
        raise _Mismatch(f"{where}._gamma must be a finite number > 0")


def _random_forest(model: Any, n_features: int) -> None:
    k = len(model.classes_)
    trees = getattr(model, "estimators_", None)
    if getattr(model, "n_outputs_", None) != 1 or getattr(model, "n_classes_", None) != k:
        raise _Mismatch(f"n_outputs_ and n_classes_ must be 1 and {k}")
    if not isinstance(trees, list) or not trees:
        raise _Mismatch("estimators_ must be a list of at least one tree")
    for i, tree in enumerate(trees):
        where = f"estimators_[{i}]"
        _is_a(tree, models.TREE, where)
        if getattr(tree, "n_outputs_", None) != 1 or getattr(tree, "n_classes_", None) != k:
            raise _Mismatch(f"{where}: n_outputs_ and n_classes_ must be 1 and {k}")
        arrays = getattr(tree, "tree_", None)
        _is_a(arrays, models.TREE_ARRAYS, f"{where}.tree_")
        # node_count is not checked against the arrays when a Tree is loaded; reading
        # past them would read other memory
        shape = (arrays.n_features, arrays.n_outputs, list(arrays.n_classes), arrays.node_count)
        if shape != (n_features, 1, [k], arrays.capacity) or arrays.node_count < 1:
            raise _Mismatch(
                f"{where}.tree_ is not a tree of {arrays.capacity} nodes, {n_features} "
                f"features and {k} classes"
            )
        left, right = arrays.children_left, arrays.children_right
        _nodes(where, left == -1, left, right, arrays.feature, n_features)
        if not np.isfinite(arrays.value).all():
            raise _Mismatch(f"{where}.tree_ holds leaf values that are not finite")


def _nodes(where: str, leaf: Array, left: Array, right: Array, feature: Array, width: int) -> None:
    """Every split node's children come after it (so every path ends at a leaf) and its
    feature is one of the data's. Trees are walked by compiled code without bounds checks."""
    n, node = len(leaf), np.arange(len(leaf))
    children = (left > node) & (left < n) & (right > node) & (right < n)
    bad = ~(leaf | (children & (feature >= 0) & (feature < width)))
    if bad.any():
        raise _Mismatch(f"{where}: node {int(np.argmax(bad))} leads outside its tree")


def _hist_gradient_boosting(model: Any, n_features: int) -> None:
    from sklearn.ensemble._hist_gradient_boosting.common import PREDICTOR_RECORD_DTYPE

    per_iteration = _outputs(model)
    if getattr(model, "n_trees_per_iteration_", None) != per_iteration:
        raise _Mismatch(f"n_trees_per_iteration_ must be {per_iteration}")
    baseline = getattr(model, "_baseline_prediction", None)
    _array(baseline, "_baseline_prediction", (1, per_iteration))
    loss = models.BINOMIAL_LOSS if len(model.classes_) == 2 else models.MULTINOMIAL_LOSS
    _is_a(getattr(model, "_loss", None), loss, "_loss")
    # categorical splits index bitsets by category value, unchecked: this project's
    # features have none
    mapper = getattr(model, "_bin_mapper", None)
    flags = getattr(mapper, "is_categorical_", None)
    categorical = _array(flags, "_bin_mapper.is_categorical_", (n_features,), kind="iu")
    if categorical.any() or getattr(model, "_preprocessor", None) is not None:
        raise _Mismatch("the model has categorical features; this project's have none")
    predictors = getattr(model, "_predictors", None)
    if not isinstance(predictors, list) or not predictors:
        raise _Mismatch("_predictors must be a list of at least one iteration")
    for i, iteration in enumerate(predictors):
        if not isinstance(iteration, list) or len(iteration) != per_iteration:
            raise _Mismatch(f"_predictors[{i}] must be a list of {per_iteration} trees")
        for j, predictor in enumerate(iteration):
            where = f"_predictors[{i}][{j}]"
            _is_a(predictor, models.PREDICTOR, where)
            nodes = getattr(predictor, "nodes", None)
            if not isinstance(nodes, np.ndarray) or nodes.dtype != PREDICTOR_RECORD_DTYPE:
                raise _Mismatch(f"{where}.nodes is {_describe(nodes)}, not tree nodes")
            if nodes.ndim != 1 or len(nodes) < 1 or nodes["is_categorical"].any():
                raise _Mismatch(f"{where}.nodes must be a list of numeric split nodes")
            left, right = (nodes[side].astype(np.int64) for side in ("left", "right"))
            _nodes(where, nodes["is_leaf"] != 0, left, right, nodes["feature_idx"], n_features)
            if not np.isfinite(nodes["value"]).all():
                raise _Mismatch(f"{where} holds leaf values that are not finite")


def _knn(model: Any, n_features: int) -> None:
    if getattr(model, "_fit_method", None) != "brute" or getattr(model, "_tree", None):
        raise _Mismatch("only a brute-force neighbour search is read")
    fitted = _array(getattr(model, "_fit_X", None), "_fit_X", (None, n_features))
    n = len(fitted)
    labels = _array(getattr(model, "_y", None), "_y", (n,), kind="iu")
    if n == 0 or labels.min() < 0 or labels.max() >= len(model.classes_):
        raise _Mismatch(f"_y must hold class positions in 0..{len(model.classes_) - 1}")
    neighbours = getattr(model, "n_neighbors", None)
    if getattr(model, "n_samples_fit_", None) != n or getattr(model, "outputs_2d_", None):
        raise _Mismatch(f"n_samples_fit_ must be the {n} samples of _fit_X, with one output")
    if not isinstance(neighbours, int) or not 1 <= neighbours <= n:
        raise _Mismatch(f"n_neighbors must be in 1..{n}, the samples it was fitted on")


_STRUCTURE: dict[str, Callable[[Any, int], None]] = {
    models.LOGISTIC: _logistic_regression,
    models.MLP: _mlp,
    models.CALIBRATED: _calibrated_svc,
    models.FOREST: _random_forest,
    models.BOOSTING: _hist_gradient_boosting,
    models.KNN: _knn,
}
