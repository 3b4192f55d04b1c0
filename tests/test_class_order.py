"""The clustered class order: confused classes side by side, in every heatmap of a run,
recorded in confusion.json and read back by the stage that draws the separability heatmap."""

import json
from pathlib import Path

import numpy as np
import pytest
import sklearn.metrics as skm
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from digitwise import params
from digitwise.cli import run
from digitwise.cli.main import main
from digitwise.errors import UserError
from digitwise.figures import heatmaps
from digitwise.figures import separability as separability_plots
from digitwise.figures.steps import snapshots_figure
from digitwise.io.outputs import png_bytes
from digitwise.metrics import evaluation, ordering
from digitwise.metrics.ordering import ClassOrder, class_order, clustered_positions
from digitwise.models.steps import FRACTION, StepHistory
from digitwise.params import sections
from digitwise.predictions.reading import read_predictions
from digitwise.predictions.schema import Predictions, to_csv

ROOT = Path(__file__).resolve().parents[1]


def blocks_confusion(n_classes, blocks, *, seed=0, noise=0.05):
    """Counts with 80..120 right per class, 5..15 confusions between any two classes of a
    block (both ways), and a stray single confusion between ``noise`` of the other pairs."""
    rng = np.random.default_rng(seed)
    counts = (rng.random((n_classes, n_classes)) < noise).astype(np.int64)
    for block in blocks:
        for a in block:
            for b in block:
                if a != b:
                    counts[a, b] = rng.integers(5, 16)
    np.fill_diagonal(counts, rng.integers(80, 121, n_classes))
    return counts


def is_contiguous(order, block) -> bool:
    places = sorted(list(order).index(c) for c in block)
    return places == list(range(places[0], places[0] + len(block)))


def test_28_classes_with_two_confused_blocks_keep_each_block_contiguous():
    blocks = [(3, 17, 9, 25, 0), (5, 12, 20, 27)]
    order = clustered_positions(blocks_confusion(28, blocks))
    assert sorted(order) == list(range(28))
    assert all(is_contiguous(order, block) for block in blocks)
    # and in the natural order they are not: the clustering moved them together
    assert not any(is_contiguous(range(28), block) for block in blocks)


@settings(max_examples=40, deadline=None)
@given(
    permutation=st.permutations(range(28)),
    sizes=st.tuples(st.integers(2, 8), st.integers(2, 8)),
    seed=st.integers(0, 2**16),
)
def test_any_two_confused_blocks_among_28_classes_are_contiguous(permutation, sizes, seed):
    first, second = permutation[: sizes[0]], permutation[sizes[0] : sum(sizes)]
    order = clustered_positions(blocks_confusion(28, [first, second], seed=seed))
    assert sorted(order) == list(range(28))
    assert is_contiguous(order, first) and is_contiguous(order, second)


def test_1000_classes_keep_their_blocks_contiguous_without_optimal_leaf_ordering():
    # above MAX_OPTIMAL_ORDERING the linkage's own leaf order: the blocks are its subtrees
    rng = np.random.default_rng(1)
    members = rng.permutation(1000)
    blocks = [members[:7], members[7:20], members[20:23]]
    order = clustered_positions(blocks_confusion(1000, blocks, noise=0.001))
    assert sorted(order) == list(range(1000))
    assert all(is_contiguous(order, block) for block in blocks)


@settings(max_examples=30, deadline=None)
@given(labels=st.lists(st.tuples(st.integers(0, 6), st.integers(0, 6)), min_size=1, max_size=60))
def test_similarity_is_the_symmetrised_confusion_normalised_by_true_class(labels):
    actual, predicted = np.array(labels).T
    reference = skm.confusion_matrix(actual, predicted, labels=range(7), normalize="true")
    counts = skm.confusion_matrix(actual, predicted, labels=range(7))
    similarity = ordering.confusion_similarity(counts)
    np.testing.assert_allclose(similarity, (reference + reference.T) / 2, atol=1e-15)
    order = clustered_positions(counts)
    assert sorted(order) == list(range(7))
    assert np.array_equal(order, clustered_positions(counts))  # the same every time


def test_a_model_that_confuses_nothing_keeps_the_natural_order():
    for n in (2, 3, 10, 28):
        assert list(clustered_positions(np.eye(n, dtype=int) * 40)) == list(range(n))


def test_classes_never_seen_nor_predicted_come_last_in_list_order():
    counts = blocks_confusion(8, [(1, 6)], noise=0)
    for absent in (0, 4):
        counts[absent] = 0
        counts[:, absent] = 0
    order = list(clustered_positions(counts))
    assert order[-2:] == [0, 4]
    assert is_contiguous(order, (1, 6))
    # a class with no samples that is predicted is ordered by its column
    counts[4, :], counts[:, 4] = 0, 0
    counts[6, 4] = 30
    assert abs(list(clustered_positions(counts)).index(4) - order.index(6)) <= 2


def test_an_order_reorders_rows_and_columns_and_names():
    order = ClassOrder("clustered", (2, 0, 1))
    matrix = np.arange(9).reshape(3, 3)
    expected = [[matrix[r, c] for c in (2, 0, 1)] for r in (2, 0, 1)]
    assert order.apply(matrix).tolist() == expected
    assert order.names(["a", "b", "c"]) == ["c", "a", "b"]
    assert class_order(matrix, method="natural") == ClassOrder("natural", (0, 1, 2))
    assert ordering.METHODS == sections.CLASS_ORDERS


def counts_and_order(n=5):
    counts = blocks_confusion(n, [(0, 3)], noise=0)
    return counts, class_order(counts, method="clustered")


def tick_names(ax):
    return [t.get_text() for t in ax.get_xticklabels()], [
        t.get_text() for t in ax.get_yticklabels()
    ]


@pytest.mark.parametrize(
    "draw",
    [
        lambda m, c, o: heatmaps.confusion_counts_heatmap(m, c, order=o),
        lambda m, c, o: heatmaps.confusion_normalized_heatmap(m, c, order=o),
        lambda m, c, o: heatmaps.pairwise_accuracy_heatmap(m / m.max(), c, order=o),
        lambda m, c, o: heatmaps.pairwise_label_accuracy_heatmap(m / m.max(), c, order=o),
        lambda m, c, o: separability_plots.separability_heatmap(m / m.max(), c, order=o),
        lambda m, c, o: heatmaps.confusion_delta_heatmap(m, m.T, c, ref="main", order=o),
    ],
    ids=["counts", "normalized", "pairwise", "label", "separability", "delta"],
)
def test_every_heatmap_draws_rows_and_columns_in_the_order_and_says_so(draw):
    counts, order = counts_and_order()
    classes = ["a", "b", "c", "d", "e"]
    assert order.positions != tuple(range(5))
    ax = draw(counts, classes, order).axes[0]
    names = [classes[i] for i in order.positions]
    assert tick_names(ax) == (names, names)
    assert ax.get_title().endswith("\n(classes in clustered order)")
    natural = draw(counts, classes, None).axes[0]
    texts = np.array([t.get_text() for t in natural.texts], dtype=object)
    if len(texts) == 25:  # every cell has a text: they move with their cells
        grid = texts.reshape(5, 5)
        moved = [grid[r, c] for r in order.positions for c in order.positions]
        assert [t.get_text() for t in ax.texts] == moved
    assert "clustered" not in natural.get_title()


def test_the_natural_order_leaves_the_title_alone():
    counts, _ = counts_and_order()
    figure = heatmaps.confusion_counts_heatmap(
        counts, list("abcde"), order=ordering.natural_order(5)
    )
    assert figure.axes[0].get_title() == f"Confusion matrix ({counts.sum()} samples)"


def write_inputs(tmp_path, method):
    """An 8-class predictions file with two confused blocks, its classes, and params (few
    classes: a heatmap's cell texts are most of the command's time)."""
    blocks = [(3, 6, 0), (5, 1)]
    counts = blocks_confusion(8, blocks, noise=0)
    actual = np.repeat(np.arange(8), counts.sum(axis=1))
    predicted = np.concatenate([np.repeat(np.arange(8), row) for row in counts])
    classes = tuple(f"c{i}" for i in range(8))
    rows = Predictions(
        sample=np.arange(len(actual)),
        actual=actual,
        predicted=predicted,
        proba=None,
        classes=classes,
    )
    (tmp_path / "p.csv").write_text(to_csv(rows))
    (tmp_path / "classes.json").write_text(json.dumps(list(classes)))
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    raw["evaluate"]["class_order"] = method
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    return counts, classes, blocks


def evaluate(tmp_path, out):
    args = ["evaluate", tmp_path / "p.csv", "--classes", tmp_path / "classes.json"]
    return run(main, [str(a) for a in [*args, "--params", tmp_path / "params.yaml", "--out", out]])


def test_evaluate_records_the_order_and_draws_every_heatmap_in_it(tmp_path):
    counts, classes, blocks = write_inputs(tmp_path, "clustered")
    assert evaluate(tmp_path, tmp_path / "out") == 0
    confusion = json.loads((tmp_path / "out/confusion.json").read_text())
    recorded = confusion["class_order"]
    assert recorded["method"] == "clustered"
    positions = [classes.index(name) for name in recorded["order"]]
    assert positions == list(clustered_positions(counts))
    assert all(is_contiguous(positions, block) for block in blocks)
    assert confusion["counts"] == counts.tolist()  # the matrices stay in the list's order
    order = ClassOrder("clustered", tuple(positions))
    pairwise = json.loads((tmp_path / "out/pairwise.json").read_text())
    pairwise = np.array(pairwise["pairwise_label_accuracy"], dtype=float)
    expected = {
        "confusion_counts": heatmaps.confusion_counts_heatmap(counts, classes, order=order),
        "confusion_normalized": heatmaps.confusion_normalized_heatmap(counts, classes, order=order),
        "pairwise_accuracy": heatmaps.pairwise_label_accuracy_heatmap(
            pairwise, classes, order=order
        ),
    }
    for name, figure in expected.items():
        assert (tmp_path / f"out/figures/{name}.png").read_bytes() == png_bytes(figure), name


def test_the_natural_order_is_recorded_too_and_is_the_default(tmp_path):
    write_inputs(tmp_path, "natural")
    settings = params.evaluate_params(params.load(tmp_path / "params.yaml"))
    predictions = read_predictions(tmp_path / "p.csv", tuple(f"c{i}" for i in range(8)))
    recorded = evaluation.evaluate(predictions, settings).payloads["confusion"]["class_order"]
    assert recorded == {"method": "natural", "order": [f"c{i}" for i in range(8)]}
    assert params.EVALUATE_DEFAULTS.class_order == "natural"


def test_an_unknown_order_is_one_line_and_writes_nothing(tmp_path, capsys):
    write_inputs(tmp_path, "random")
    assert evaluate(tmp_path, tmp_path / "out") == 2
    err = capsys.readouterr().err
    assert err == (
        f"error: {tmp_path / 'params.yaml'}: evaluate.class_order must be one of natural, "
        "clustered; got 'random' (str)\n"
    )
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({}, r"c\.json: must hold 'class_order', an object with 'method'"),
        ({"class_order": {"method": "sorted", "order": []}}, r"must hold 'class_order'"),
        ({"class_order": {"method": "clustered", "order": ["a", "b"]}}, r"each of the 3"),
        ({"class_order": {"method": "clustered", "order": ["a", "a", "b"]}}, r"each of the 3"),
        ({"class_order": {"method": "clustered", "order": ["a", "b", 3]}}, r"each of the 3"),
        ([1, 2], r"must hold 'class_order'"),
        (
            {"class_order": {"method": "natural", "order": ["c", "a", "b"]}},
            r"c\.json: 'class_order' says natural, but its 'order' is not the class list's",
        ),
    ],
)
def test_a_bad_recorded_order_is_one_line_naming_the_file(payload, message):
    with pytest.raises(UserError, match=message):
        ordering.read_class_order(payload, ["a", "b", "c"], source="c.json")


def test_a_recorded_order_reads_back():
    payload = {"class_order": {"method": "clustered", "order": ["c", "a", "b"]}}
    order = ordering.read_class_order(payload, ["a", "b", "c"], source="c.json")
    assert order == ClassOrder("clustered", (2, 0, 1))


def test_every_steps_panel_draws_its_classes_in_the_order_and_the_title_says_so():
    counts, order = counts_and_order()
    classes = ["a", "b", "c", "d", "e"]
    history = StepHistory(
        steps=np.array([1, 2]),
        kind=FRACTION,
        train_samples=np.array([10, 20]),
        fractions=(0.5, 1.0),
        train_accuracy=np.array([0.5, 0.6]),
        validation_accuracy=np.array([0.4, 0.5]),
        train_loss=np.array([1.0, 0.9]),
        validation_loss=np.array([1.1, 1.0]),
        snapshots=(1, 2),
        confusions=np.stack([counts, counts.T]),
    )
    figure = snapshots_figure(history, classes, "logistic_regression", order=order)
    natural = snapshots_figure(history, classes, "logistic_regression")
    names = [classes[i] for i in order.positions]
    panels, plain = figure.axes[:2], natural.axes[:2]
    assert [t.get_text() for t in panels[0].get_yticklabels()] == names
    for ax, before, matrix in zip(panels, plain, history.confusions, strict=True):
        assert [t.get_text() for t in ax.get_xticklabels()] == names
        # each cell's text moves with its cell: share of the true class over its count
        shares = matrix / matrix.sum(axis=1, keepdims=True)
        expected = [
            f"{shares[r, c]:.2f}\n{matrix[r, c]}"
            for r in order.positions
            for c in order.positions
            if matrix[r, c]
        ]
        assert [t.get_text() for t in ax.texts] == expected
        assert len(before.texts) == len(expected)
    assert "classes in clustered order" in figure.texts[0].get_text()
    assert "order" not in natural.texts[0].get_text()


def test_compare_draws_the_change_in_the_new_runs_order_and_records_it(tmp_path):
    counts, classes, blocks = write_inputs(tmp_path, "clustered")
    new = read_predictions(tmp_path / "p.csv", classes)
    base = Predictions(new.sample, new.actual, new.actual.copy(), None, classes)  # all right
    (tmp_path / "base.csv").write_text(to_csv(base))
    args = ["compare", tmp_path / "p.csv", tmp_path / "base.csv"]
    args += ["--classes", tmp_path / "classes.json", "--params", tmp_path / "params.yaml"]
    assert run(main, [str(a) for a in [*args, "--out", tmp_path / "out"]]) == 0
    report = json.loads((tmp_path / "out/comparison.json").read_text())
    reference = skm.confusion_matrix(new.actual, new.predicted, labels=range(8))
    assert (reference == counts).all()
    positions = list(clustered_positions(reference))
    assert report["class_order"] == {
        "method": "clustered",
        "order": [classes[i] for i in positions],
    }
    assert all(is_contiguous(positions, block) for block in blocks)
    base_counts = skm.confusion_matrix(base.actual, base.predicted, labels=range(8))
    expected = heatmaps.confusion_delta_heatmap(
        reference,
        base_counts,
        classes,
        ref=str(tmp_path / "base.csv"),
        order=ClassOrder("clustered", tuple(positions)),
    )
    assert (tmp_path / "out/confusion_delta.png").read_bytes() == png_bytes(expected)
