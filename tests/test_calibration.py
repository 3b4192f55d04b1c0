"""Calibration: ECE and classwise ECE against a brute-force loop, the classwise curves
against scikit-learn's calibration_curve, merged shards, the figure by its axes, and the
evaluate command's outputs with and without probabilities."""

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.calibration import calibration_curve

from digitwise.cli import run
from digitwise.cli.main import main
from digitwise.figures.calibration import reliability_diagram
from digitwise.metrics.calibration import (
    bin_of,
    calibration,
    calibration_sums,
    classwise_calibration_error,
    expected_calibration_error,
    finish,
)
from digitwise.predictions.reading import read_predictions
from digitwise.predictions.schema import Predictions, to_csv


def brute_bin(p: float, n_bins: int) -> int:
    """The bin of p by the definition: (i/n, (i+1)/n], the first one [0, 1/n]."""
    edges = np.linspace(0, 1, n_bins + 1)
    for i in range(n_bins):
        if p <= edges[i + 1]:
            return i
    raise AssertionError(p)


def brute_errors(y, proba, n_bins):
    """Top-label and classwise ECE, one sample at a time."""
    n, k = proba.shape
    top = [[0, 0.0, 0] for _ in range(n_bins)]  # count, confidence sum, correct
    per_class = [[[0, 0.0, 0] for _ in range(n_bins)] for _ in range(k)]
    for row in range(n):
        best = max(range(k), key=lambda c: (proba[row, c], -c))  # first of the largest
        cell = top[brute_bin(proba[row, best], n_bins)]
        cell[0] += 1
        cell[1] += proba[row, best]
        cell[2] += int(best == y[row])
        for c in range(k):
            cell = per_class[c][brute_bin(proba[row, c], n_bins)]
            cell[0] += 1
            cell[1] += proba[row, c]
            cell[2] += int(y[row] == c)

    def ece(bins):
        return sum(cnt / n * abs(hit / cnt - conf / cnt) for cnt, conf, hit in bins if cnt)

    return ece(top), sum(ece(bins) for bins in per_class) / k


def random_case(seed, n, k, *, edges_of=None):
    rng = np.random.default_rng(seed)
    proba = rng.dirichlet(np.full(k, 0.5), size=n)
    if edges_of is not None:  # kNN-like probabilities, many of them exactly on edges
        votes = rng.multinomial(edges_of, np.full(k, 1 / k), size=n)
        proba = votes / edges_of
    y = rng.integers(0, k, n)
    return y, proba


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 120), st.lists(st.floats(0, 1), max_size=20))
def test_bins_are_the_definitions_on_and_next_to_every_edge(n_bins, values):
    edges = np.linspace(0, 1, n_bins + 1)
    near = np.concatenate([edges, np.nextafter(edges, 0), np.nextafter(edges, 1), values])
    assert bin_of(near, n_bins).tolist() == [brute_bin(p, n_bins) for p in near]


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 60),
    k=st.integers(2, 6),
    n_bins=st.integers(1, 20),
    votes=st.sampled_from([None, 3, 5, 10]),
)
def test_errors_equal_a_brute_force_loop(seed, n, k, n_bins, votes):
    y, proba = random_case(seed, n, k, edges_of=votes)
    top, classwise = brute_errors(y, proba, n_bins)
    assert expected_calibration_error(y, proba, n_bins=n_bins) == pytest.approx(top, abs=1e-12)
    assert classwise_calibration_error(y, proba, n_bins=n_bins) == pytest.approx(
        classwise, abs=1e-12
    )


@pytest.mark.parametrize("votes", [None, 3, 5])
@pytest.mark.parametrize("n_bins", [1, 5, 15])
def test_classwise_curves_equal_calibration_curve_one_vs_rest(votes, n_bins):
    y, proba = random_case(7, 500, 5, edges_of=votes)
    result = calibration(y, proba, n_bins=n_bins)
    for k in range(5):
        prob_true, prob_pred = calibration_curve(
            (y == k).astype(int), proba[:, k], n_bins=n_bins, strategy="uniform", pos_label=1
        )
        filled = result.sums.class_counts[k] > 0
        np.testing.assert_allclose(result.positive_rate[k][filled], prob_true, rtol=0, atol=1e-12)
        np.testing.assert_allclose(result.mean_proba[k][filled], prob_pred, rtol=0, atol=1e-12)
        assert np.isnan(result.mean_proba[k][~filled]).all()


def test_top_label_curve_equals_calibration_curve_of_correctness():
    y, proba = random_case(3, 400, 4)
    result = calibration(y, proba, n_bins=10)
    correct = (proba.argmax(axis=1) == y).astype(int)
    prob_true, prob_pred = calibration_curve(correct, proba.max(axis=1), n_bins=10, pos_label=1)
    filled = result.sums.counts > 0
    np.testing.assert_allclose(result.accuracy[filled], prob_true, atol=1e-12)
    np.testing.assert_allclose(result.mean_confidence[filled], prob_pred, atol=1e-12)


def test_shard_sums_add_up_to_the_whole():
    y, proba = random_case(11, 1000, 6)
    whole = calibration_sums(y, proba, n_bins=15)
    shards = np.array_split(np.arange(1000), 3)
    parts = [calibration_sums(y[rows], proba[rows], n_bins=15) for rows in shards]
    merged = parts[0] + parts[1] + parts[2]
    for name in ("counts", "correct", "class_counts", "positives"):
        np.testing.assert_array_equal(getattr(merged, name), getattr(whole, name))
    for name in ("confidence_sums", "proba_sums"):  # exact sums: equal, not close
        assert list(getattr(merged, name).ravel()) == list(getattr(whole, name).ravel())
    assert finish(merged).ece == finish(whole).ece
    assert finish(merged).classwise_ece == finish(whole).classwise_ece
    with pytest.raises(ValueError, match=r"shapes \(6, 15\) and \(6, 10\)"):
        _ = whole + calibration_sums(y, proba, n_bins=10)


def test_perfectly_confident_and_right_is_zero_and_wrong_is_one():
    y = np.array([0, 1, 2, 1])
    one_hot = np.eye(3)[y]
    assert expected_calibration_error(y, one_hot, n_bins=10) == 0.0
    assert classwise_calibration_error(y, one_hot, n_bins=10) == 0.0
    wrong = np.eye(3)[(y + 1) % 3]
    assert expected_calibration_error(y, wrong, n_bins=10) == 1.0
    # each class: half its "1.0" bin wrong or its "0.0" bin holding its true samples
    assert classwise_calibration_error(y, wrong, n_bins=10) == pytest.approx(
        brute_errors(y, wrong, 10)[1]
    )


def test_chunks_do_not_change_the_sums(monkeypatch):
    from digitwise.metrics import calibration as module

    y, proba = random_case(5, 777, 7)
    whole = calibration_sums(y, proba, n_bins=12)
    monkeypatch.setattr(module, "chunk_values", lambda cells: 50)  # 7 rows per chunk
    chunked = calibration_sums(y, proba, n_bins=12)
    np.testing.assert_array_equal(chunked.class_counts, whole.class_counts)
    assert list(chunked.proba_sums.ravel()) == list(whole.proba_sums.ravel())  # exact sums


# --- the figure ----------------------------------------------------------------------


def test_the_diagram_draws_bins_counts_and_one_panel_per_class():
    y, proba = random_case(2, 300, 4)
    result = calibration(y, proba, n_bins=10)
    figure = reliability_diagram(result, ("a", "b", "c", "d"))
    top, counts, *classes = figure.axes
    assert len(classes) == 4
    assert [p.get_height() for p in top.patches] == pytest.approx(
        np.nan_to_num(result.accuracy).tolist()
    )
    assert [p.get_height() for p in counts.patches] == result.sums.counts.tolist()
    assert [ax.get_title() for ax in classes] == [
        f"{name}: ECE {result.class_ece[k]:.3f}" for k, name in enumerate("abcd")
    ]
    curve = classes[1].lines[1]
    filled = result.sums.class_counts[1] > 0
    np.testing.assert_allclose(curve.get_xdata(), result.mean_proba[1][filled])
    np.testing.assert_allclose(curve.get_ydata(), result.positive_rate[1][filled])
    assert figure.get_suptitle() == (
        f"Calibration: ECE {result.ece:.4f}, classwise ECE {result.classwise_ece:.4f} (10 bins)"
    )


def test_the_counts_axis_is_labelled_in_plain_text_powers_of_ten():
    y, proba = random_case(3, 3000, 3)
    figure = reliability_diagram(calibration(y, proba, n_bins=10), ("a", "b", "c"))
    counts = figure.axes[1]
    figure.canvas.draw()
    labels = {tick.get_text() for tick in counts.get_yticklabels(minor=False)} - {""}
    assert labels and labels <= {"10⁰", "10¹", "10²", "10³", "10⁴"}
    assert not [t for t in counts.get_yticklabels(minor=True) if t.get_text()]
    positions = {label.get_text(): label.get_position()[1] for label in counts.get_yticklabels()}
    for text, value in positions.items():
        if text:
            assert value == 10 ** int(text[2:].translate(str.maketrans("⁰¹²³⁴", "01234")))


@pytest.mark.parametrize(
    ("value", "label"),
    [(1, "10⁰"), (10, "10¹"), (1e6, "10⁶"), (0.01, "10⁻²"), (1e-15, "10⁻¹⁵"), (50, ""), (0, "")],
)
def test_a_log_axis_tick_is_a_power_of_ten_or_nothing(value, label):
    from digitwise.figures.calibration import _power_of_ten

    assert _power_of_ten(value, 0) == label


def test_more_than_12_classes_have_no_small_multiples():
    y, proba = random_case(2, 200, 13)
    figure = reliability_diagram(calibration(y, proba, n_bins=10), tuple(map(str, range(13))))
    assert len(figure.axes) == 2
    assert any("drawn up to 12 classes" in t.get_text() for t in figure.texts)


def test_without_probabilities_the_figure_says_so():
    (ax,) = reliability_diagram(None, ("a", "b")).axes
    assert ax.texts[0].get_text().startswith("no proba_ columns: calibration")


# --- the evaluate command --------------------------------------------------------------


def evaluate_into(tmp_path: Path, given: Predictions) -> Path:
    (tmp_path / "p.csv").write_text(to_csv(given))
    (tmp_path / "classes.json").write_text(json.dumps(list(given.classes)))
    argv = ["evaluate", str(tmp_path / "p.csv"), "--classes", str(tmp_path / "classes.json")]
    argv += ["--out", str(tmp_path / "out")]
    assert run(main, argv) == 0
    return tmp_path / "out"


def test_evaluate_writes_the_bins_and_the_headline_errors(tmp_path, capsys):
    y, proba = random_case(9, 200, 3)
    given = Predictions(np.arange(200), y, proba.argmax(axis=1), proba, ("x", "y", "z"))
    out = evaluate_into(tmp_path, given)
    capsys.readouterr()
    metrics = json.loads((out / "metrics.json").read_text())
    report = json.loads((out / "calibration.json").read_text())
    read = read_predictions(tmp_path / "p.csv", ("x", "y", "z"))  # as the CSV holds them
    top, classwise = brute_errors(read.actual, read.proba, 15)  # the shipped 15 bins
    assert metrics["ece"] == pytest.approx(top, abs=1e-9)
    assert metrics["classwise_ece"] == pytest.approx(classwise, abs=1e-9)
    assert report["n_bins"] == 15 and len(report["bin_edges"]) == 16
    assert sum(report["top_label"]["count"]) == 200
    assert report["classwise"]["classes"] == ["x", "y", "z"]
    assert [sum(row) for row in report["classwise"]["positives"]] == np.bincount(y).tolist()
    assert (out / "figures" / "reliability_diagram.png").read_bytes()[:4] == b"\x89PNG"


def test_label_only_predictions_have_no_calibration_and_say_so(tmp_path, capsys):
    y = np.array([0, 1, 1, 0, 1])
    out = evaluate_into(tmp_path, Predictions(np.arange(5), y, y, None, ("a", "b")))
    capsys.readouterr()
    metrics = json.loads((out / "metrics.json").read_text())
    assert "ece" not in metrics and "classwise_ece" not in metrics
    report = json.loads((out / "calibration.json").read_text())
    assert list(report) == ["note"] and report["note"].startswith("no proba_ columns")
    assert (out / "figures" / "reliability_diagram.png").read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("with_proba", [True, False], ids=["probabilities", "labels only"])
def test_calibration_computed_first_changes_no_output(with_proba):
    from digitwise.io.outputs import json_text
    from digitwise.metrics import evaluation
    from digitwise.params import EVALUATE_DEFAULTS as defaults

    y, proba = random_case(5, 500, 4)
    given = Predictions(
        np.arange(500), y, proba.argmax(axis=1), proba if with_proba else None, tuple("abcd")
    )
    early = evaluation.calibration_preview(given, defaults)
    if with_proba:  # the command draws it before the rest is computed
        expected = calibration(y, proba, n_bins=defaults.calibration_bins)
        np.testing.assert_array_equal(early.calibration.accuracy, expected.accuracy)
        assert early.calibration.ece == expected.ece
    else:
        assert early.calibration is None and early.sums is None
    first = evaluation.confusion_preview(given, defaults)
    preview = evaluation.preview_of(given, defaults, first, early)
    together = evaluation.evaluate(given, defaults, preview=preview).payloads
    alone = evaluation.evaluate(given, defaults).payloads
    assert {name: json_text(p) for name, p in together.items()} == {
        name: json_text(p) for name, p in alone.items()
    }
