"""Bootstrap intervals: each resample checked against scikit-learn, seeded, chunk-proof."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from digitwise.metrics import classification as metrics
from digitwise.metrics import intervals as bootstrap


def labels(seed: int, n: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, n_classes, n)
    y_pred = np.where(rng.random(n) < 0.8, y_true, rng.integers(0, n_classes, n))
    return y_true, y_pred


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(1, 60),
    n_classes=st.integers(2, 6),
    n_resamples=st.integers(1, 12),
)
def test_every_resample_scores_as_scikit_learn_on_the_resampled_labels(
    seed, n, n_classes, n_resamples
):
    y_true, y_pred = labels(seed, n, n_classes)
    # the draws bootstrap makes: one (n_resamples, n) block from the seeded generator
    rows = np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))
    stacks = list(
        bootstrap.resampled_confusions(
            y_true, y_pred, n_classes=n_classes, n_resamples=n_resamples, seed=seed
        )
    )
    scores = bootstrap.batch_scores(np.concatenate(stacks))
    for r in range(n_resamples):
        t, p = y_true[rows[r]], y_pred[rows[r]]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # y_pred has classes not in y_true
            expected = {
                "accuracy": accuracy_score(t, p),
                "balanced_accuracy": balanced_accuracy_score(t, p),
                "f1_macro": f1_score(t, p, average="macro", zero_division=0),
            }
        for name, value in expected.items():
            assert scores[name][r] == pytest.approx(value, abs=1e-12), name


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 40), n_classes=st.integers(2, 6))
def test_batch_scores_equal_summary_scores_matrix_by_matrix(seed, n, n_classes):
    y_true, y_pred = labels(seed, n, n_classes)
    counts = next(
        bootstrap.resampled_confusions(y_true, y_pred, n_classes=n_classes, n_resamples=5, seed=1)
    )
    batch = bootstrap.batch_scores(counts)
    for r, matrix in enumerate(counts):
        single = metrics.summary_scores(matrix)
        for name in bootstrap.INTERVAL_METRICS:
            assert batch[name][r] == pytest.approx(single[name], abs=1e-12)


def test_intervals_are_seeded_and_bracket_the_estimate():
    y_true, y_pred = labels(0, 450, 10)
    first = bootstrap.bootstrap_intervals(y_true, y_pred, n_classes=10, n_resamples=500, seed=3)
    again = bootstrap.bootstrap_intervals(y_true, y_pred, n_classes=10, n_resamples=500, seed=3)
    other = bootstrap.bootstrap_intervals(y_true, y_pred, n_classes=10, n_resamples=500, seed=4)
    assert first == again
    assert first != other
    point = metrics.summary_scores(metrics.confusion_matrix(y_true, y_pred, n_classes=10))
    for name, (low, high) in first.items():
        assert low < point[name] < high
        # a binomial proportion's 95% interval is about 4 standard errors wide
        if name == "accuracy":
            spread = np.sqrt(point[name] * (1 - point[name]) / 450)
            assert 3 * spread < high - low < 5 * spread
    narrow = bootstrap.bootstrap_intervals(
        y_true, y_pred, n_classes=10, n_resamples=500, seed=3, level=0.5
    )
    assert all(narrow[m][1] - narrow[m][0] < first[m][1] - first[m][0] for m in first)


def test_chunking_does_not_change_the_draws(monkeypatch):
    y_true, y_pred = labels(5, 300, 4)
    whole = bootstrap.bootstrap_intervals(y_true, y_pred, n_classes=4, n_resamples=50, seed=9)
    monkeypatch.setattr(bootstrap, "_CELLS_PER_CHUNK", 7 * 300)  # 7 resamples per chunk
    chunked = bootstrap.bootstrap_intervals(y_true, y_pred, n_classes=4, n_resamples=50, seed=9)
    assert chunked == whole
