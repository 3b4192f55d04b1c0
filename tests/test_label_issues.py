"""Likely label errors: thresholds, confident joint and candidates against cleanlab (a
test-only reference), their ranking, planted label flips found with stated precision and
recall, the JSON, and their mark in the confusion-examples figure."""

import numpy as np
import pytest
from cleanlab.count import compute_confident_joint, get_confident_thresholds
from cleanlab.filter import find_label_issues as cleanlab_find
from hypothesis import given, settings
from hypothesis import strategies as st

from digitwise.examples.label_issues import (
    LABEL_ONLY_NOTE,
    find_label_issues,
    label_issues_of,
    label_issues_report,
    mark_cells,
)
from digitwise.examples.selection import select_examples
from digitwise.figures.confusion_examples import confusion_examples_figure
from digitwise.models.estimators import one_blas_thread
from digitwise.predictions.schema import Predictions


def random_case(seed: int, n: int, k: int, *, rounded: bool = False):
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.full(k, rng.uniform(0.2, 2.0)), size=n)
    if rounded:  # many ties and probabilities exactly at a threshold
        proba = np.round(proba, 1) + 1e-9
        proba /= proba.sum(axis=1, keepdims=True)
    labels = rng.integers(0, k, n)
    labels[:k] = np.arange(k)  # every class given at least once (cleanlab's assumption)
    return labels, proba


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(10, 150),
    k=st.integers(2, 7),
    rounded=st.booleans(),
)
def test_thresholds_joint_and_candidates_equal_cleanlab(seed, n, k, rounded):
    labels, proba = random_case(seed, n, k, rounded=rounded)
    ours = find_label_issues(labels, proba)
    np.testing.assert_allclose(ours.thresholds, get_confident_thresholds(labels, proba))
    # cleanlab raises an empty diagonal cell to 1; ours counts samples only
    joint = ours.confident_joint.copy()
    np.fill_diagonal(joint, joint.diagonal().clip(min=1))
    np.testing.assert_array_equal(joint, compute_confident_joint(labels, proba, calibrate=False))
    expected = np.flatnonzero(cleanlab_find(labels, proba, filter_by="confident_learning"))
    assert sorted(ours.candidates.tolist()) == expected.tolist()


def test_a_class_nobody_is_given_has_no_threshold_and_no_confident_sample():
    labels = np.array([0, 0, 1, 1])
    proba = np.array([[0.8, 0.1, 0.1], [0.1, 0.1, 0.8], [0.1, 0.9, 0.0], [0.2, 0.7, 0.1]])
    ours = find_label_issues(labels, proba)
    assert np.isinf(ours.thresholds[2])
    assert ours.confident_joint[:, 2].tolist() == [0, 0, 0]
    predictions = Predictions(np.arange(4), labels, labels, proba, ("a", "b", "c"))
    report = label_issues_report(label_issues_of(predictions), predictions, limit=10)
    assert report["thresholds"] == {"a": pytest.approx(0.45), "b": pytest.approx(0.8), "c": None}


def test_the_hand_made_case_by_the_definition():
    # thresholds: class 0 mean(0.9, 0.2, 0.7) = 0.6; class 1 mean(0.8, 0.6) = 0.7
    labels = np.array([0, 0, 0, 1, 1])
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3], [0.2, 0.8], [0.4, 0.6]])
    ours = find_label_issues(labels, proba)
    np.testing.assert_allclose(ours.thresholds, [0.6, 0.7])
    # row 1: labelled 0, p(0) 0.2 < 0.6, p(1) 0.8 >= 0.7: the only candidate, suggested 1.
    # row 4: labelled 1, p(1) 0.6 < 0.7, but p(0) 0.4 < 0.6 too: confident of nothing.
    assert ours.confident_joint.tolist() == [[2, 1], [0, 1]]
    assert ours.candidates.tolist() == [1]
    assert ours.suggested.tolist() == [1]
    assert ours.margin.tolist() == pytest.approx([0.6])


@pytest.mark.parametrize("seed", range(5))
def test_the_ranking_is_cleanlabs_normalized_margin_order(seed):
    labels, proba = random_case(seed, 300, 5)  # continuous: no ties
    predictions = Predictions(np.arange(300) * 7 % 300, labels, labels, proba, tuple("abcde"))
    ours = label_issues_of(predictions)
    expected = cleanlab_find(
        labels,
        proba,
        filter_by="confident_learning",
        return_indices_ranked_by="normalized_margin",
    )
    assert ours.candidates.tolist() == list(expected)
    assert (np.diff(ours.margin) <= 0).all()


def precision_recall(flagged, flipped) -> tuple[float, float]:
    hits = np.isin(flagged, np.flatnonzero(flipped)).sum()
    return hits / len(flagged), hits / flipped.sum()


def flip(labels, share, k, rng):
    flipped = np.zeros(len(labels), dtype=bool)
    flipped[rng.choice(len(labels), round(share * len(labels)), replace=False)] = True
    given_labels = labels.copy()
    given_labels[flipped] = (labels[flipped] + rng.integers(1, k, flipped.sum())) % k
    return given_labels, flipped


def test_planted_flips_are_found_in_a_well_separated_problem():
    """Ten Gaussian classes in 8 dimensions, the Bayes posterior as the model (98%
    right), 5% of 2,000 labels flipped (100): 104 flagged, precision 0.90, recall 0.94."""
    rng = np.random.default_rng(0)
    means = rng.normal(scale=2.2, size=(10, 8))
    truth = rng.integers(0, 10, 2000)
    x = means[truth] + rng.normal(size=(2000, 8))
    logits = -0.5 * ((x[:, None, :] - means[None]) ** 2).sum(axis=-1)
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    proba /= proba.sum(axis=1, keepdims=True)
    given_labels, flipped = flip(truth, 0.05, 10, rng)
    precision, recall = precision_recall(find_label_issues(given_labels, proba).candidates, flipped)
    assert precision >= 0.85 and recall >= 0.85, (precision, recall)


def test_planted_flips_are_found_in_the_digits_held_out_split():
    """A logistic regression fitted on clean training digits (97% right on the held-out
    450), 5% of the held-out labels flipped (22): 23 flagged, precision 0.87, recall 0.91; what it
    flags wrongly are the model's own confident mistakes."""
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split

    x, y = load_digits(return_X_y=True)
    x_train, x_test, y_train, y_test = train_test_split(
        x / 16, y, test_size=0.25, stratify=y, random_state=0
    )
    with one_blas_thread():  # as the train stage fits: many threads on a busy machine crawl
        model = LogisticRegression(max_iter=1000).fit(x_train, y_train)
    proba = model.predict_proba(x_test)
    given_labels, flipped = flip(y_test, 0.05, 10, np.random.default_rng(0))
    flagged = find_label_issues(given_labels, proba).candidates
    precision, recall = precision_recall(flagged, flipped)
    assert precision >= 0.8 and recall >= 0.8, (precision, recall)
    wrongly = flagged[~flipped[flagged]]
    assert (proba[wrongly].argmax(axis=1) != y_test[wrongly]).all()


# --- the JSON and the figure ----------------------------------------------------------


def planted_predictions():
    """Three classes, a model always right about the truth; two labels flipped."""
    truth = np.array([0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2])
    proba = np.full((12, 3), 0.05)
    proba[np.arange(12), truth] = 0.9
    proba[3] = [0.55, 0.4, 0.05]  # a mistake of the model's, not confidently of class 1
    given_labels = truth.copy()
    given_labels[[0, 4]] = [1, 2]  # flipped: 0 -> 1, 1 -> 2
    predicted = proba.argmax(axis=1)
    predicted[3] = 1  # and a mistake the model makes on its own
    sample = np.arange(100, 112)
    return Predictions(sample, given_labels, predicted, proba, ("a", "b", "c"))


def test_the_report_lists_ranked_candidates_up_to_the_limit():
    predictions = planted_predictions()
    issues = label_issues_of(predictions)
    report = label_issues_report(issues, predictions, limit=1)
    assert report["n_candidates"] == 2 and report["n_samples"] == 12
    assert [c["sample"] for c in report["candidates"]] == [100]  # margin 0.85 both: by id
    (first,) = report["candidates"]
    assert first == {
        "rank": 1,
        "sample": 100,
        "given": "b",
        "suggested": "a",
        "p_given": 0.05,
        "p_suggested": 0.9,
        "margin": pytest.approx(0.85),
    }
    assert report["confident_joint"].tolist() == [[2, 0, 0], [1, 3, 0], [0, 1, 4]]
    assert report["method"].startswith("confident learning (Northcutt et al. 2021)")


def test_label_only_predictions_have_a_note_and_unmarked_cells():
    labels = np.array([0, 1, 1])
    predictions = Predictions(np.arange(3), labels, labels, None, ("a", "b"))
    assert label_issues_of(predictions) is None
    assert label_issues_report(None, predictions, limit=5) == {"note": LABEL_ONLY_NOTE}
    assert mark_cells([], None, predictions) == []


def test_the_figure_marks_candidates_and_leaves_no_empty_slot():
    predictions = planted_predictions()
    selected = select_examples(predictions, cells=5, per_cell=3)
    marked = mark_cells(selected, label_issues_of(predictions), predictions)
    by_cell = {(c.true, c.predicted): c for c in marked}
    assert by_cell[(1, 0)].label_errors == (True,)  # sample 100, given b, truly a
    assert by_cell[(0, 1)].label_errors == (False,)  # sample 103: the model's mistake
    images = np.zeros((12, 8, 8), dtype=np.uint8)
    figure = confusion_examples_figure(marked, images, ("a", "b", "c"), pixel_max=16, per_cell=3)
    # every row has one mistake: three panels each, the predicted example next to it
    assert len(figure.axes) == 3 * len(marked)
    marks = [
        ax for ax in figure.axes if any(t.get_text() == "possible label error" for t in ax.texts)
    ]
    assert [ax.get_title() for ax in marks] == ["p(a) = 0.90\nid 100", "p(b) = 0.90\nid 104"]
    titles = {t.get_text() for t in figure.texts}
    assert "true b → predicted a: 1 sample, 1 possible label error" in titles
    assert "true a → predicted b: 1 sample" in titles
    frames = {ax.get_title(): ax.spines["top"].get_edgecolor() for ax in figure.axes}
    assert frames["p(b) = 0.40\nid 103"][:3] == pytest.approx((0.839, 0.153, 0.157), abs=1e-3)
    assert frames["correct a\nid 101, p(a) = 0.90"][:3] == pytest.approx(
        (0.173, 0.627, 0.173), abs=1e-3
    )
