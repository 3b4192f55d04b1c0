"""Plant label errors in the held-out split and see confident learning find them.

Flips 5% of the held-out labels of this pipeline's predictions (seeded, each to another
class at random), runs the examples stage's confident learning on the model's unchanged
probabilities, prints the precision and recall of the flagged set, and draws the
confusion-examples figure of the flipped labels (the README's example of the mark):

    python benchmarks/planted_label_errors.py [--share 0.05] [--seed 0]
        [--figure docs/figures/planted_label_errors.png]

Run after ``dvc repro`` (it reads data/prepared and data/predictions.csv).
"""

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from digitwise import params  # noqa: E402
from digitwise.data import datasets  # noqa: E402
from digitwise.examples.label_issues import label_issues_of, mark_cells  # noqa: E402
from digitwise.examples.selection import select_examples  # noqa: E402
from digitwise.figures.confusion_examples import confusion_examples_figure  # noqa: E402
from digitwise.io.outputs import png_bytes, write_all  # noqa: E402
from digitwise.predictions.reading import read_predictions  # noqa: E402
from digitwise.predictions.schema import rows_in_split  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--share", type=float, default=0.05)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--figure", default=str(ROOT / "docs/figures/planted_label_errors.png"))
    args = parser.parse_args()

    held_out = datasets.load_split(ROOT / "data/prepared", "test")
    predictions = read_predictions(ROOT / "data/predictions.csv", held_out.classes)
    rows = rows_in_split(
        predictions, held_out.ids, held_out.labels, source="predictions", split="test"
    )
    rng = np.random.default_rng(args.seed)
    n, k = len(predictions.actual), len(predictions.classes)
    flipped = np.zeros(n, dtype=bool)
    flipped[rng.choice(n, round(args.share * n), replace=False)] = True
    given = predictions.actual.copy()
    given[flipped] = (given[flipped] + rng.integers(1, k, flipped.sum())) % k
    planted = dataclasses.replace(predictions, actual=given)

    issues = label_issues_of(planted)
    flagged = np.zeros(n, dtype=bool)
    flagged[issues.candidates] = True
    hits = int((flagged & flipped).sum())
    model_wrong = predictions.proba.argmax(axis=1) != predictions.actual
    print(
        f"{flipped.sum()} of {n} labels flipped, {flagged.sum()} flagged, {hits} of them "
        f"flips: precision {hits / max(flagged.sum(), 1):.3f}, recall "
        f"{hits / flipped.sum():.3f}; flagged but not flipped: "
        f"{int((flagged & ~flipped).sum())} ({int((flagged & ~flipped & model_wrong).sum())} "
        "of them the model's own mistakes)"
    )

    settings = params.examples_params(params.load(ROOT / "params.yaml"))
    selected = select_examples(planted, cells=settings.cells, per_cell=settings.per_cell)
    figure = confusion_examples_figure(
        mark_cells(selected, issues, planted),
        held_out.images[rows],
        held_out.classes,
        pixel_max=held_out.pixel_max,
        per_cell=settings.per_cell,
    )
    figure.suptitle(
        f"Most frequent confusions, {args.share:.0%} of the held-out labels flipped on purpose",
        fontsize=11,
        y=1 - 0.1 / figure.get_figheight(),
        va="top",
    )
    write_all({args.figure: png_bytes(figure)})
    print(f"wrote {args.figure}")


if __name__ == "__main__":
    main()
