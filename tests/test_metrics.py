"""digitwise.metrics against independent references on the same inputs.

The references are scikit-learn (whose conventions the module claims to follow) and,
for the pairwise scores scikit-learn has no counterpart of, brute force written here
from the definitions. Inputs come from hypothesis: class counts 2..12, 1..200
samples, classes absent from ``y_true``, from ``y_pred`` or from both, and
probabilities built from small integers (many exact ties and exact zeros) as well as
continuous ones.
"""

import math
import re
import warnings
from fractions import Fraction

import numpy as np
import pytest
import sklearn.metrics as skm
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.exceptions import UndefinedMetricWarning

from digitwise.metrics import classification as metrics
from digitwise.metrics.evaluation import preview_of
from digitwise.metrics.reports import HEADLINE_SCORES, headline_metrics
from digitwise.params import EVALUATE_DEFAULTS
from digitwise.predictions.schema import Predictions

RTOL = ATOL = 1e-12
ROLES = ("both", "true only", "pred only", "neither")
PROBA_KINDS = ("integers", "continuous", "sparse")

# Label-only checks are cheap: more examples. Probability checks cost more.
CHEAP = settings(deadline=None, max_examples=200)
COSTLY = settings(deadline=None, max_examples=100)


def assert_close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=RTOL, atol=ATOL, equal_nan=True)


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


def make_proba(rng, y_true, n_classes, kind, high):
    """Rows summing to 1. "integers": small integer weights normalised per row, so
    that ties (within and across rows) and exact zeros are common; "continuous":
    uniform weights; "sparse": uniform weights with most entries exactly 0."""
    n = y_true.size
    if kind == "integers":
        weights = rng.integers(0, high + 1, size=(n, n_classes)).astype(np.float64)
        # nudge the true class up for some samples, in whole units: ties survive
        weights[np.arange(n), y_true] += rng.integers(0, high + 1, size=n)
    elif kind == "continuous":
        weights = rng.random((n, n_classes))
        weights[np.arange(n), y_true] += rng.random(n)
    else:
        weights = rng.random((n, n_classes)) * (rng.random((n, n_classes)) < 0.3)
    weights[weights.sum(axis=1) == 0] = 1.0  # an all-zero row becomes a full tie
    return weights / weights.sum(axis=1, keepdims=True)


@st.composite
def problems(
    draw,
    *,
    min_classes=2,
    max_classes=12,
    max_samples=200,
    all_present=False,
    proba_kinds=PROBA_KINDS,
):
    """(y_true, y_pred, proba, n_classes).

    Every class gets a role: it may occur in both label arrays, in one only, or in
    neither. With ``all_present`` every class occurs in ``y_true`` (and y_pred may be
    anything).
    """
    n_classes = draw(st.integers(min_classes, max_classes))
    n = draw(st.integers(n_classes if all_present else 1, max_samples))
    if all_present:
        roles = ["both"] * n_classes
    else:
        roles = draw(st.lists(st.sampled_from(ROLES), min_size=n_classes, max_size=n_classes))
    true_pool = [c for c, r in enumerate(roles) if r in ("both", "true only")]
    pred_pool = [c for c, r in enumerate(roles) if r in ("both", "pred only")]
    true_pool = true_pool or [draw(st.integers(0, n_classes - 1))]
    pred_pool = pred_pool or [draw(st.integers(0, n_classes - 1))]

    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    dtype = draw(st.sampled_from([np.int64, np.int32, np.uint8]))
    if all_present:
        rest = rng.choice(n_classes, size=n - n_classes)
        y_true = rng.permutation(np.concatenate([np.arange(n_classes), rest]))
    else:
        skew = rng.dirichlet(np.ones(len(true_pool)))
        y_true = rng.choice(true_pool, size=n, p=skew)
    agreement = draw(st.sampled_from([0.0, 0.5, 0.9, 1.0]))
    copy = (rng.random(n) < agreement) & np.isin(y_true, pred_pool)
    y_pred = np.where(copy, y_true, rng.choice(pred_pool, size=n))

    kind = draw(st.sampled_from(proba_kinds))
    high = draw(st.integers(1, 4))
    proba = make_proba(rng, y_true, n_classes, kind, high)
    return y_true.astype(dtype), y_pred.astype(dtype), proba, n_classes


# ---------------------------------------------------------------------------
# Brute-force references, straight from the definitions
# ---------------------------------------------------------------------------


def brute_pairwise_accuracy(y_true, y_pred, proba, n_classes):
    y_true, y_pred = y_true.tolist(), y_pred.tolist()
    expected = np.full((n_classes, n_classes), np.nan)
    for a in range(n_classes):
        for b in range(n_classes):
            if a == b:
                of_a = [i for i, t in enumerate(y_true) if t == a]
                if of_a:
                    hits = sum(1 for i in of_a if y_pred[i] == a)
                    expected[a, a] = hits / len(of_a)
                continue
            involved = [i for i, t in enumerate(y_true) if t in (a, b)]
            if not involved:
                continue
            wins = 0
            for i in involved:
                true, other = (a, b) if y_true[i] == a else (b, a)
                if proba[i, true] > proba[i, other]:
                    wins += 1
            expected[a, b] = wins / len(involved)
    return expected


def brute_one_sided_auc(y_true, proba, a, b):
    """A(a|b) over every (class-a sample, class-b sample) pair, as a Fraction."""
    positives = proba[y_true == a, a].tolist()
    negatives = proba[y_true == b, a].tolist()
    if not positives or not negatives:
        return None
    twice = 0
    for p in positives:
        for q in negatives:
            twice += 2 if p > q else 1 if p == q else 0
    return Fraction(twice, 2 * len(positives) * len(negatives))


def brute_pairwise_auc(y_true, proba, n_classes):
    expected = np.full((n_classes, n_classes), np.nan)
    for a in range(n_classes):
        for b in range(n_classes):
            if a == b:
                continue
            a_given_b = brute_one_sided_auc(y_true, proba, a, b)
            b_given_a = brute_one_sided_auc(y_true, proba, b, a)
            if a_given_b is not None and b_given_a is not None:
                expected[a, b] = float((a_given_b + b_given_a) / 2)
    return expected


def brute_top_confusions(counts, limit):
    cells = [
        (t, p, int(counts[t, p]))
        for t in range(counts.shape[0])
        for p in range(counts.shape[1])
        if t != p and counts[t, p] > 0
    ]
    cells.sort(key=lambda cell: (-cell[2], cell[0], cell[1]))
    return [(t, p, c, c / int(counts[t].sum())) for t, p, c in cells[:limit]]


# ---------------------------------------------------------------------------
# A tiny example worked out by hand
# ---------------------------------------------------------------------------

# Four classes; class 3 occurs in neither y_true nor y_pred and gets probability 0.
TINY_TRUE = np.array([0, 0, 1, 2])
TINY_PRED = np.array([0, 1, 1, 1])
TINY_PROBA = np.array(
    [
        [0.50, 0.25, 0.25, 0.0],  # true 0
        [0.25, 0.50, 0.25, 0.0],  # true 0
        [0.25, 0.50, 0.25, 0.0],  # true 1
        [0.25, 0.50, 0.25, 0.0],  # true 2
    ]
)
NAN = np.nan


def test_tiny_example_label_metrics_by_hand():
    counts = metrics.confusion_matrix(TINY_TRUE, TINY_PRED, n_classes=4)
    # (true, pred) pairs: (0,0) (0,1) (1,1) (2,1)
    np.testing.assert_array_equal(counts, [[1, 1, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]])

    # rows divided by row totals 2, 1, 1, 0 (the empty row stays 0)
    by_true = [[0.5, 0.5, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 0, 0]]
    # columns divided by column totals 1, 3, 0, 0
    by_pred = [[1, 1 / 3, 0, 0], [0, 1 / 3, 0, 0], [0, 1 / 3, 0, 0], [0, 0, 0, 0]]
    assert_close(metrics.normalize_confusion(counts, normalize="true"), by_true)
    assert_close(metrics.normalize_confusion(counts, normalize="pred"), by_pred)
    assert_close(metrics.normalize_confusion(counts, normalize="all"), counts / 4)

    # TP = 1, 1, 0, 0; support = 2, 1, 1, 0; predicted = 1, 3, 0, 0
    scores = metrics.per_class_scores(counts)
    assert_close(scores["precision"], [1, 1 / 3, 0, 0])  # 0/0 -> 0
    assert_close(scores["recall"], [1 / 2, 1, 0, 0])
    assert_close(scores["f1"], [2 / 3, 2 / 4, 0, 0])  # 2TP / (support + predicted)
    np.testing.assert_array_equal(scores["support"], [2, 1, 1, 0])

    summary = metrics.summary_scores(counts)
    expected = {
        "accuracy": 2 / 4,
        # recall averaged over classes 0, 1, 2 (class 3 has no samples)
        "balanced_accuracy": (1 / 2 + 1 + 0) / 3,
        # macro: over classes 0, 1, 2 present in y_true or y_pred; class 3 left out
        "precision_macro": (1 + 1 / 3 + 0) / 3,  # 4/9
        "recall_macro": (1 / 2 + 1 + 0) / 3,
        "f1_macro": (2 / 3 + 1 / 2 + 0) / 3,  # 7/18
        # weighted by support 2, 1, 1 out of 4
        "precision_weighted": 0.5 * 1 + 0.25 * (1 / 3),  # 7/12
        "recall_weighted": 0.5 * 0.5 + 0.25 * 1,  # = accuracy
        "f1_weighted": 0.5 * (2 / 3) + 0.25 * 0.5,  # 11/24
        # n = 4, trace = 2, t = (2,1,1,0), p = (1,3,0,0):
        # cov = 2*4 - t.p = 8 - 5 = 3; n^2 - p.p = 16 - 10 = 6; n^2 - t.t = 16 - 6 = 10
        "matthews_corrcoef": 3 / math.sqrt(6 * 10),
        # observed agreement 1/2, chance t.p / n^2 = 5/16: (8/16 - 5/16) / (11/16)
        "cohen_kappa": 3 / 11,
    }
    assert summary.keys() == expected.keys()
    for name, value in expected.items():
        assert summary[name] == pytest.approx(value, rel=RTOL, abs=ATOL), name

    # off-diagonal cells: (0,1) = 1 and (2,1) = 1; the tie goes to the lower true
    # class; shares: 1 of row 0's 2 samples, 1 of row 2's 1 sample
    assert metrics.top_confusions(counts, limit=5) == [(0, 1, 1, 0.5), (2, 1, 1, 1.0)]
    assert metrics.top_confusions(counts, limit=1) == [(0, 1, 1, 0.5)]


def test_tiny_example_probability_metrics_by_hand():
    # p(true class) = 0.5, 0.25, 0.5, 0.25: loss = (ln 2 + 2 ln 2 + ln 2 + 2 ln 2) / 4
    assert metrics.log_loss(TINY_TRUE, TINY_PROBA) == pytest.approx(1.5 * math.log(2))

    # classes ranked ahead of the true one (higher p, or equal p and higher index):
    # sample 0: none; sample 1: class 1 (0.5) and class 2 (tie, higher index);
    # sample 2: none; sample 3: class 1 only (class 0 ties but has a lower index)
    ahead = [0, 2, 0, 1]
    for k in (1, 2, 3, 4):
        expected = sum(a < k for a in ahead) / 4  # 2/4, 3/4, 4/4, 4/4
        assert metrics.top_k_accuracy(TINY_TRUE, TINY_PROBA, k=k) == expected

    # (0,1): samples 0, 1, 2: 0.5>0.25 yes, 0.25>0.5 no, (true 1) 0.5>0.25 yes -> 2/3
    # (0,2): samples 0, 1, 3: 0.5>0.25 yes, 0.25>0.25 no, (true 2) 0.25>0.25 no -> 1/3
    # (1,2): samples 2, 3: 0.5>0.25 yes, (true 2) 0.25>0.5 no -> 1/2
    # (a,3): every class-a sample has p_a > 0 = p_3 -> 1; diagonal: recall; (3,3) NaN
    expected_accuracy = [
        [1 / 2, 2 / 3, 1 / 3, 1],
        [2 / 3, 1, 1 / 2, 1],
        [1 / 3, 1 / 2, 0, 1],
        [1, 1, 1, NAN],
    ]
    assert_close(metrics.pairwise_accuracy(TINY_TRUE, TINY_PRED, TINY_PROBA), expected_accuracy)

    # A(0|1): p_0 of class 0 {0.5, 0.25} vs class 1 {0.25}: win + tie -> 3/4
    # A(1|0): p_1 of class 1 {0.5} vs class 0 {0.25, 0.5}: win + tie -> 3/4
    # A(0|2): p_0 of class 0 {0.5, 0.25} vs class 2 {0.25}: win + tie -> 3/4
    # A(2|0): p_2 of class 2 {0.25} vs class 0 {0.25, 0.25}: tie + tie -> 1/2
    # A(1|2): p_1 {0.5} vs {0.5} -> 1/2;  A(2|1): p_2 {0.25} vs {0.25} -> 1/2
    # A(0,1) = 3/4, A(0,2) = 5/8, A(1,2) = 1/2; class 3 has no samples -> NaN
    expected_auc = [
        [NAN, 3 / 4, 5 / 8, NAN],
        [3 / 4, NAN, 1 / 2, NAN],
        [5 / 8, 1 / 2, NAN, NAN],
        [NAN, NAN, NAN, NAN],
    ]
    auc = metrics.pairwise_auc(TINY_TRUE, TINY_PROBA)
    assert_close(auc, expected_auc)
    assert metrics.m_measure(auc) == pytest.approx((3 / 4 + 5 / 8 + 1 / 2) / 3)


def test_log_loss_clips_zero_and_one_by_hand():
    eps = np.finfo(np.float64).eps  # 2**-52
    # p(true) = 0 is clipped to eps: -log(2**-52) = 52 ln 2; the other is ln 2
    proba = np.array([[0.0, 1.0], [0.5, 0.5]])
    assert metrics.log_loss(np.array([0, 1]), proba) == pytest.approx(26.5 * math.log(2))
    # p(true) = 1 is clipped to 1 - eps: a loss of -log(1 - eps), not 0
    loss = metrics.log_loss(np.array([1]), np.array([[0.0, 1.0]]))
    assert loss == pytest.approx(-math.log1p(-eps), rel=1e-9)
    assert loss > 0


def test_top_k_ties_by_hand():
    # a three-way tie: the higher class index ranks first, as in sklearn, so
    # class 0 is third, class 1 second, class 2 first
    proba = np.full((3, 3), 1 / 3)
    y_true = np.array([0, 1, 2])
    assert metrics.top_k_accuracy(y_true, proba, k=1) == pytest.approx(1 / 3)
    assert metrics.top_k_accuracy(y_true, proba, k=2) == pytest.approx(2 / 3)
    assert metrics.top_k_accuracy(y_true, proba, k=3) == 1.0


def test_m_measure_of_nothing_defined_is_nan():
    # one class only: no pair of present classes
    auc = metrics.pairwise_auc(np.array([1, 1]), np.array([[0.5, 0.5], [0.2, 0.8]]))
    assert np.isnan(auc).all()
    assert math.isnan(metrics.m_measure(auc))


# ---------------------------------------------------------------------------
# Confusion matrices
# ---------------------------------------------------------------------------


@CHEAP
@given(problems(proba_kinds=("integers",)))
def test_confusion_matrix_matches_sklearn(problem):
    y_true, y_pred, _, n_classes = problem
    ours = metrics.confusion_matrix(y_true, y_pred, n_classes=n_classes)
    theirs = skm.confusion_matrix(y_true, y_pred, labels=range(n_classes))
    assert ours.shape == (n_classes, n_classes)
    np.testing.assert_array_equal(ours, theirs)


@CHEAP
@given(problems(proba_kinds=("integers",)), st.sampled_from(metrics.NORMALIZATIONS))
def test_normalize_confusion_matches_sklearn(problem, normalize):
    y_true, y_pred, _, n_classes = problem
    counts = metrics.confusion_matrix(y_true, y_pred, n_classes=n_classes)
    theirs = skm.confusion_matrix(y_true, y_pred, labels=range(n_classes), normalize=normalize)
    assert_close(metrics.normalize_confusion(counts, normalize=normalize), theirs)


@pytest.mark.parametrize("bad", ["rows", "True", "", "none"])
def test_normalize_confusion_rejects_unknown_value(bad):
    counts = np.array([[1, 0], [2, 3]])
    with pytest.raises(ValueError, match=re.escape(repr(bad))):
        metrics.normalize_confusion(counts, normalize=bad)


def test_normalize_confusion_rejects_none():
    with pytest.raises(ValueError, match="got None"):
        metrics.normalize_confusion(np.eye(2, dtype=int), normalize=None)


# ---------------------------------------------------------------------------
# Label-only scores
# ---------------------------------------------------------------------------


@CHEAP
@given(problems(proba_kinds=("integers",)))
def test_per_class_scores_match_sklearn(problem):
    y_true, y_pred, _, n_classes = problem
    counts = metrics.confusion_matrix(y_true, y_pred, n_classes=n_classes)
    ours = metrics.per_class_scores(counts)
    precision, recall, f1, support = skm.precision_recall_fscore_support(
        y_true, y_pred, labels=range(n_classes), average=None, zero_division=0
    )
    assert_close(ours["precision"], precision)
    assert_close(ours["recall"], recall)
    assert_close(ours["f1"], f1)
    np.testing.assert_array_equal(ours["support"], support)


def sklearn_summary(y_true, y_pred):
    """scikit-learn's values for every key of summary_scores, default labels."""
    with warnings.catch_warnings():
        # Warnings about the inputs, not the values: a 1x1 confusion matrix inside
        # balanced accuracy, MCC and kappa when only one label occurs at all; classes
        # of y_pred that y_true lacks (balanced accuracy drops them, as ours does);
        # kappa undefined because chance agreement is 1 (sklearn returns NaN).
        warnings.filterwarnings("ignore", message="A single label was found")
        warnings.filterwarnings("ignore", message="y_pred contains classes not in y_true")
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        expected = {
            "accuracy": skm.accuracy_score(y_true, y_pred),
            "balanced_accuracy": skm.balanced_accuracy_score(y_true, y_pred),
        }
        for average in ("macro", "weighted"):
            p, r, f, _ = skm.precision_recall_fscore_support(
                y_true, y_pred, average=average, zero_division=0
            )
            expected[f"precision_{average}"] = p
            expected[f"recall_{average}"] = r
            expected[f"f1_{average}"] = f
        expected["matthews_corrcoef"] = skm.matthews_corrcoef(y_true, y_pred)
        expected["cohen_kappa"] = skm.cohen_kappa_score(y_true, y_pred)
    return expected


@CHEAP
@given(problems(proba_kinds=("integers",)))
def test_summary_scores_match_sklearn(problem):
    y_true, y_pred, _, n_classes = problem
    counts = metrics.confusion_matrix(y_true, y_pred, n_classes=n_classes)
    ours = metrics.summary_scores(counts)
    expected = sklearn_summary(y_true, y_pred)
    assert ours.keys() == expected.keys()
    for name, value in expected.items():
        assert isinstance(ours[name], float), name
        np.testing.assert_allclose(
            ours[name], value, rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=name
        )
    # the separate MCC and kappa functions are what summary_scores reports
    assert_close(metrics.matthews_corrcoef(counts), expected["matthews_corrcoef"])
    assert_close(metrics.cohen_kappa(counts), expected["cohen_kappa"])


@pytest.mark.parametrize(
    ("y_true", "y_pred"),
    [
        ([2, 2, 2], [2, 2, 2]),  # one class everywhere: kappa undefined, MCC 0
        ([0, 0, 0], [0, 0, 1]),  # one true class: MCC's variance term is 0
        ([0, 1, 2], [1, 1, 1]),  # one predicted class
    ],
)
def test_degenerate_summaries_match_sklearn(y_true, y_pred):
    y_true, y_pred = np.array(y_true), np.array(y_pred)
    counts = metrics.confusion_matrix(y_true, y_pred, n_classes=4)
    ours = metrics.summary_scores(counts)
    for name, value in sklearn_summary(y_true, y_pred).items():
        np.testing.assert_allclose(
            ours[name], value, rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=name
        )


def test_kappa_nan_and_mcc_zero_when_undefined():
    counts = metrics.confusion_matrix(np.array([1, 1]), np.array([1, 1]), n_classes=3)
    assert math.isnan(metrics.cohen_kappa(counts))
    assert metrics.matthews_corrcoef(counts) == 0.0


# ---------------------------------------------------------------------------
# Probability scores
# ---------------------------------------------------------------------------


@COSTLY
@given(problems())
def test_log_loss_matches_sklearn(problem):
    y_true, _, proba, n_classes = problem
    expected = skm.log_loss(y_true, y_proba=proba, labels=range(n_classes))
    assert_close(metrics.log_loss(y_true, proba), expected)


@COSTLY
@given(problems(proba_kinds=("integers", "sparse")))
def test_log_loss_matches_sklearn_with_zero_true_probability(problem):
    y_true, _, proba, n_classes = problem
    # make the first sample's true class impossible, then renormalise its row
    proba = proba.copy()
    proba[0, y_true[0]] = 0.0
    if proba[0].sum() == 0:
        proba[0, (int(y_true[0]) + 1) % n_classes] = 1.0
    proba[0] /= proba[0].sum()
    expected = skm.log_loss(y_true, y_proba=proba, labels=range(n_classes))
    ours = metrics.log_loss(y_true, proba)
    assert_close(ours, expected)
    assert ours >= -math.log(np.finfo(np.float64).eps) / y_true.size


@COSTLY
@given(problems(min_classes=3), st.integers(1, 3))
def test_top_k_accuracy_matches_sklearn(problem, k):
    y_true, _, proba, n_classes = problem
    with warnings.catch_warnings():
        # k >= n_classes: sklearn warns that the score is trivially 1
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        expected = skm.top_k_accuracy_score(y_true, proba, k=k, labels=range(n_classes))
    assert_close(metrics.top_k_accuracy(y_true, proba, k=k), expected)


@COSTLY
@given(problems())
def test_pairwise_accuracy_matches_brute_force(problem):
    y_true, y_pred, proba, n_classes = problem
    ours = metrics.pairwise_accuracy(y_true, y_pred, proba)
    assert ours.shape == (n_classes, n_classes)
    assert_close(ours, brute_pairwise_accuracy(y_true, y_pred, proba, n_classes))
    np.testing.assert_array_equal(ours, ours.T)  # NaNs in the same places too


@COSTLY
@given(problems())
def test_pairwise_auc_matches_brute_force(problem):
    y_true, _, proba, n_classes = problem
    ours = metrics.pairwise_auc(y_true, proba)
    assert ours.shape == (n_classes, n_classes)
    expected = brute_pairwise_auc(y_true, proba, n_classes)
    assert_close(ours, expected)
    np.testing.assert_array_equal(ours, ours.T)
    assert np.isnan(np.diag(ours)).all()
    # m_measure: mean of the defined entries above the diagonal
    upper = expected[np.triu_indices(n_classes, k=1)]
    defined = upper[~np.isnan(upper)]
    m = metrics.m_measure(ours)
    if defined.size:
        assert_close(m, defined.mean())
    else:
        assert math.isnan(m)


@COSTLY
@given(problems(min_classes=3))
def test_m_measure_matches_sklearn_ovo_some_classes_absent(problem):
    # sklearn's ovo averages over the pairs of classes present in y_true, which is
    # m_measure's "pairs where A(a, b) is defined"
    y_true, _, proba, n_classes = problem
    if np.unique(y_true).size < 2:
        return  # no pair of present classes; covered by the brute-force test
    expected = skm.roc_auc_score(
        y_true, proba, multi_class="ovo", average="macro", labels=range(n_classes)
    )
    assert_close(metrics.m_measure(metrics.pairwise_auc(y_true, proba)), expected)


@COSTLY
@given(problems(min_classes=2, max_classes=2, proba_kinds=("integers",)))
def test_two_class_auc_matches_sklearn_binary(problem):
    # With two classes p_0 = 1 - p_1 (exactly so in ranking, for these small
    # integer ratios), so A(0|1) = A(1|0) = the ordinary ROC AUC of p_1.
    y_true, _, proba, _ = problem
    if np.unique(y_true).size < 2:
        assert np.isnan(metrics.pairwise_auc(y_true, proba)).all()
        return
    expected = skm.roc_auc_score(y_true, proba[:, 1])
    auc = metrics.pairwise_auc(y_true, proba)
    assert_close(auc[0, 1], expected)
    assert_close(metrics.m_measure(auc), expected)


# ---------------------------------------------------------------------------
# Top confusions
# ---------------------------------------------------------------------------

TIED_COUNTS = np.array(
    [
        [5, 2, 0, 3],  # row total 10
        [2, 7, 2, 0],  # row total 11
        [0, 3, 4, 1],  # row total 8
        [3, 0, 0, 0],  # row total 3
    ]
)


def test_top_confusions_orders_ties_by_true_then_predicted():
    # count 3: (0,3), (2,1), (3,0) by true class; count 2: (0,1), then (1,0) and
    # (1,2) by predicted class; count 1: (2,3). The diagonal (7 is the largest
    # cell) and the zero cells are never listed.
    expected = [
        (0, 3, 3, 3 / 10),
        (2, 1, 3, 3 / 8),
        (3, 0, 3, 3 / 3),
        (0, 1, 2, 2 / 10),
        (1, 0, 2, 2 / 11),
        (1, 2, 2, 2 / 11),
        (2, 3, 1, 1 / 8),
    ]
    assert metrics.top_confusions(TIED_COUNTS, limit=100) == expected
    assert metrics.top_confusions(TIED_COUNTS, limit=7) == expected
    assert metrics.top_confusions(TIED_COUNTS, limit=4) == expected[:4]
    assert metrics.top_confusions(TIED_COUNTS, limit=1) == expected[:1]
    assert metrics.top_confusions(TIED_COUNTS, limit=0) == []


def test_top_confusions_returns_plain_python_numbers():
    rows = metrics.top_confusions(TIED_COUNTS, limit=3)
    for true, predicted, count, share in rows:
        assert type(true) is int and type(predicted) is int and type(count) is int
        assert type(share) is float


def test_top_confusions_of_a_diagonal_matrix_is_empty():
    assert metrics.top_confusions(np.diag([4, 5, 6]), limit=10) == []


@CHEAP
@given(problems(proba_kinds=("integers",)), st.integers(0, 30))
def test_top_confusions_match_brute_force(problem, limit):
    y_true, y_pred, _, n_classes = problem
    counts = metrics.confusion_matrix(y_true, y_pred, n_classes=n_classes)
    ours = metrics.top_confusions(counts, limit=limit)
    expected = brute_top_confusions(counts, limit)
    assert [row[:3] for row in ours] == [row[:3] for row in expected]
    assert_close([row[3] for row in ours], [row[3] for row in expected])
    assert len(ours) <= limit
    assert all(true != predicted for true, predicted, _, _ in ours)


# ---------------------------------------------------------------------------
# headline_metrics: the assembled file
# ---------------------------------------------------------------------------


@COSTLY
@given(problems(min_classes=3, all_present=True))
def test_headline_metrics_match_sklearn(problem):
    """Also m_measure against scikit-learn's one-vs-one AUC with every class present (its
    one slow call made once for both); tests below try classes absent."""
    y_true, y_pred, proba, n_classes = problem
    y_true, y_pred = y_true.astype(np.int64), y_pred.astype(np.int64)
    classes = tuple(f"c{i}" for i in range(n_classes))
    predictions = Predictions(
        sample=np.arange(y_true.size, dtype=np.int64),
        actual=y_true,
        predicted=y_pred,
        proba=proba,
        classes=classes,
    )
    auc = metrics.pairwise_auc(y_true, proba)
    result = headline_metrics(preview_of(predictions, EVALUATE_DEFAULTS).scores, classes, auc)

    summary = sklearn_summary(y_true, y_pred)
    expected = {key: summary[key] for key in HEADLINE_SCORES}
    expected["log_loss"] = skm.log_loss(y_true, y_proba=proba, labels=range(n_classes))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        expected["top_2_accuracy"] = skm.top_k_accuracy_score(
            y_true, proba, k=2, labels=range(n_classes)
        )
    expected["auc_ovo_m"] = skm.roc_auc_score(
        y_true, proba, multi_class="ovo", average="macro", labels=range(n_classes)
    )
    drawn_true = problem[0]  # in the dtype drawn, not the int64 the predictions hold
    assert_close(metrics.m_measure(metrics.pairwise_auc(drawn_true, proba)), expected["auc_ovo_m"])
    for name, value in expected.items():
        np.testing.assert_allclose(
            result[name], value, rtol=RTOL, atol=ATOL, equal_nan=True, err_msg=name
        )
    assert result["n_samples"] == y_true.size
    # the per-class scores are in their own file: tests/test_per_class.py
    assert set(result) - set(expected) <= {"n_samples", "predicted_not_argmax"}


# ---------------------------------------------------------------------------
# Many classes, many rows, labels only
# ---------------------------------------------------------------------------


@COSTLY
@given(problems(max_classes=12))
def test_pairwise_auc_by_column_matches_brute_force(problem):
    # the path taken above _AUC_PAIR_LOOP_CLASSES classes, forced on small problems
    y_true, _, proba, n_classes = problem
    original = metrics._AUC_PAIR_LOOP_CLASSES
    metrics._AUC_PAIR_LOOP_CLASSES = 0
    try:
        ours = metrics.pairwise_auc(y_true, proba)
    finally:
        metrics._AUC_PAIR_LOOP_CLASSES = original
    assert_close(ours, brute_pairwise_auc(y_true, proba, n_classes))


def test_pairwise_auc_at_many_classes_matches_sklearn_ovo():
    rng = np.random.default_rng(5)
    n_classes = 36  # above _AUC_PAIR_LOOP_CLASSES, so the by-column path runs
    y_true = rng.permutation(np.concatenate([np.arange(n_classes), rng.integers(0, 36, 300)]))
    proba = np.round(rng.dirichlet(np.ones(n_classes) * 0.3, size=y_true.size), 3)
    proba /= proba.sum(axis=1, keepdims=True)
    assert n_classes > metrics._AUC_PAIR_LOOP_CLASSES
    expected = skm.roc_auc_score(y_true, proba, multi_class="ovo", labels=range(n_classes))
    assert_close(metrics.m_measure(metrics.pairwise_auc(y_true, proba)), expected)


def brute_pairwise_label_accuracy(y_true, y_pred, n_classes):
    expected = np.full((n_classes, n_classes), np.nan)
    pairs = list(zip(y_true.tolist(), y_pred.tolist(), strict=True))
    for a in range(n_classes):
        of_a = [p for t, p in pairs if t == a]
        if of_a:
            expected[a, a] = sum(p == a for p in of_a) / len(of_a)
        for b in range(n_classes):
            if a != b:
                kept = [(t, p) for t, p in pairs if t in (a, b) and p in (a, b)]
                if kept:
                    expected[a, b] = sum(t == p for t, p in kept) / len(kept)
    return expected


@COSTLY
@given(problems())
def test_pairwise_label_accuracy_matches_brute_force(problem):
    y_true, y_pred, _, n_classes = problem
    counts = metrics.confusion_matrix(y_true, y_pred, n_classes=n_classes)
    ours = metrics.pairwise_label_accuracy(counts)
    assert_close(ours, brute_pairwise_label_accuracy(y_true, y_pred, n_classes))
    np.testing.assert_array_equal(ours, ours.T)


@COSTLY
@given(problems(), st.integers(1, 9))
def test_predicted_not_argmax_matches_brute_force(problem, chunk):
    y_true, y_pred, proba, _ = problem
    expected = np.mean([proba[i, y_pred[i]] < proba[i].max() for i in range(y_true.size)])
    original = metrics._ROWS_PER_CHUNK
    metrics._ROWS_PER_CHUNK = chunk  # several chunks, and a short last one
    try:
        assert metrics.predicted_not_argmax(y_pred, proba) == pytest.approx(expected)
        # the true labels as predictions of a proba built around them: argmax mostly
        assert metrics.predicted_not_argmax(proba.argmax(axis=1), proba) == 0.0
    finally:
        metrics._ROWS_PER_CHUNK = original


@COSTLY
@given(problems(min_classes=3), st.integers(1, 3), st.integers(1, 9))
def test_top_k_accuracy_in_chunks_matches_sklearn(problem, k, chunk):
    y_true, _, proba, n_classes = problem
    original = metrics._ROWS_PER_CHUNK
    metrics._ROWS_PER_CHUNK = chunk
    try:
        ours = metrics.top_k_accuracy(y_true, proba, k=k)
    finally:
        metrics._ROWS_PER_CHUNK = original
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UndefinedMetricWarning)
        expected = skm.top_k_accuracy_score(y_true, proba, k=k, labels=range(n_classes))
    assert_close(ours, expected)


@COSTLY
@given(problems(min_classes=3, all_present=True))
def test_label_only_headline_metrics_match_sklearn_and_leave_out_probabilities(problem):
    y_true, y_pred, _, n_classes = problem
    y_true, y_pred = y_true.astype(np.int64), y_pred.astype(np.int64)
    predictions = Predictions(
        sample=np.arange(y_true.size, dtype=np.int64),
        actual=y_true,
        predicted=y_pred,
        proba=None,
        classes=tuple(f"c{i}" for i in range(n_classes)),
    )
    result = headline_metrics(
        preview_of(predictions, EVALUATE_DEFAULTS).scores, predictions.classes, None
    )
    assert set(result) == {*HEADLINE_SCORES, "n_samples"}
    summary = sklearn_summary(y_true, y_pred)
    for name in HEADLINE_SCORES:
        value = summary[name]
        np.testing.assert_allclose(result[name], value, rtol=RTOL, atol=ATOL, equal_nan=True)
    for absent in ("log_loss", "top_2_accuracy", "auc_ovo_m", "predicted_not_argmax", "note"):
        assert absent not in result


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), min_size=1, max_size=30),
    st.lists(st.sampled_from([0.0, 0.25, 0.5, 0.75, 1.0]), min_size=1, max_size=30),
    st.booleans(),
)
def test_the_merged_pair_count_is_the_pair_by_pair_count_with_ties_anywhere(pos, neg, spread):
    """2 per (positive above negative), 1 per tie, by a double loop: ties within a class
    take the merge, ties across the two its fallback."""
    if spread:  # distinct values across the classes, ties within one only
        neg = [v - 0.1 for v in neg]
    positives, negatives = np.sort(np.array(pos)), np.sort(np.array(neg))
    expected = sum(2 * (p > n) + (p == n) for p in pos for n in neg)
    assert metrics._twice_u_of_sorted(positives, negatives) == expected
