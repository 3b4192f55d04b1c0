"""Training in steps: fit a model one epoch at a time and score it after every epoch.

A *step* is one epoch: one ``partial_fit`` pass over the whole training split. After
each step the model is scored on the training split and on the *validation* split,
which is the held-out split of the prepared data (``test_*.npy``): the split the
evaluate stage reports on. It is used here for monitoring only, never to fit, stop
or select anything; choosing ``max_iter`` by reading these curves would tune on the
held-out split.

Only models that scikit-learn trains in epochs have epochs (``STEP_MODELS``). The
others (an RBF SVC, a forest, boosting, nearest neighbours, and logistic regression,
which the train stage fits with lbfgs: iterations of a quasi-Newton solver, not
epochs) take their steps on a learning curve instead: the same model refitted on
growing shares of the training split (``models.learning_curve``). An SGD stand-in
for logistic regression would chart a different model from the one the train stage
fits, so there is none.

How the step-wise MLP relates to ``MLPClassifier.fit`` (what a train stage that does
not go through ``fit_stepwise`` runs): same architecture, hyperparameters, seed and
initial weights, and step 1 is exactly ``fit`` with ``max_iter=1``. Later steps
differ from ``fit`` in two ways that ``partial_fit`` cannot express: ``fit``
reshuffles the previous epoch's order (here each epoch shuffles the original order),
and ``fit`` stops early once the training loss has not improved by ``tol`` for
``n_iter_no_change`` epochs, while this runs all ``max_iter`` steps.
``fit_stepwise`` is the model of the last step, bit for bit.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from digitwise.errors import UserError
from digitwise.metrics import classification as metrics
from digitwise.models import estimators as models

STEP_MODELS = ("mlp",)
# What a step is: an epoch of the MLP, or a fit on a share of the training split
# (``models.learning_curve``) for every other model.
EPOCH, FRACTION = "epoch", "training_fraction"
COLUMNS = ("step", "step_kind", "train_samples", "train", "validation")


@dataclass(frozen=True)
class StepHistory:
    """Scores after each step; every per-step array has shape (n_steps,)."""

    steps: np.ndarray  # (n_steps,) int64: 1..n_steps
    kind: str  # EPOCH | FRACTION
    train_samples: np.ndarray  # (n_steps,) int64: the training samples fitted on
    fractions: tuple[float, ...]  # FRACTION: each step's share of the split; EPOCH: ()
    train_accuracy: np.ndarray  # (n_steps,) float64
    validation_accuracy: np.ndarray
    train_loss: np.ndarray  # (n_steps,) float64: log loss
    validation_loss: np.ndarray
    snapshots: tuple[int, ...]  # steps at which the validation confusion matrix was kept
    confusions: np.ndarray  # (n_snapshots, n_classes, n_classes) int64 counts

    @property
    def n_steps(self) -> int:
        return len(self.steps)

    def snapshot_accuracy(self) -> np.ndarray:
        """Validation accuracy at each snapshot step, shape (n_snapshots,)."""
        return self.validation_accuracy[np.asarray(self.snapshots, dtype=np.int64) - 1]


def trains_in_steps(model: str) -> bool:
    return model in STEP_MODELS


def n_steps(model: str, hyperparameters: Mapping[str, Any]) -> int:
    """Steps (epochs) to run: the model's ``max_iter``; 0 for a model without steps."""
    return int(hyperparameters["max_iter"]) if trains_in_steps(model) else 0


def clip_snapshots(requested: Sequence[int], n_steps: int) -> tuple[int, ...]:
    """The snapshot steps to keep, sorted and distinct.

    A requested step past the last step is clipped to the last step (so a list meant
    for a long run still shows the final model of a short one); with no steps there
    are no snapshots. ``requested``: positive ints, as ``params.steps_params`` returns.
    """
    if n_steps == 0:
        return ()
    return tuple(sorted({min(step, n_steps) for step in requested}))


def build_stepwise(model: str, hyperparameters: Mapping[str, Any], seed: int) -> Any:
    """The unfitted estimator the train stage builds, set up to be fitted step by step."""
    if not trains_in_steps(model):
        raise ValueError(f"{model} does not train in steps; step models: {STEP_MODELS}")
    estimator = models.build(model, hyperparameters, seed)
    # partial_fit re-seeds from an int on every call, so every epoch after the first
    # would see the same order. One RandomState carried across the calls draws the
    # initial weights exactly as fit does, then a new seeded shuffle for each epoch.
    return estimator.set_params(random_state=np.random.RandomState(seed))


def fit_steps(
    estimator: Any, features: np.ndarray, labels: np.ndarray, *, n_classes: int, n_steps: int
) -> Iterator[int]:
    """Fit ``estimator`` in place one epoch per step; yield the step number (1..n_steps)
    after each. features: (n_samples, n_features); labels: (n_samples,) in 0..n_classes-1."""
    # every class index, so that a class missing from the labels still gets an output
    classes = np.arange(n_classes)
    for step in range(1, n_steps + 1):
        estimator.partial_fit(features, labels, classes=classes)
        yield step


def fit_stepwise(
    model: str,
    hyperparameters: Mapping[str, Any],
    seed: int,
    features: np.ndarray,
    labels: np.ndarray,
    *,
    n_classes: int,
) -> Any:
    """The estimator after all its steps: the model ``track`` scores at its last step.

    Its ``random_state`` is set back to the seed, so its parameters read as the
    train stage's would (the RandomState the steps used up is not a setting).
    """
    estimator = build_stepwise(model, hyperparameters, seed)
    total = n_steps(model, hyperparameters)
    for _ in _steps_checked(model, estimator, features, labels, n_classes=n_classes, n_steps=total):
        pass
    return estimator.set_params(random_state=seed)


def scores(labels: np.ndarray, proba: np.ndarray) -> tuple[float, float]:
    """(accuracy, log loss) of class probabilities of shape (n_samples, n_classes).

    The prediction is the most probable class, as ``MLPClassifier.predict`` takes it.
    """
    accuracy = float(np.mean(proba.argmax(axis=1) == labels))
    return accuracy, metrics.log_loss(labels, proba)


def track(
    model: str,
    hyperparameters: Mapping[str, Any],
    seed: int,
    train: tuple[np.ndarray, np.ndarray],
    validation: tuple[np.ndarray, np.ndarray],
    *,
    n_classes: int,
    snapshots: Sequence[int],
    scored: np.ndarray | None = None,
) -> StepHistory:
    """Train ``model`` step by step and score every step.

    train, validation: (features (n, n_features) in 0..1, labels (n,) class indices).
    snapshots: requested steps for the validation confusion matrix, clipped as
    ``clip_snapshots`` says. scored: positions of the training samples scored after
    each step (None: all); scoring all 60,000 MNIST images every epoch would cost as
    much as the epoch. A model without steps gives an empty history.
    """
    total = n_steps(model, hyperparameters)
    kept = clip_snapshots(snapshots, total)
    (train_x, train_y), (validation_x, validation_y) = train, validation
    scored_x, scored_y = (
        (train_x, train_y) if scored is None else (train_x[scored], train_y[scored])
    )
    rows: list[tuple[float, float, float, float]] = []
    confusions: list[np.ndarray] = []
    if total:
        estimator = build_stepwise(model, hyperparameters, seed)
        for step in _steps_checked(
            model, estimator, train_x, train_y, n_classes=n_classes, n_steps=total
        ):
            # as the predict stage makes them, so the last step scores what evaluate does
            try:
                validation_proba = models.class_probabilities(estimator, validation_x, n_classes)
                train_proba = models.class_probabilities(estimator, scored_x, n_classes)
            except models.NonFiniteProbabilities as error:
                raise _diverged(model, step, str(error)) from None
            train_accuracy, train_loss = scores(scored_y, train_proba)
            validation_accuracy, validation_loss = scores(validation_y, validation_proba)
            rows.append((train_accuracy, validation_accuracy, train_loss, validation_loss))
            if step in kept:
                predicted = validation_proba.argmax(axis=1)
                confusions.append(
                    metrics.confusion_matrix(validation_y, predicted, n_classes=n_classes)
                )
    table = np.array(rows, dtype=np.float64).reshape(total, 4)
    return StepHistory(
        steps=np.arange(1, total + 1, dtype=np.int64),
        kind=EPOCH,
        train_samples=np.full(total, len(train_y), dtype=np.int64),
        fractions=(),
        train_accuracy=table[:, 0],
        validation_accuracy=table[:, 1],
        train_loss=table[:, 2],
        validation_loss=table[:, 3],
        snapshots=kept,
        confusions=np.array(confusions, dtype=np.int64).reshape(len(kept), n_classes, n_classes),
    )


def _steps_checked(
    model: str, estimator: Any, features: np.ndarray, labels: np.ndarray, **steps: int
) -> Iterator[int]:
    """``fit_steps``, with a step that makes the weights NaN (scikit-learn's ValueError)
    reported as divergence, and overflow on the way judged by the scores, not printed."""
    iterator = fit_steps(estimator, features, labels, **steps)
    done = 0
    while True:
        try:
            with np.errstate(all="ignore"):
                done = next(iterator)
        except StopIteration:
            return
        except ValueError:  # scikit-learn's "Solver produced non-finite parameter weights"
            raise _diverged(model, done + 1, "its weights became NaN or infinite") from None
        yield done


def _diverged(model: str, step: int, problem: str) -> UserError:
    return UserError(
        f"train.model={model} diverged at step {step}: {problem}; try a smaller learning "
        "rate or more regularisation"
    )


def scoring_note(scored: int, fitted: int) -> str:
    """What the train curves score, for the figure."""
    if scored == fitted:
        return f"train curves score all {fitted} training samples"
    return (
        f"train curves score {scored} of the {fitted} training samples "
        "(seeded subset, steps.train_eval_samples)"
    )


def curve_csv(history: StepHistory, train: np.ndarray, validation: np.ndarray) -> str:
    """A DVC step plot: ``step,step_kind,train_samples,train,validation``, one row per
    step of ``history``, floats as repr (the shortest text that reads back to the same
    float). train, validation: (n_steps,) of one metric. No steps: the header only."""
    lines = [",".join(COLUMNS)]
    lines += [
        f"{int(step)},{history.kind},{int(samples)},{float(a)!r},{float(b)!r}"
        for step, samples, a, b in zip(
            history.steps, history.train_samples, train, validation, strict=True
        )
    ]
    return "\n".join(lines) + "\n"
