"""Pixel attribution: how much each pixel moves each class's score, numpy only.

Two methods, both measured against one background, the mean training image:

- ``linear_shap``, for a logistic regression: the exact SHAP values of its logits with
  independent features, phi[n, c, p] = coef[c, p] * (x[n, p] - mean[p]). They add up
  (efficiency): base[c] + sum_p phi[n, c, p] == logit[n, c], with base[c] the logit of
  the mean image.
- ``occlusion``, for any model: phi[n, c, p] = f_c(x) - f_c(x with pixel p set to its
  mean), at a fixed cost of P + 1 evaluations of f per sample. Pixels interact in a
  non-linear model, so these do not add up to anything; for a function linear in x
  they equal the linear SHAP values exactly.

And which samples to explain: a seeded subset for the per-class means, and the
examples to draw, misclassified first.
"""

from collections.abc import Callable
from typing import Any

import numpy as np

# Values in one batch of perturbed copies (8 bytes each): 16 MB, whatever the image size.
DEFAULT_MAX_VALUES = 2**21


def linear_coefficients(model: Any) -> tuple[np.ndarray, np.ndarray]:
    """A fitted logistic regression's logits as (coef (C, P), intercept (C,)), C = its classes.

    Multinomial (C > 2): ``decision_function`` returns one logit per class, softmax of
    which is ``predict_proba``; those are used as they are. Binary: scikit-learn keeps
    one row, d(x) = log(p1 / p0). We make it two, class 1 -> d and class 0 -> -d, so
    each class's logit is its own log-odds log(p_c / (1 - p_c)): sigmoid of it is
    ``predict_proba[:, c]``, and both classes are explained in the same units.
    """
    coef = np.asarray(model.coef_, dtype=np.float64)
    intercept = np.asarray(model.intercept_, dtype=np.float64)
    if coef.shape[0] == 1:
        return np.vstack([-coef, coef]), np.concatenate([-intercept, intercept])
    return coef, intercept


def linear_logits(model: Any, features: np.ndarray) -> np.ndarray:
    """``model.decision_function`` as (n, C), binary expanded as in ``linear_coefficients``."""
    decision = np.asarray(model.decision_function(features), dtype=np.float64)
    if decision.ndim == 1:
        return np.stack([-decision, decision], axis=1)
    return decision


def linear_shap(
    coef: np.ndarray, intercept: np.ndarray, features: np.ndarray, background: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Exact SHAP values of the logits x @ coef.T + intercept, independent features.

    coef: (C, P); intercept: (C,); features: (n, P); background: (P,), the mean the
    features are compared with. Returns (base (C,), phi (n, C, P)) with
    base[c] = intercept[c] + coef[c] @ background and
    phi[n, c, p] = coef[c, p] * (features[n, p] - background[p]).
    """
    base = intercept + coef @ background
    phi = coef[np.newaxis, :, :] * (features - background)[:, np.newaxis, :]
    return base, phi


def efficiency_error(base: np.ndarray, phi: np.ndarray, outputs: np.ndarray) -> float:
    """max |base + sum_p phi - outputs|: 0 up to rounding when the values add up.

    base: (C,); phi: (n, C, P); outputs: (n, C), the model's own outputs (e.g.
    ``linear_logits``). NaN if there are no samples to check.
    """
    if len(phi) == 0:
        return float("nan")
    return float(np.abs(base + phi.sum(axis=-1) - outputs).max())


def occlusion(
    function: Callable[[np.ndarray], np.ndarray],
    features: np.ndarray,
    background: np.ndarray,
    *,
    max_values: int = DEFAULT_MAX_VALUES,
) -> np.ndarray:
    """phi[n, c, p] = f(x_n)[c] - f(x_n with feature p set to background[p])[c].

    function: (m, P) -> (m, C) (or (m,), taken as C = 1); features: (n, P);
    background: (P,). Returns (n, C, P). Exactly (P + 1) * n rows go through
    ``function``: each sample and its P occluded copies, batched over samples so that
    a batch holds at most about ``max_values`` feature values (at least one sample).
    """
    features = np.asarray(features, dtype=np.float64)
    background = np.asarray(background, dtype=np.float64)
    n, n_features = features.shape
    per_sample = (n_features + 1) * n_features
    batch = max(1, max_values // per_sample)
    diagonal = np.arange(n_features)
    parts = []
    for start in range(0, n, batch):
        chunk = features[start : start + batch]
        # copies[s, 0] is sample s itself; copies[s, 1 + p] has feature p occluded.
        copies = np.repeat(chunk[:, np.newaxis, :], n_features + 1, axis=1)
        copies[:, 1 + diagonal, diagonal] = background
        outputs = np.asarray(function(copies.reshape(-1, n_features)), dtype=np.float64)
        outputs = outputs.reshape(len(chunk), n_features + 1, -1)
        effect = outputs[:, :1, :] - outputs[:, 1:, :]  # (s, P, C)
        parts.append(effect.transpose(0, 2, 1))
    if not parts:  # no samples: the number of outputs is unknown without a call
        width = np.asarray(function(background[np.newaxis, :])).reshape(1, -1).shape[1]
        return np.zeros((0, width, n_features))
    return np.concatenate(parts)


def occlusion_evaluations(n_samples: int, n_features: int) -> int:
    """Rows ``occlusion`` evaluates: each sample and one copy per occluded feature."""
    return n_samples * (n_features + 1)


def class_means(phi: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """Mean of phi[:, c, :] over the samples whose true class is c: (n_classes, P).

    phi: (n, n_classes, P); labels: (n,) class indices. A class with no samples gets
    a row of NaN (nothing to average, which is not the same as zero).
    """
    means = np.full((n_classes, phi.shape[-1]), np.nan)
    for c in range(n_classes):
        members = labels == c
        if members.any():
            means[c] = phi[members, c, :].mean(axis=0)
    return means


def seeded_subset(n: int, max_samples: int, seed: int) -> np.ndarray:
    """Positions of at most ``max_samples`` of n items, in increasing order.

    All of them when there are no more than ``max_samples``; otherwise a uniform draw
    without replacement, the same for the same seed.
    """
    if n <= max_samples:
        return np.arange(n)
    rng = np.random.default_rng(seed)
    return np.sort(rng.choice(n, size=max_samples, replace=False))


def select_examples(
    actual: np.ndarray,
    predicted: np.ndarray,
    confidence: np.ndarray,
    ids: np.ndarray,
    count: int,
) -> np.ndarray:
    """Positions of the ``count`` samples to draw, in the order to draw them.

    Mistakes first, the most confident first (the model was surest and wrong); then
    correct predictions, the least confident first (the near misses). Ties go to the
    smaller sample id, so the order is deterministic. All arrays (n,); confidence is
    the probability of the predicted class.
    """
    correct = actual == predicted
    # Most confident first for mistakes, least confident first for correct ones.
    order_key = np.where(correct, confidence, -confidence)
    order = np.lexsort((ids, order_key, correct))
    return order[:count]
