"""Pixel attribution: how much each pixel moves each class's score, numpy only.

Two methods, both measured against one background, the mean training image:

- ``linear_shap``, for a logistic regression: the exact SHAP values of its logits with
  independent features, phi[n, c, p] = coef[c, p] * (x[n, p] - mean[p]). They add up
  (efficiency): base[c] + sum_p phi[n, c, p] == logit[n, c], with base[c] the logit of
  the mean image.
- ``occlusion``, for any model: f_c(x) - f_c(x with a square patch set to its mean),
  shared equally among the patch's pixels, at a fixed cost of Q + 1 evaluations of f
  per sample for Q patches (Q = P with 1-pixel patches). Pixels interact in a
  non-linear model, so these do not add up to anything; for a function linear in x
  and 1-pixel patches they equal the linear SHAP values exactly.

And which examples to draw, misclassified first (the seeded subset for the per-class
means is ``datasets.seeded_subset``).
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


def patches(shape: tuple[int, int], patch: int) -> np.ndarray:
    """Which pixels each square patch covers: (n_patches, height * width) bool.

    The image is cut into ``patch`` x ``patch`` squares in row-major order, from the top
    left; squares at the right and bottom edges are smaller where the size does not
    divide. ``patch=1`` gives one patch per pixel.
    """
    height, width = shape
    rows = np.arange(height) // patch
    columns = np.arange(width) // patch
    per_row = -(-width // patch)
    owner = (rows[:, np.newaxis] * per_row + columns[np.newaxis, :]).ravel()
    n_patches = -(-height // patch) * per_row
    return owner[np.newaxis, :] == np.arange(n_patches)[:, np.newaxis]


def occlusion(
    function: Callable[[np.ndarray], np.ndarray],
    features: np.ndarray,
    background: np.ndarray,
    *,
    masks: np.ndarray | None = None,
    max_values: int = DEFAULT_MAX_VALUES,
) -> np.ndarray:
    """phi[n, c, p] = (f(x_n)[c] - f(x_n with p's patch set to background)[c]) / |patch|.

    function: (m, P) -> (m, C) (or (m,), taken as C = 1); features: (n, P);
    background: (P,); masks: (Q, P) bool, the pixels of each of Q patches that
    partition the P features (``patches``; default: one patch per feature). Each pixel
    gets an equal share of its patch's effect, so the shares of a patch add up to it.
    Returns (n, C, P). Exactly (Q + 1) * n rows go through ``function``: each sample
    and its Q occluded copies, batched over samples so that a batch holds at most
    about ``max_values`` feature values (at least one sample).
    """
    # copies in the features' own dtype (float32 for this project's models): a model
    # fitted on float32 and given float64 may copy its fitted data to compare
    features = np.asarray(features)
    background = np.asarray(background).astype(features.dtype)
    n, n_features = features.shape
    if masks is None:
        masks = np.eye(n_features, dtype=bool)
    owner = masks.argmax(axis=0)  # (P,) the patch of each pixel
    share = masks.sum(axis=1)[owner]  # (P,) pixels in that patch
    n_copies = len(masks) + 1
    batch = max(1, max_values // (n_copies * n_features))
    parts = []
    for start in range(0, n, batch):
        chunk = features[start : start + batch]
        # copies[s, 0] is sample s itself; copies[s, 1 + q] has patch q occluded.
        copies = np.repeat(chunk[:, np.newaxis, :], n_copies, axis=1)
        copies[:, 1:, :] = np.where(masks, background, copies[:, 1:, :])
        outputs = np.asarray(function(copies.reshape(-1, n_features)), dtype=np.float64)
        outputs = outputs.reshape(len(chunk), n_copies, -1)
        effect = outputs[:, :1, :] - outputs[:, 1:, :]  # (s, Q, C)
        per_pixel = effect[:, owner, :] / share[np.newaxis, :, np.newaxis]  # (s, P, C)
        parts.append(per_pixel.transpose(0, 2, 1))
    if not parts:  # no samples: the number of outputs is unknown without a call
        width = np.asarray(function(background[np.newaxis, :])).reshape(1, -1).shape[1]
        return np.zeros((0, width, n_features))
    return np.concatenate(parts)


def occlusion_evaluations(n_samples: int, n_patches: int) -> int:
    """Rows ``occlusion`` evaluates: each sample and one copy per occluded patch."""
    return n_samples * (n_patches + 1)


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
