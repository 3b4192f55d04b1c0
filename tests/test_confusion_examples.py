"""Confusion examples: selection on a hand-made case, the figure by its axes, the stage."""

import itertools
import json
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from matplotlib.backends.backend_agg import FigureCanvasAgg

from digitwise.errors import UserError
from digitwise.examples.selection import CellExamples, ClassExample, select_examples
from digitwise.figures.confusion_examples import confusion_examples_figure
from digitwise.predictions.reading import read_predictions
from digitwise.predictions.schema import Predictions
from stages import examples, predict, prepare, train

ROOT = Path(__file__).resolve().parents[1]
CLASSES = ("0", "1", "2", "3")

# The hand-made case, rows deliberately out of id order so that no tie is settled by
# row order. Class 3 is predicted once but never occurs; no sample of class 2 is
# classified correctly.
#        row  id  actual predicted  p0    p1    p2    p3
CASE = [
    (0, 12, 0, 1, [0.40, 0.60, 0.00, 0.00]),
    (1, 21, 0, 0, [0.90, 0.10, 0.00, 0.00]),
    (2, 10, 0, 1, [0.40, 0.60, 0.00, 0.00]),
    (3, 20, 0, 0, [0.90, 0.05, 0.05, 0.00]),
    (4, 11, 0, 1, [0.20, 0.80, 0.00, 0.00]),
    (5, 22, 0, 0, [0.70, 0.30, 0.00, 0.00]),
    (6, 30, 1, 1, [0.05, 0.95, 0.00, 0.00]),
    (7, 41, 1, 2, [0.00, 0.45, 0.55, 0.00]),
    (8, 31, 1, 1, [0.00, 0.99, 0.01, 0.00]),
    (9, 40, 1, 2, [0.00, 0.30, 0.70, 0.00]),
    (10, 42, 1, 3, [0.00, 0.25, 0.25, 0.50]),
    (11, 50, 2, 0, [0.50, 0.20, 0.30, 0.00]),
    (12, 51, 2, 3, [0.00, 0.00, 0.40, 0.60]),
]


def case_predictions(rows=CASE) -> Predictions:
    return Predictions(
        sample=np.array([r[1] for r in rows], dtype=np.int64),
        actual=np.array([r[2] for r in rows], dtype=np.int64),
        predicted=np.array([r[3] for r in rows], dtype=np.int64),
        proba=np.array([r[4] for r in rows], dtype=np.float64),
        classes=CLASSES,
    )


def correct(row, sample, proba):
    return ClassExample(kind="correct", row=row, sample=sample, proba=proba)


def any_(row, sample, proba):
    return ClassExample(kind="any", row=row, sample=sample, proba=proba)


NONE = ClassExample(kind="none")
# Class examples, worked out by hand from CASE:
# 0: correct ids 20, 21 (p0 0.9 each) and 22 (0.7): the tie goes to the smaller id, 20 (row 3).
# 1: correct ids 30 (p1 0.95) and 31 (0.99): the more confident, 31 (row 8).
# 2: none correct; its samples 50 (p2 0.3) and 51 (p2 0.4): any, 51 (row 12).
# 3: no samples at all: none.
ZERO, ONE, TWO = correct(3, 20, 0.9), correct(8, 31, 0.99), any_(12, 51, 0.4)

# Off-diagonal counts: (0,1)=3, (1,2)=2, then three 1s ranked by true, then predicted,
# index: (1,3), (2,0), (2,3). By predicted index first it would be (2,0), (1,3), (2,3).
# Cell (0,1): ids 11 (p1 0.8), then 10 and 12 (0.6 each; 10 first by id).
EXPECTED_PER_CELL_2 = [
    CellExamples(0, 1, 3, (4, 2), (11, 10), (0.8, 0.6), ZERO, ONE),
    CellExamples(1, 2, 2, (9, 7), (40, 41), (0.7, 0.55), ONE, TWO),
    CellExamples(1, 3, 1, (10,), (42,), (0.5,), ONE, NONE),
    CellExamples(2, 0, 1, (11,), (50,), (0.5,), TWO, ZERO),
    CellExamples(2, 3, 1, (12,), (51,), (0.6,), TWO, NONE),
]


def test_selection_of_the_hand_made_case():
    # cells=10 is more than the 5 nonzero off-diagonal cells: all 5, no padding.
    assert select_examples(case_predictions(), cells=10, per_cell=2) == EXPECTED_PER_CELL_2


def test_per_cell_limits_the_mistakes_shown_but_not_the_count():
    first = select_examples(case_predictions(), cells=1, per_cell=1)
    assert [(c.true, c.predicted, c.count, c.samples) for c in first] == [(0, 1, 3, (11,))]
    everything = select_examples(case_predictions(), cells=1, per_cell=20)
    assert everything[0].samples == (11, 10, 12)
    assert everything[0].rows == (4, 2, 0)
    assert everything[0].proba == (0.8, 0.6, 0.6)


def test_cells_limits_the_rows_in_rank_order():
    two = select_examples(case_predictions(), cells=2, per_cell=2)
    assert two == EXPECTED_PER_CELL_2[:2]


def test_ties_never_depend_on_the_order_of_the_rows():
    def by_sample(selected):
        return [
            (
                c.true,
                c.predicted,
                c.count,
                c.samples,
                c.true_example.sample,
                c.predicted_example.sample,
            )
            for c in selected
        ]

    forward = select_examples(case_predictions(), cells=10, per_cell=3)
    backward = select_examples(case_predictions(CASE[::-1]), cells=10, per_cell=3)
    assert by_sample(backward) == by_sample(forward)


def test_no_mistakes_select_nothing():
    one_hot = [(r, i, a, a, [float(k == a) for k in range(4)]) for r, i, a, _, _ in CASE]
    assert select_examples(case_predictions(one_hot), cells=5, per_cell=4) == []


# --- the figure ---------------------------------------------------------------------


def case_images() -> np.ndarray:
    """(13, 8, 8): image r is filled with r, so a panel shows which row it draws."""
    return np.repeat(np.arange(len(CASE), dtype=np.uint8), 64).reshape(len(CASE), 8, 8)


def drawn_row(ax) -> int:
    (image,) = ax.images
    values = np.unique(image.get_array())
    assert len(values) == 1
    return int(values[0])


def no_overlaps(figure, texts) -> bool:
    renderer = FigureCanvasAgg(figure).get_renderer()
    boxes = [t.get_window_extent(renderer) for t in texts if t.get_text()]
    return not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def test_figure_has_one_row_per_cell_with_titles_images_and_a_none_panel():
    figure = confusion_examples_figure(
        EXPECTED_PER_CELL_2, case_images(), CLASSES, pixel_max=16, per_cell=2
    )
    # per cell: its mistakes between the two class examples, no empty slot
    shown = [len(cell.rows) for cell in EXPECTED_PER_CELL_2]
    assert shown == [2, 2, 1, 1, 1]
    assert len(figure.axes) == sum(n + 2 for n in shown)
    starts = np.cumsum([0, *(n + 2 for n in shown)])
    axes = [figure.axes[a:b] for a, b in itertools.pairwise(starts)]
    row_titles = [t for t in figure.texts if t.get_text().startswith("true ")]
    assert [t.get_text() for t in row_titles] == [
        "true 0 → predicted 1: 3 samples, 2 shown",
        "true 1 → predicted 2: 2 samples",
        "true 1 → predicted 3: 1 sample",
        "true 2 → predicted 0: 1 sample",
        "true 2 → predicted 3: 1 sample",
    ]
    heights = [t.get_position()[1] for t in row_titles]
    assert heights == sorted(heights, reverse=True)  # top to bottom in rank order

    titles = [[ax.get_title() for ax in row] for row in axes]
    assert titles[0] == [
        "correct 0\nid 20, p(0) = 0.90",
        "p(1) = 0.80\nid 11",
        "p(1) = 0.60\nid 10",
        "correct 1\nid 31, p(1) = 0.99",
    ]
    assert titles[1][3] == "any 2 (none correct)\nid 51, p(2) = 0.40"
    assert titles[3][0] == "any 2 (none correct)\nid 51, p(2) = 0.40"
    assert [drawn_row(ax) for ax in axes[0]] == [3, 4, 2, 8]
    assert [drawn_row(ax) for ax in axes[3][:2]] == [12, 11]

    # One mistake in cell (1, 3): the example of class 3 right after it, in the third
    # column, as wide apart as in a full row; class 3 has no sample at all.
    assert axes[2][2].get_position().x0 == pytest.approx(axes[0][2].get_position().x0)
    assert [ax.get_title() for ax in axes[2]] == [
        "correct 1\nid 31, p(1) = 0.99",
        "p(3) = 0.50\nid 42",
        "none",
    ]
    for none_panel in (axes[2][2], axes[4][2]):
        assert not none_panel.images
        assert none_panel.get_title() == "none"
        assert [t.get_text() for t in none_panel.texts] == ["no 3 in the\nheld-out split"]
    assert all(ax.axison for ax in figure.axes)
    # mistakes framed red, correct class examples green, the "any" example red
    red, green = (0.839, 0.153, 0.157), (0.173, 0.627, 0.173)

    def frame(ax):
        return ax.spines["left"].get_edgecolor()[:3]

    assert [frame(ax) for ax in axes[0]] == [
        pytest.approx(c, abs=1e-3) for c in (green, red, red, green)
    ]
    assert frame(axes[3][0]) == pytest.approx(red, abs=1e-3)  # any 2 (none correct)

    texts = [*figure.texts, *(ax.title for ax in figure.axes)]  # row titles, suptitle
    assert no_overlaps(figure, texts)


def test_figure_size_follows_cells_and_per_cell_not_the_classes():
    def size(cells, per_cell, classes=CLASSES, selected=EXPECTED_PER_CELL_2):
        figure = confusion_examples_figure(
            selected[:cells], case_images(), classes, pixel_max=16, per_cell=per_cell
        )
        return tuple(figure.get_size_inches())

    many_classes = (*CLASSES, *(str(k) for k in range(4, 28)))
    assert size(5, 2) == size(5, 2, many_classes)
    assert size(1, 2) < size(5, 2)  # heights, then widths: tuples compare by width first
    # as wide as the longest row: 2 mistakes at most here, whatever per_cell allows
    assert size(5, 2) == size(5, 6)
    assert size(5, 1)[0] < size(5, 2)[0]
    singles = EXPECTED_PER_CELL_2[2:]  # one mistake each: three panels
    assert size(3, 6, selected=singles)[0] < size(3, 6)[0]


def test_every_text_fits_in_the_narrowest_figure():
    figure = confusion_examples_figure(
        EXPECTED_PER_CELL_2, case_images(), CLASSES, pixel_max=16, per_cell=1
    )
    renderer = FigureCanvasAgg(figure).get_renderer()
    inside = figure.bbox
    for text in [*figure.texts, *(ax.title for ax in figure.axes)]:
        box = text.get_window_extent(renderer)
        assert inside.x0 <= box.x0 and box.x1 <= inside.x1, text.get_text()
        assert inside.y0 <= box.y0 and box.y1 <= inside.y1, text.get_text()


def test_without_confusions_the_figure_says_so():
    figure = confusion_examples_figure([], case_images(), CLASSES, pixel_max=16, per_cell=4)
    (ax,) = figure.axes
    assert [t.get_text() for t in ax.texts] == [
        "No confusions: every held-out sample is classified correctly"
    ]


# --- the stage on the real digits -----------------------------------------------------


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """prepare, train and predict with the shipped params.yaml."""
    root = tmp_path_factory.mktemp("examples")
    params = str(ROOT / "params.yaml")
    data, model = str(root / "prepared"), str(root / "model.skops")
    prepare.main(["--params", params, "--out", data])
    train.main(["--params", params, "--data", data, "--model", model])
    predict.main(["--data", data, "--model", model, "--out", str(root / "predictions.csv")])
    return root


def stage_args(prepared: Path, predictions: Path, out: Path) -> list[str]:
    return [
        "--params",
        str(ROOT / "params.yaml"),
        "--data",
        str(prepared / "prepared"),
        "--predictions",
        str(predictions),
        "--examples",
        str(out / "confusion_examples.json"),
        "--examples-plot",
        str(out / "figures" / "confusion_examples.png"),
        "--label-issues",
        str(out / "label_issues.json"),
    ]


def files_under(directory: Path) -> set[str]:
    return {str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file()}


def png_size(data: bytes) -> tuple[int, int]:
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", data[16:24])


def test_stage_writes_exactly_its_three_files_reproducibly(prepared, tmp_path):
    examples.main(stage_args(prepared, prepared / "predictions.csv", tmp_path / "a"))
    examples.main(stage_args(prepared, prepared / "predictions.csv", tmp_path / "b"))
    written = {"confusion_examples.json", "figures/confusion_examples.png", "label_issues.json"}
    assert files_under(tmp_path / "a") == files_under(tmp_path / "b") == written
    for name in written:
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes()

    # params.yaml: cells 5, per_cell 4 -> 5 rows of at most 6 panels of 1.4 in, at 100
    # dpi, as wide as the longest row; the saved image is cropped to what is drawn plus a
    # margin (0.2 in between panels, 0.3 in either side)
    report = json.loads((tmp_path / "a" / "confusion_examples.json").read_text())
    panels = max(len(cell["shown"]) for cell in report["confusions"]) + 2
    png = (tmp_path / "a" / "figures" / "confusion_examples.png").read_bytes()
    width, height = png_size(png)
    assert panels * 140 <= width <= panels * 160 + 40 and 5 * 140 <= height <= 1170
    issues = json.loads((tmp_path / "a" / "label_issues.json").read_text())
    assert issues["n_samples"] == 450  # the held-out split
    assert issues["n_candidates"] == len(issues["candidates"])  # fewer than the limit, 100
    assert all(
        "possible_label_error" in shown for c in report["confusions"] for shown in c["shown"]
    )
    classes = tuple(str(d) for d in range(10))
    got = read_predictions(prepared / "predictions.csv", classes)
    by_id = {int(s): i for i, s in enumerate(got.sample)}
    assert (report["cells"], report["per_cell"]) == (5, 4)
    assert len(report["confusions"]) == 5
    counts = [c["count"] for c in report["confusions"]]
    assert counts == sorted(counts, reverse=True)
    for cell in report["confusions"]:
        true, pred = classes.index(cell["actual"]), classes.index(cell["predicted"])
        assert cell["count"] == int(np.sum((got.actual == true) & (got.predicted == pred)))
        assert len(cell["shown"]) == min(cell["count"], 4)
        probas = [s["proba_predicted"] for s in cell["shown"]]
        assert probas == sorted(probas, reverse=True)
        for shown in cell["shown"]:
            row = by_id[shown["sample"]]
            assert (got.actual[row], got.predicted[row]) == (true, pred)
            assert shown["proba_predicted"] == got.proba[row, pred]
        for key, cls in (("actual_example", true), ("predicted_example", pred)):
            # every digit has correctly classified held-out samples
            example = cell[key]
            row = by_id[example["sample"]]
            assert example["correct"] is True
            assert got.actual[row] == got.predicted[row] == cls


def test_a_sample_not_held_out_is_refused_and_nothing_written(prepared, tmp_path):
    train_id = int(np.load(prepared / "prepared" / "train_ids.npy")[0])
    lines = (prepared / "predictions.csv").read_text().splitlines()
    first = lines[1].split(",")
    bad = tmp_path / "predictions.csv"
    bad.write_text("\n".join([lines[0], ",".join([str(train_id), *first[1:]]), *lines[2:]]) + "\n")
    with pytest.raises(
        UserError, match=rf"sample id {train_id} is not in the held-out split \(.*test_ids\.npy\)"
    ):
        examples.main(stage_args(prepared, bad, tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_a_label_differing_from_the_held_out_one_is_refused(prepared, tmp_path):
    lines = (prepared / "predictions.csv").read_text().splitlines()
    sample, actual, *rest = lines[1].split(",")
    other = str((int(actual) + 1) % 10)
    bad = tmp_path / "predictions.csv"
    bad.write_text("\n".join([lines[0], ",".join([sample, other, *rest]), *lines[2:]]) + "\n")
    with pytest.raises(UserError, match=rf"sample {sample} has actual '{other}' but its held-out"):
        examples.main(stage_args(prepared, bad, tmp_path / "out"))
    assert not (tmp_path / "out").exists()


def test_other_classes_are_one_line_exit_2_and_nothing_written(prepared, tmp_path):
    text = (prepared / "predictions.csv").read_text()
    bad = tmp_path / "predictions.csv"
    bad.write_text(text.replace("proba_9", "proba_nine", 1))
    result = subprocess.run(
        [sys.executable, "-m", "stages.examples", *stage_args(prepared, bad, tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"error: {bad}: its classes (0, 1, 2, 3, 4, 5, 6, 7, 8, nine) differ from those in "
        f"{prepared / 'prepared' / 'classes.json'} (0, 1, 2, 3, 4, 5, 6, 7, 8, 9)\n"
    )
    assert not (tmp_path / "out").exists()


def test_28x28_images_are_drawn_pixel_for_pixel_at_the_same_figure_size():
    small = case_images()
    large = np.kron(small, np.ones((1, 4, 4), dtype=small.dtype))[:, :28, :28] * 15
    assert large.shape[1:] == (28, 28)

    def draw(images, pixel_max):
        return confusion_examples_figure(
            EXPECTED_PER_CELL_2, images, CLASSES, pixel_max=pixel_max, per_cell=2
        )

    figure = draw(large, 255)
    drawn = [ax.images[0] for ax in figure.axes if ax.images]
    assert drawn and all(image.get_array().shape == (28, 28) for image in drawn)
    assert all(image.get_interpolation() == "nearest" for image in drawn)
    # the panels are fixed in inches: the image size does not change the figure
    assert tuple(figure.get_size_inches()) == tuple(draw(small, 16).get_size_inches())
