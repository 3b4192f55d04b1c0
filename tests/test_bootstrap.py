"""Bootstrap intervals over confusion-matrix cells: each resample checked against
scikit-learn, the distribution against brute-force row resampling, seeded, chunk-proof,
and small in memory at 1,000 classes."""

import tracemalloc
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import ks_2samp
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score

from digitwise.metrics import classification as metrics
from digitwise.metrics import intervals as bootstrap
from digitwise.metrics.significance import paired_bootstrap_difference, resampled_differences

RESAMPLES = 2000  # per side of each distribution comparison
KS_ALPHA = 1e-3
WITHIN = 5.0  # standard errors: a two-sided normal tail of 6e-7 per check


def labels(seed: int, n: int, n_classes: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y_true = rng.integers(0, n_classes, n)
    y_pred = np.where(rng.random(n) < 0.8, y_true, rng.integers(0, n_classes, n))
    return y_true, y_pred


def counts_of(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> np.ndarray:
    """The confusion matrix by brute force, independent of the package."""
    counts = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(counts, (y_true, y_pred), 1)
    return counts


def labels_of(counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One (y_true, y_pred) row per sample counted in the matrix."""
    true, pred = np.nonzero(counts)
    return np.repeat(true, counts[true, pred]), np.repeat(pred, counts[true, pred])


def sklearn_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # y_pred has classes not in y_true
        return {
            "accuracy": accuracy_score(y_true, y_pred),
            "balanced_accuracy": balanced_accuracy_score(y_true, y_pred),
            "f1_macro": f1_score(y_true, y_pred, average="macro", zero_division=0),
        }


# --- each resample is a confusion matrix scored as scikit-learn scores its labels -----


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(1, 60),
    n_classes=st.integers(2, 6),
    n_resamples=st.integers(1, 12),
)
def test_every_resample_scores_as_scikit_learn_on_labels_from_its_cells(
    seed, n, n_classes, n_resamples
):
    y_true, y_pred = labels(seed, n, n_classes)
    counts = counts_of(y_true, y_pred, n_classes)
    cells = bootstrap.Cells.of(counts)
    assert np.array_equal(counts[cells.true, cells.pred], cells.count)
    assert cells.count.min() > 0 and cells.count.sum() == n
    with pytest.MonkeyPatch.context() as patch:  # several chunks, not one
        patch.setattr(bootstrap, "_DRAWS_PER_CHUNK", 3 * cells.count.size)
        draws = np.concatenate(
            list(bootstrap.multinomial_resamples(cells.count, n_resamples=n_resamples, seed=seed))
        )
        scores = bootstrap.bootstrap_scores(counts, n_resamples=n_resamples, seed=seed)
    assert draws.shape == (n_resamples, cells.count.size)
    assert draws.min() >= 0 and np.all(draws.sum(axis=1) == n)
    for r in range(n_resamples):
        # the labels of resample r: each cell's (true, pred) as often as it was drawn
        expected = sklearn_scores(np.repeat(cells.true, draws[r]), np.repeat(cells.pred, draws[r]))
        for name, value in expected.items():
            assert scores[name][r] == pytest.approx(value, abs=1e-12), name


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**16), n=st.integers(1, 40), n_classes=st.integers(2, 6))
def test_batch_scores_equal_summary_scores_matrix_by_matrix(seed, n, n_classes):
    rng = np.random.default_rng(seed)
    stack = np.stack(
        [counts_of(*labels(s, n, n_classes), n_classes) for s in rng.integers(0, 99, 5)]
    )
    batch = bootstrap.batch_scores(
        np.diagonal(stack, axis1=1, axis2=2), stack.sum(axis=2), stack.sum(axis=1)
    )
    for r, matrix in enumerate(stack):
        single = metrics.summary_scores(matrix)
        for name in bootstrap.INTERVAL_METRICS:
            assert batch[name][r] == pytest.approx(single[name], abs=1e-12)


# --- the cell bootstrap has the distribution of the row bootstrap ----------------------


def row_resampled_scores(counts: np.ndarray, n_resamples: int, seed: int) -> dict[str, np.ndarray]:
    """The textbook bootstrap: draw n rows with replacement, score their labels."""
    y_true, y_pred = labels_of(counts)
    n, n_classes = len(y_true), len(counts)
    rng = np.random.default_rng(seed)
    values: dict[str, list[float]] = {name: [] for name in bootstrap.INTERVAL_METRICS}
    for _ in range(n_resamples):
        rows = rng.integers(0, n, size=n)
        scores = metrics.summary_scores(counts_of(y_true[rows], y_pred[rows], n_classes))
        for name in values:
            values[name].append(scores[name])
    return {name: np.array(v) for name, v in values.items()}


def assert_same_distribution(cells: np.ndarray, rows: np.ndarray, what: str) -> None:
    """Means and standard deviations within WITHIN standard errors; KS does not reject.

    SE(mean_a - mean_b) = sd * sqrt(1/m_a + 1/m_b); the sample sd has variance about
    sd^2 (kurtosis - 1) / (4 m), so SE(sd_a - sd_b) = sd * sqrt((kurtosis - 1) / 4 *
    (1/m_a + 1/m_b)), with sd and kurtosis from the pooled values.
    """
    pooled = np.concatenate([cells, rows])
    sd = pooled.std(ddof=1)
    if sd == 0:
        assert np.all(cells == rows[0]) and np.all(rows == rows[0]), what
        return
    kurtosis = np.mean((pooled - pooled.mean()) ** 4) / pooled.var() ** 2
    both = 1 / len(cells) + 1 / len(rows)
    assert abs(cells.mean() - rows.mean()) <= WITHIN * sd * np.sqrt(both), f"{what}: mean"
    sd_error = sd * np.sqrt((kurtosis - 1) / 4 * both)
    assert abs(cells.std(ddof=1) - rows.std(ddof=1)) <= WITHIN * sd_error, f"{what}: sd"
    # The values take few distinct values, and two float formulas for one value may
    # differ in the last bit, which KS would read as two values, ordered by chance:
    # rounded, equal values tie, and ties only make the test more conservative.
    statistic = ks_2samp(np.round(cells, 12), np.round(rows, 12))
    assert statistic.pvalue > KS_ALPHA, f"{what}: Kolmogorov-Smirnov"


def imbalanced_counts() -> np.ndarray:
    """10 classes of support 400 down to 1, 70% right, errors spread by class frequency."""
    support = np.array([400, 200, 100, 50, 25, 12, 6, 3, 2, 1])
    rng = np.random.default_rng(2024)
    counts = np.zeros((10, 10), dtype=np.int64)
    for c, size in enumerate(support):
        shares = 0.3 * support / (support.sum() - size)
        shares[c] = 0.7
        counts[c] = rng.multinomial(size, shares / shares.sum())
    return counts


CONFUSIONS = {
    # class 2 is never true but sometimes predicted
    "3 classes, one only predicted": np.array([[40, 6, 2], [5, 25, 3], [0, 0, 0]]),
    # class 2 has one sample (often absent from a resample), class 3 none at all
    "5 classes, empty and single": np.array(
        [[30, 2, 0, 0, 1], [3, 20, 0, 0, 1], [0, 0, 1, 0, 0], [0] * 5, [1, 0, 0, 0, 0]]
    ),
    "10 imbalanced classes": imbalanced_counts(),
}


@pytest.mark.parametrize("name", CONFUSIONS)
def test_cell_resamples_are_distributed_as_row_resamples(name):
    counts = CONFUSIONS[name]
    cells = bootstrap.bootstrap_scores(counts, n_resamples=RESAMPLES, seed=1)
    rows = row_resampled_scores(counts, RESAMPLES, seed=2)
    for metric in bootstrap.INTERVAL_METRICS:
        assert_same_distribution(cells[metric], rows[metric], f"{name}, {metric}")
    # and the resampled accuracy is a binomial proportion: its mean and sd are known
    n, accuracy = counts.sum(), np.trace(counts) / counts.sum()
    values = cells["accuracy"]
    spread = np.sqrt(accuracy * (1 - accuracy) / n)
    assert abs(values.mean() - accuracy) <= WITHIN * spread / np.sqrt(RESAMPLES)
    assert values.std(ddof=1) == pytest.approx(spread, rel=WITHIN / np.sqrt(2 * RESAMPLES))


def paired_case(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    new = np.where(rng.random(n) < 0.85, y, (y + 1) % 3)
    base = np.where(rng.random(n) < 0.80, y, (y + 2) % 3)
    return y, new, base


def test_paired_differences_are_distributed_as_row_resamples():
    y, new, base = paired_case(150, seed=3)
    new_correct, base_correct = new == y, base == y
    cells = resampled_differences(new_correct, base_correct, n_resamples=RESAMPLES, seed=1)
    rng = np.random.default_rng(2)
    rows = np.array(
        [
            (np.sum(new_correct[r]) - np.sum(base_correct[r])) / len(y)
            for r in (rng.integers(0, len(y), size=len(y)) for _ in range(RESAMPLES))
        ]
    )
    assert_same_distribution(cells, rows, "paired difference")
    # the mean of per-sample gains g in {-1, 0, 1}: variance (E[g^2] - E[g]^2) / n
    gains = new_correct.astype(int) - base_correct
    spread = np.sqrt((np.mean(gains**2) - np.mean(gains) ** 2) / len(y))
    assert abs(cells.mean() - gains.mean()) <= WITHIN * spread / np.sqrt(RESAMPLES)
    assert cells.std(ddof=1) == pytest.approx(spread, rel=WITHIN / np.sqrt(2 * RESAMPLES))


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    n=st.integers(1, 30),
    how=st.sampled_from(["worse", "better", "mixed"]),
)
def test_paired_differences_stay_on_the_side_the_discordant_samples_allow(seed, n, how):
    rng = np.random.default_rng(seed)
    base_correct = rng.random(n) < 0.5
    new_correct = {
        "worse": base_correct & (rng.random(n) < 0.7),  # never right where base is wrong
        "better": base_correct | (rng.random(n) < 0.3),  # never wrong where base is right
        "mixed": rng.random(n) < 0.5,
    }[how]
    values = resampled_differences(new_correct, base_correct, n_resamples=20, seed=seed)
    assert values.shape == (20,)
    assert np.allclose(values * n, np.round(values * n), atol=1e-9)  # multiples of 1/n
    if how == "worse":
        assert values.max() <= 0
    if how == "better":
        assert values.min() >= 0
    if not np.any(new_correct != base_correct):
        assert np.all(values == 0)


# --- the multinomial draws: any positive counts, rows summing to n ---------------------


@pytest.mark.parametrize(
    "count",
    [
        [5],  # one cell: every resample is the sample itself
        [1, 1, 1],  # thirds, not representable in binary
        [1] * 9_999 + [10**9],  # tiny cells, then one holding almost everything
        [10**9] * 1_000 + [1],  # a last cell of probability ~1e-12 after 1,000 big ones
        [7] * 100_000,  # 100,000 cells of 1e-5 each
        [2**40, 3, 2**40 + 1, 999_983],
    ],
    ids=["single", "thirds", "tiny-then-huge", "huge-then-tiny", "many-equal", "wide"],
)
def test_awkward_counts_draw_without_error_and_sum_to_n(count):
    count = np.array(count, dtype=np.int64)
    draws = np.concatenate(list(bootstrap.multinomial_resamples(count, n_resamples=30, seed=0)))
    assert draws.shape == (30, count.size) and draws.dtype == np.int64
    assert draws.min() >= 0 and np.all(draws.sum(axis=1) == count.sum())


@settings(max_examples=50, deadline=None)
@given(count=st.lists(st.integers(1, 10**12), min_size=1, max_size=40), seed=st.integers(0, 99))
def test_any_positive_counts_draw_and_sum_to_n(count, seed):
    count = np.array(count, dtype=np.int64)
    draws = np.concatenate(list(bootstrap.multinomial_resamples(count, n_resamples=5, seed=seed)))
    assert draws.min() >= 0 and np.all(draws.sum(axis=1) == count.sum())


# --- seeded, chunk-proof, bracketing the estimate --------------------------------------


def test_intervals_are_seeded_and_bracket_the_estimate():
    y_true, y_pred = labels(0, 450, 10)
    first = bootstrap.bootstrap_intervals(y_true, y_pred, n_classes=10, n_resamples=500, seed=3)
    again = bootstrap.bootstrap_intervals(y_true, y_pred, n_classes=10, n_resamples=500, seed=3)
    other = bootstrap.bootstrap_intervals(y_true, y_pred, n_classes=10, n_resamples=500, seed=4)
    assert first == again
    assert first != other
    point = sklearn_scores(y_true, y_pred)
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


def test_paired_interval_is_seeded_and_brackets_the_difference():
    y, new, base = paired_case(400, seed=0)
    first = paired_bootstrap_difference(y, new, base, n_resamples=500, seed=3)
    assert first == paired_bootstrap_difference(y, new, base, n_resamples=500, seed=3)
    other = paired_bootstrap_difference(y, new, base, n_resamples=500, seed=4)
    assert first[0] == other[0] and first[1:] != other[1:]
    difference, low, high = first
    assert difference == (np.sum(new == y) - np.sum(base == y)) / len(y)
    assert low < difference < high


def test_chunking_does_not_change_the_draws(monkeypatch):
    y_true, y_pred = labels(5, 300, 4)
    whole = bootstrap.bootstrap_intervals(y_true, y_pred, n_classes=4, n_resamples=50, seed=9)
    n_cells = np.count_nonzero(counts_of(y_true, y_pred, 4))
    monkeypatch.setattr(bootstrap, "_DRAWS_PER_CHUNK", 7 * n_cells)  # 7 resamples per chunk
    chunked = bootstrap.bootstrap_intervals(y_true, y_pred, n_classes=4, n_resamples=50, seed=9)
    assert chunked == whole


def test_intervals_refuse_an_empty_sample_no_resamples_or_a_level_outside_0_1():
    y_true, y_pred = labels(0, 20, 3)
    with pytest.raises(ValueError, match="need at least one sample"):
        bootstrap.bootstrap_intervals(y_true[:0], y_pred[:0], n_classes=3, n_resamples=9, seed=0)
    with pytest.raises(ValueError, match=r"n_resamples must be >= 1; got 0"):
        bootstrap.bootstrap_intervals(y_true, y_pred, n_classes=3, n_resamples=0, seed=0)
    with pytest.raises(ValueError, match=r"level must be strictly between 0 and 1; got 1"):
        bootstrap.bootstrap_intervals(y_true, y_pred, n_classes=3, n_resamples=9, seed=0, level=1)


def test_a_thousand_classes_never_hold_resamples_times_classes_squared():
    n_classes, n, n_resamples = 1_000, 10_000, 1_000
    y_true, y_pred = labels(7, n, n_classes)
    tracemalloc.start()
    try:
        intervals = bootstrap.bootstrap_intervals(
            y_true, y_pred, n_classes=n_classes, n_resamples=n_resamples, seed=0
        )
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    # one (resamples, K, K) int64 stack alone would be 1000 * 10^6 * 8 B = 8 GB
    assert peak < 200e6
    point = sklearn_scores(y_true, y_pred)
    # Not macro F1: with ~10 samples per class its bootstrap distribution sits below the
    # estimate (row resampling too), and its percentile interval may miss it.
    for name in ("accuracy", "balanced_accuracy"):
        low, high = intervals[name]
        assert low < point[name] < high
    assert intervals["f1_macro"][0] < intervals["f1_macro"][1]
