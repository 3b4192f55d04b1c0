"""The mergeable evaluation state (digitwise.metrics.state, .exact) against references:
exact sums against fractions, the binned per-pair AUC against the exact one within its
bound and against the exact AUC of the binned scores, and merging against the state
of all rows at once, in any sharding and order."""

from fractions import Fraction

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st
from test_metrics import problems

from digitwise.metrics import calibration as calibrated
from digitwise.metrics import classification as metrics
from digitwise.metrics.exact import SCALE_BITS, ExactSums, exact_mean, exact_sums
from digitwise.metrics.state import (
    MAX_CLASSES,
    STATE_CELLS,
    ScoreBins,
    binned_auc,
    finish,
    merge,
    score_bins,
    score_histograms,
    state_of,
)

FLOATS = st.floats(allow_nan=False, allow_infinity=False, allow_subnormal=True)
FEW = settings(deadline=None, max_examples=60)


@FEW
@given(st.lists(FLOATS, max_size=50), st.integers(1, 4), st.randoms(use_true_random=False))
def test_exact_sums_are_the_sums_of_fractions_in_any_grouping_and_order(values, n_groups, rnd):
    groups = [rnd.randrange(n_groups) for _ in values]
    totals = exact_sums(np.array(values, dtype=np.float64), np.array(groups), n_groups=n_groups)
    for g in range(n_groups):
        expected = sum((Fraction(v) for v, h in zip(values, groups, strict=True) if h == g), 0)
        assert Fraction(totals[g], 2**SCALE_BITS) == expected
    rnd.shuffle(values)
    cut = len(values) // 2
    halves = exact_sums(np.array(values[:cut]))[0] + exact_sums(np.array(values[cut:]))[0]
    assert halves == sum(totals)
    if values:
        exact = sum((Fraction(v) for v in values), Fraction(0)) / len(values)
        assert exact_mean(sum(totals), len(values)) == float(exact)  # rounded once


def test_exact_sums_hold_where_float_sums_lose_digits():
    values = np.array([1e300, 1.0, -1e300, 2.0**-1074] * 3)
    total = exact_sums(values)[0]
    assert Fraction(total, 2**SCALE_BITS) == 3 + 3 * Fraction(2.0**-1074)
    assert exact_mean(total, values.size) == 0.25


def test_zeros_add_nothing_and_leave_the_sums_as_narrow_as_the_other_values():
    """One-hot probabilities (and -0.0): the per-exponent sums span the nonzero values'
    exponents only, not the thousand between theirs and a zero's."""
    rng = np.random.default_rng(0)
    values = rng.uniform(0.5, 1.0, 1000)
    values[::3] = 0.0
    values[1::7] = -0.0
    groups = rng.integers(0, 5, values.size)
    sums = ExactSums(5)
    sums.add(values, groups)
    assert sums._sums[0].shape == (5, 1)  # [0.5, 1): one exponent
    for g, total in enumerate(sums.totals()):
        assert Fraction(total, 2**SCALE_BITS) == sum(map(Fraction, values[groups == g]), 0)
    zeros = ExactSums(2)
    zeros.add(np.array([0.0, -0.0]), np.array([0, 1]))
    assert zeros.totals() == [0, 0]


def test_exact_sums_flushed_to_integers_along_the_way_are_the_same(monkeypatch):
    from digitwise.metrics import exact

    rng = np.random.default_rng(3)
    values = np.concatenate([rng.random(40), -rng.random(20) * 1e-300, [1e300, 2.0**-1074]])
    groups = rng.integers(0, 3, values.size)
    whole = exact.exact_sums(values, groups, n_groups=3)
    monkeypatch.setattr(exact, "_FLUSH_VALUES", 7)  # int64 counts turned to integers often
    sums = exact.ExactSums(3)
    for start in range(0, values.size, 5):
        sums.add(values[start : start + 5], groups[start : start + 5])
    assert sums.totals() == whole
    for g in range(3):
        assert Fraction(whole[g], 2**SCALE_BITS) == sum(map(Fraction, values[groups == g]))


@pytest.mark.parametrize("bad", [np.inf, -np.inf, np.nan])
def test_exact_sums_refuse_values_that_are_not_finite(bad):
    with pytest.raises(ValueError, match=f"finite values only, not {bad}"):
        exact_sums(np.array([1.0, bad, 2.0]), np.array([0, 1, 0]), n_groups=2)


@FEW
@given(st.lists(st.floats(0, 1), min_size=1, max_size=200), st.sampled_from([0, 2, 6]))
def test_score_bins_are_monotone_and_in_range(values, mantissa_bits):
    bins = ScoreBins(mantissa_bits, 40)
    p = np.sort(np.array([*values, 0.0, 0.5, 1.0, np.nextafter(0.5, 0)]))
    index = bins.of(p)
    assert np.all(np.diff(index) >= 0)
    assert index.min() == 0 and index.max() == bins.size - 1  # 0 and 1 at the two ends
    assert bins.of(np.array([0.5]))[0] == bins.half  # the first bin of p >= 1/2


def test_score_bins_resolve_octaves_and_stay_within_the_budget():
    bins = ScoreBins(6, 40)
    # 64 bins per octave: 1e-3 and 1.02e-3 apart, 1e-3 and 1.01e-3 together
    assert len(set(bins.of(np.array([1e-3, 1.02e-3])))) == 2
    assert len(set(bins.of(np.array([1 - 1e-3, 1 - 1.02e-3])))) == 2
    assert bins.of(np.array([2.0**-42, 2.0**-60]))[0] == bins.of(np.array([0.0]))[0]
    sizes = ((2, 5123), (10, 5123), (100, 5123), (1000, 163), (2000, 43), (MAX_CLASSES, 7))
    for n_classes, size in sizes:
        assert score_bins(n_classes).size == size
        assert n_classes * n_classes * size <= STATE_CELLS
    with pytest.raises(ValueError, match="at most"):
        score_bins(MAX_CLASSES + 1)


def brute_tied_share(y_true, scores, a, b):
    """The share of (class-a, class-b) pairs whose p_a fall in one bin."""
    pos, neg = scores[y_true == a], scores[y_true == b]
    return float((pos[:, None] == neg[None, :]).mean())


@settings(deadline=None, max_examples=80)
@given(
    problems(max_classes=6, max_samples=120), st.sampled_from([(0, 2), (0, 5), (2, 40), (6, 40)])
)
def test_the_binned_auc_is_the_exact_auc_of_binned_scores_and_within_its_bound(problem, ladder):
    y_true, _, proba, n_classes = problem
    bins = ScoreBins(*ladder)
    auc, bound = binned_auc(score_histograms(y_true, proba, bins))
    exact = metrics.pairwise_auc(y_true, proba)
    np.testing.assert_array_equal(np.isnan(auc), np.isnan(exact))
    defined = ~np.isnan(exact)
    assert np.all(np.abs(auc - exact)[defined] <= bound[defined] + 1e-12)
    binned = bins.of(proba).astype(np.float64)  # the reference: scores replaced by bins
    np.testing.assert_allclose(auc, metrics.pairwise_auc(y_true, binned), rtol=1e-12, atol=1e-12)
    for a in range(n_classes):
        for b in range(n_classes):
            if a != b and defined[a, b]:
                share = brute_tied_share(y_true, binned[:, a], a, b)
                share += brute_tied_share(y_true, binned[:, b], b, a)
                assert np.isclose(bound[a, b], share / 4, rtol=1e-12, atol=1e-14)


@FEW
@given(problems(max_classes=6, max_samples=150), st.booleans(), st.data())
def test_merged_shards_in_any_order_are_the_state_of_all_rows(problem, with_proba, data):
    y_true, y_pred, proba, n_classes = problem
    proba = proba if with_proba else None
    bins = ScoreBins(2, 40)
    whole = state_of(
        y_true, y_pred, proba, n_classes=n_classes, top_k=2, bins=bins, calibration_bins=7
    )
    cuts = sorted(data.draw(st.lists(st.integers(0, y_true.size), max_size=4)))
    order = np.array(data.draw(st.permutations(range(y_true.size))))
    rows = np.split(order, cuts)
    parts = [
        state_of(
            y_true[r],
            y_pred[r],
            None if proba is None else proba[r],
            n_classes=n_classes,
            top_k=2,
            bins=bins,
            calibration_bins=7,
        )
        for r in rows
    ]
    merged = merge(data.draw(st.permutations(parts)))
    for name in ("counts", "wins"):
        np.testing.assert_array_equal(getattr(merged, name), getattr(whole, name))
    if proba is not None:
        np.testing.assert_array_equal(merged.histograms.keys, whole.histograms.keys)
        np.testing.assert_array_equal(merged.histograms.counts, whole.histograms.counts)
    assert (merged.log_loss_sum, merged.top_k_hits, merged.not_argmax) == (
        whole.log_loss_sum,
        whole.top_k_hits,
        whole.not_argmax,
    )
    scores = finish(merged)
    if proba is None:
        assert scores.log_loss is None and scores.auc is None and scores.calibration is None
        return
    # calibration's sums are exact too: the same errors, to the bit, however merged
    calibration = calibrated.calibration(y_true, proba, n_bins=7)
    assert (scores.calibration.ece, scores.calibration.classwise_ece) == (
        calibration.ece,
        calibration.classwise_ece,
    )
    np.testing.assert_array_equal(scores.calibration.mean_proba, calibration.mean_proba)
    # the finished scores are those of the functions on all rows, to the bit
    assert scores.log_loss == metrics.log_loss(y_true, proba)
    assert scores.top_k_accuracy == metrics.top_k_accuracy(y_true, proba, k=2)
    assert scores.predicted_not_argmax == metrics.predicted_not_argmax(y_pred, proba)
    np.testing.assert_array_equal(
        scores.pairwise_accuracy, metrics.pairwise_accuracy(y_true, y_pred, proba)
    )
    expected = skm.log_loss(y_true, proba, labels=range(n_classes))
    np.testing.assert_allclose(scores.log_loss, expected, rtol=1e-12)


def test_the_binned_auc_at_a_thousand_classes_is_close_and_within_its_bound():
    """A model right about half the time, over 1,000 classes (3 rows each): the sparse
    histograms keep 2 bins per octave, so the bound is small and holds."""
    rng = np.random.default_rng(1)
    n_rows, n_classes = 3000, 1000
    y_true = np.concatenate([np.arange(n_classes), rng.integers(0, n_classes, n_rows - n_classes)])
    logits = rng.normal(size=(n_rows, n_classes)) * 1.5
    logits[np.arange(n_rows), y_true] += 5
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    histograms = score_histograms(y_true, proba, score_bins(n_classes))
    assert histograms.keys.size <= proba.size  # at most one cell per probability
    auc, bound = binned_auc(histograms)
    exact = metrics.pairwise_auc(y_true, proba)
    upper = np.triu_indices(n_classes, k=1)
    assert np.all(np.abs(auc - exact)[upper] <= bound[upper])
    m_exact, m_binned, m_bound = (metrics.m_measure(x) for x in (exact, auc, bound))
    assert m_exact > 0.98 and m_bound < 0.005 and abs(m_binned - m_exact) <= m_bound
