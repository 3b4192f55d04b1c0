"""Learning curves: the steps of a model that does not train in epochs.

A *step* here is one fit of the train stage's model on a larger share of the training
split (``steps.fractions``), scored on the held-out (validation) split and on the
samples it was fitted on. The shares are nested and stratified: one seeded
permutation of the training split whose every prefix holds each class in its share of
the split (``stratified_order``), cut at each fraction (``nested_subsets``), so the
25% subset contains the 10% subset and both have the split's class balance.

Each fit is an independent fit of the train stage's estimator (``training.train``),
on the chosen samples in their order in the split: the step at fraction 1.0 of an
uncapped split is the train stage's model, bit for bit, and scores what evaluate does.
``steps.max_samples`` caps the base of the fractions (a stratified prefix of the same
permutation), which bounds the cost at MNIST scale: the sum of the fractions times
one fit of ``max_samples`` samples.
"""

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from digitwise.data import datasets
from digitwise.errors import UserError
from digitwise.metrics import classification as metrics
from digitwise.models import estimators as models
from digitwise.models import steps as training_steps
from digitwise.models import training


def stratified_order(labels: np.ndarray, seed: int) -> np.ndarray:
    """A seeded permutation of positions 0..n-1 whose every prefix is stratified.

    labels: (n,) class indices >= 0. Each class's samples are taken in a seeded
    random order, and the r-th of a class of n_c samples (r = 0, 1, ...) is placed at
    (r + 0.5) / n_c, its share of the way through the class: so any prefix of length m
    holds about m * n_c / n samples of the class (within one or two, whatever m).
    Equal places are in a seeded random order.
    """
    labels = np.asarray(labels)
    shuffled = np.random.default_rng(seed).permutation(len(labels))
    classes = labels[shuffled]
    counts = np.bincount(classes) if len(classes) else np.zeros(0, dtype=np.int64)
    by_class = np.argsort(classes, kind="stable")  # shuffled order within each class
    starts = np.cumsum(counts) - counts
    rank = np.empty(len(labels), dtype=np.int64)
    rank[by_class] = np.arange(len(labels)) - np.repeat(starts, counts)
    place = (rank + 0.5) / counts[classes]
    return shuffled[np.argsort(place, kind="stable")]


def subset_size(fraction: float, base: int) -> int:
    """Samples in the ``fraction`` share of ``base`` samples: rounded half up, at least 1."""
    return max(1, math.floor(fraction * base + 0.5))


def nested_subsets(
    labels: np.ndarray, fractions: Sequence[float], *, max_samples: int | None, seed: int
) -> list[np.ndarray]:
    """Sorted positions of the training samples fitted at each fraction.

    labels: (n,) the training split's class indices; fractions: increasing, in (0, 1].
    The base is all n samples, or the first ``max_samples`` of ``stratified_order``
    when fewer; fraction f takes its first ``subset_size(f, base)``. Each subset holds
    the one before it.
    """
    order = stratified_order(labels, seed)
    base = len(labels) if max_samples is None else min(len(labels), max_samples)
    return [np.sort(order[: subset_size(fraction, base)]) for fraction in fractions]


def track(
    model: str,
    hyperparameters: dict[str, Any],
    seed: int,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    *,
    n_classes: int,
    subsets: Sequence[np.ndarray],
    fractions: Sequence[float],
    train_eval_samples: int,
) -> training_steps.StepHistory:
    """Fit ``model`` on each subset of the training split and score every fit.

    train, validation: (features (n, n_features) in 0..1, labels (n,) class indices).
    subsets: positions into train (``nested_subsets``), one per fraction. The train
    column scores at most ``train_eval_samples`` of each subset's own samples (a seeded
    subset). Every step is a snapshot: its validation confusion matrix is kept.
    """
    (train_x, train_y), (validation_x, validation_y) = train, validation
    rows: list[tuple[float, float, float, float]] = []
    confusions = []
    for fraction, positions in zip(fractions, subsets, strict=True):
        features, labels = train_x[positions], train_y[positions]
        try:
            fitted = training.train(
                features,
                labels,
                model=model,
                hyperparameters=hyperparameters,
                seed=seed,
                n_classes=n_classes,
            )
            scored = datasets.seeded_subset(len(labels), train_eval_samples, seed)
            validation_proba = models.class_probabilities(fitted, validation_x, n_classes)
            train_proba = models.class_probabilities(fitted, features[scored], n_classes)
        except (UserError, ValueError) as error:
            # e.g. a fraction holding fewer samples than k neighbours, or than SVC's folds
            raise UserError(
                f"steps.fractions: the fit on {fraction:g} of the training split "
                f"({len(labels)} samples) failed: {_first_line(error)}"
            ) from None
        train_accuracy, train_loss = training_steps.scores(labels[scored], train_proba)
        validation_accuracy, validation_loss = training_steps.scores(validation_y, validation_proba)
        rows.append((train_accuracy, validation_accuracy, train_loss, validation_loss))
        predicted = validation_proba.argmax(axis=1)
        confusions.append(metrics.confusion_matrix(validation_y, predicted, n_classes=n_classes))
    table = np.array(rows, dtype=np.float64).reshape(len(rows), 4)
    count = len(rows)
    return training_steps.StepHistory(
        steps=np.arange(1, count + 1, dtype=np.int64),
        kind=training_steps.FRACTION,
        train_samples=np.array([len(p) for p in subsets], dtype=np.int64),
        fractions=tuple(float(f) for f in fractions),
        train_accuracy=table[:, 0],
        validation_accuracy=table[:, 1],
        train_loss=table[:, 2],
        validation_loss=table[:, 3],
        snapshots=tuple(range(1, count + 1)),
        confusions=np.array(confusions, dtype=np.int64).reshape(count, n_classes, n_classes),
    )


def _first_line(error: Exception) -> str:
    lines = str(error).splitlines()
    return lines[0] if lines else type(error).__name__


def base_note(n_train: int, max_samples: int | None, train_eval_samples: int) -> str:
    """What the fractions are of, and what the train curve scores, for the figure."""
    base = n_train if max_samples is None else min(n_train, max_samples)
    of = (
        f"all {n_train} training samples"
        if base == n_train
        else f"a stratified subset of {base} of the {n_train} training samples (steps.max_samples)"
    )
    scored = f"; train curves score at most {train_eval_samples} of each fit's samples"
    return f"nested, stratified, seeded fractions of {of}" + (
        scored if train_eval_samples < base else ""
    )
